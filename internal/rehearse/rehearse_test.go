package rehearse

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

func finished(op apitype.OpType, typ, name string, planning bool) apitype.EngineEvent {
	return apitype.EngineEvent{ResOutputsEvent: &apitype.ResOutputsEvent{Planning: planning, Metadata: apitype.StepEventMetadata{
		Op: op, Type: typ, URN: "urn:pulumi:xgen::xgen-infra::" + typ + "::" + name}}}
}

// TestChanges: what an update changed, without what it only looked at, what it meant to do
// (planning) and the host commands (reported apart).
func TestChanges(t *testing.T) {
	events := []apitype.EngineEvent{
		finished(apitype.OpSame, "pulumi:pulumi:Stack", "xgen-infra-xgen", false),
		finished(apitype.OpUpdate, "pulumi:pulumi:Stack", "xgen-infra-xgen", false),
		finished(apitype.OpSame, "kubernetes:apps/v1:Deployment", "xgen-frontend", false),
		finished(apitype.OpRead, "kubernetes:core/v1:Namespace", "kube-system", false),
		finished(apitype.OpRefresh, "kubernetes:core/v1:Secret", "xgen-secrets", false),
		finished(apitype.OpUpdate, "kubernetes:apps/v1:Deployment", "xgen-frontend", true),
		finished(apitype.OpUpdate, "kubernetes:apps/v1:Deployment", "xgen-core", false),
		finished(apitype.OpCreate, "command:remote:Command", "infra-up", false),
		finished(apitype.OpReplace, "kubernetes:core/v1:ConfigMap", "xgen-core", false),
	}
	want := []string{"update kubernetes:apps/v1:Deployment xgen-core", "replace kubernetes:core/v1:ConfigMap xgen-core"}
	if got := changes(events); !slices.Equal(got, want) {
		t.Errorf("changes = %v, want %v", got, want)
	}
}

// TestReadShape: what a rehearsal reproduces of each stack file, and the sites it cannot.
func TestReadShape(t *testing.T) {
	root := "../../"
	for _, tc := range []struct {
		file            string
		servers, agents []string
		gpu             []string
		compose         string
		closed          bool
		err             string
	}{
		{file: "Pulumi.xgen.yaml", servers: []string{"xgen-gpu-1"}, gpu: []string{"xgen-gpu-1"}, compose: "xgen-gpu-1"},
		{file: "Pulumi.xgen-jeju.yaml", servers: []string{"xgen-jeju-1"}, compose: "xgen-jeju-1"},
		{file: "Pulumi.lotteimall.yaml", servers: []string{"lotteimall-1"}, agents: []string{"lotteimall-2"}, compose: "lotteimall-1", closed: true},
		{file: "Pulumi.xgen-aww.yaml", err: "only an on-prem site"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			sh, err := readShape(root + tc.file)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("readShape: %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var gpu []string
			for name := range sh.gpu {
				gpu = append(gpu, name)
			}
			if !slices.Equal(sh.servers, tc.servers) || !slices.Equal(sh.agents, tc.agents) || !slices.Equal(gpu, tc.gpu) ||
				sh.composeHost != tc.compose || sh.closed != tc.closed || sh.k3sVersion == "" {
				t.Errorf("shape: servers %v agents %v gpu %v compose %q closed %v version %q", sh.servers, sh.agents, gpu, sh.composeHost, sh.closed, sh.k3sVersion)
			}
		})
	}
}

// TestReportProblems: a rehearsal passes only with every deploy done, the apps Available, the
// site healthy and, when the working tree is the base, nothing done by its deploy.
func TestReportProblems(t *testing.T) {
	ok := func() *Report {
		return &Report{Deploys: []Deploy{{What: "main (abc)", HostCommands: []string{"create install-xgen-1"}}, {What: "working tree"}},
			Healthy: true, Status: "healthy", Unchanged: true}
	}
	tests := []struct {
		name   string
		change func(r *Report)
		want   string // in a problem; "": passes
	}{
		{"converged", func(*Report) {}, ""},
		{"a change deployed", func(r *Report) {
			r.Unchanged = false
			r.Deploys[1].Changed = []string{"update kubernetes:apps/v1:Deployment xgen-core"}
		}, ""},
		{"nothing deployed", func(r *Report) { r.Deploys = nil }, "nothing was deployed"},
		{"a failed up", func(r *Report) { r.Deploys[1].Err = errors.New("exit status 255") }, "working tree: pulumi up failed"},
		{"apps not Available", func(r *Report) { r.Apps = errors.New("xgen-core: 0/1") }, "apps: xgen-core"},
		{"degraded", func(r *Report) { r.Healthy, r.Status = false, "degraded: 1 problem" }, "site status: degraded"},
		{"the backup failed", func(r *Report) { r.Backup, r.BackupErr = "failed", errors.New("pg_dump of plateerag failed") }, "the nightly backup: pg_dump"},
		{"no convergence", func(r *Report) { r.Deploys[1].HostCommands = []string{"create infra-up"} }, "does not converge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok()
			tc.change(r)
			problems := strings.Join(r.Problems(), "\n")
			if tc.want == "" && problems != "" || tc.want != "" && !strings.Contains(problems, tc.want) || r.OK() != (tc.want == "") {
				t.Errorf("problems %q, OK %v; want %q", problems, r.OK(), tc.want)
			}
		})
	}
}
