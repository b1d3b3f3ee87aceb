package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"xgen-infra/internal/day2"
	"xgen-infra/internal/pulumiout"
)

// fakeStack is a stack whose state is the given URNs; it records the CLI runs.
type fakeStack struct {
	name string
	urns []string
	runs [][]string
}

func (f *fakeStack) Name() string      { return f.name }
func (f *fakeStack) StackFile() string { return filepath.Join("..", "..", "Pulumi."+f.name+".yaml") }
func (f *fakeStack) SecretOutputs(context.Context) (map[string]any, error) {
	return map[string]any{}, nil
}
func (f *fakeStack) ConfigSecret(context.Context, string) (string, error) { return "", nil }
func (f *fakeStack) Preview(context.Context, bool) (*pulumiout.Preview, error) {
	return &pulumiout.Preview{}, nil
}
func (f *fakeStack) Export(context.Context) ([]byte, error) {
	var res []map[string]string
	for _, u := range f.urns {
		res = append(res, map[string]string{"urn": u})
	}
	return json.Marshal(map[string]any{"deployment": map[string]any{"resources": res}})
}
func (f *fakeStack) RunCLI(_ context.Context, out io.Writer, args ...string) error {
	f.runs = append(f.runs, args)
	_, _ = io.WriteString(out, "(pulumi ran)\n")
	return nil
}

func runSite(t *testing.T, st *fakeStack, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"--dir", "../.."}, args...), &stdout, &stderr,
		func(string, string) day2.Stack { return st })
	return code, stdout.String(), stderr.String()
}

const jeju = "urn:pulumi:xgen-jeju::xgen-infra::"

func TestLayerRuns(t *testing.T) {
	deployed := []string{jeju + "xgen:index:K3sCluster::k3s", jeju + "xgen:index:InfraCompose::infra",
		jeju + "xgen:index:XgenService::xgen-core", jeju + "xgen:index:Istio::istio"}
	cases := []struct {
		name     string
		urns     []string
		args     []string
		code     int
		says     string   // in stdout+stderr
		pulumi   []string // in the CLI's arguments, in order
		notInCLI string
	}{
		{"apps before anything", nil, []string{"up", "--layer", "apps", "--stack", "xgen-jeju"}, 1,
			"layer apps needs hosts and infra, which this stack has never deployed", nil, ""},
		{"apps", deployed, []string{"up", "--stack", "xgen-jeju", "--layer", "apps", "--", "--yes", "--diff"}, 0,
			"site xgen-jeju, layer apps: pulumi up with these targets:\n  " + jeju + "xgen:index:XgenService::*",
			[]string{"up", "--target", jeju + "xgen:index:XgenService::*", "--yes", "--diff"}, "--target-dependents"},
		{"destroy takes dependents", deployed, []string{"destroy", "--layer", "addons", "--stack", "xgen-jeju"}, 0,
			jeju + "xgen:index:Observability$**", []string{"destroy", "--target", jeju + "xgen:index:Istio::*", "--target-dependents"}, ""},
		{"unknown layer", deployed, []string{"up", "--layer", "k3s", "--stack", "xgen-jeju"}, 1,
			`unknown layer "k3s": one of hosts, infra, addons, apps, ingress`, nil, ""},
		{"which stack", deployed, []string{"status"}, 1, "--stack is required", nil, ""},
		{"no command", deployed, []string{"--stack", "xgen-jeju"}, 1, "usage: site", nil, ""},
		{"migrate-check needs the cluster", nil, []string{"migrate-check", "--stack", "xgen-jeju"}, 1, "--kubeconfig is required", nil, ""},
		{"migrate-check: a kubeconfig that is not there", nil, []string{"migrate-check", "--stack", "xgen-jeju", "--kubeconfig", "/nonexistent/kubeconfig"}, 1,
			"site migrate-check: --kubeconfig:", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &fakeStack{name: "xgen-jeju", urns: tc.urns}
			code, stdout, stderr := runSite(t, st, tc.args...)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.says) {
				t.Fatalf("exit %d, want %d; output lacks %q:\n%s%s", code, tc.code, tc.says, stdout, stderr)
			}
			if tc.pulumi == nil {
				if len(st.runs) > 0 {
					t.Errorf("pulumi ran: %v", st.runs)
				}
				return
			}
			if len(st.runs) != 1 {
				t.Fatalf("pulumi runs %v, want one", st.runs)
			}
			got := st.runs[0]
			i := 0
			for _, a := range got {
				if i < len(tc.pulumi) && a == tc.pulumi[i] {
					i++
				}
			}
			if i != len(tc.pulumi) {
				t.Errorf("pulumi %v does not have %v in order", got, tc.pulumi)
			}
			if tc.notInCLI != "" && slices.Contains(got, tc.notInCLI) {
				t.Errorf("pulumi %v has %s", got, tc.notInCLI)
			}
		})
	}
}
