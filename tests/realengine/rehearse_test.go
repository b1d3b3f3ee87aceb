package realengine

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/rehearse"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/internal/testkit/testhosts"
	"xgen-infra/sites"
)

// TestRehearseSites: `site rehearse` (internal/rehearse) for xgen-jeju and lotteimall (the
// closed site: its compose images reach its real Docker engine only through its bundle);
// xgen's is cmd/site's TestRehearseEndToEnd, as `make demo` runs it. The committed revision
// is deployed to the site's shape on bare test hosts, then a working tree whose stack file
// changes one compose setting: the report shows the first deploy installing every host and
// the second running only the compose project's commands, every app Available and the site
// healthy; the base checkout and the hosts are gone afterwards.
func TestRehearseSites(t *testing.T) {
	tools := engineTools(t)
	for _, tc := range []struct {
		stackFile   string
		composeHost string
		closed      bool
	}{
		{"Pulumi.xgen-jeju.yaml", "xgen-jeju-1", false},
		{"Pulumi.lotteimall.yaml", "lotteimall-1", true},
	} {
		t.Run(sitetest.StackName(tc.stackFile), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
			defer cancel()
			// The working tree's change: the compose project's wait timeout.
			config, _, err := inprocess.LoadStackFile(tc.stackFile)
			if err != nil {
				t.Fatal(err)
			}
			var site map[string]any
			if err := json.Unmarshal([]byte(config[sites.SiteKey]), &site); err != nil {
				t.Fatal(err)
			}
			site["infra"].(map[string]any)["compose"].(map[string]any)["waitTimeout"] = "7m"
			changed := filepath.Join(t.TempDir(), filepath.Base(tc.stackFile))
			if err := testhosts.WriteStackFile(tc.stackFile, changed, site); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			var out bytes.Buffer
			r, err := rehearse.Run(ctx, rehearse.Options{StackFile: changed, Base: "HEAD", ProgramDir: ".", ToolsDir: tools, Dir: dir, Out: &out})
			if err != nil {
				t.Fatalf("rehearse: %v\n%s", err, out.String())
			}
			var report bytes.Buffer
			r.Write(&report)
			t.Logf("%s", report.String())
			if !r.OK() || len(r.Deploys) != 2 || r.Unchanged || r.Closed != tc.closed {
				t.Fatalf("the rehearsal: OK %v, %d deploys, unchanged %v, closed %v:\n%s", r.OK(), len(r.Deploys), r.Unchanged, r.Closed, out.String())
			}
			base, change := r.Deploys[0], r.Deploys[1]
			for _, want := range []string{"create install-" + tc.composeHost, "create infra-up"} {
				if !slices.Contains(base.HostCommands, want) {
					t.Errorf("the base deploy ran %v, want %s among them", base.HostCommands, want)
				}
			}
			if tc.closed && !slices.Contains(base.HostCommands, "create infra-images") {
				t.Errorf("the closed site's base deploy ran %v, want infra-images (docker load of its bundle)", base.HostCommands)
			}
			if !slices.ContainsFunc(change.HostCommands, func(c string) bool { return strings.HasSuffix(c, " infra-up") }) ||
				slices.ContainsFunc(change.HostCommands, func(c string) bool { return !strings.Contains(c, " infra-") }) {
				t.Errorf("the working tree's deploy ran %v, want infra-up and only the compose project's commands", change.HostCommands)
			}
			if tc.closed && !strings.Contains(r.Backup, "the job ran once on lotteimall-1") {
				t.Errorf("lotteimall's nightly backup (its stack file has one): %q", r.Backup)
			}
			if !strings.Contains(report.String(), "site status: "+r.Site+": HEALTHY") {
				t.Errorf("the report:\n%s", report.String())
			}
			if worktrees := gitOutput(t, "worktree", "list"); strings.Contains(worktrees, dir) {
				t.Errorf("the base checkout is still a worktree:\n%s", worktrees)
			}
			if !strings.Contains(out.String(), "stopping the test hosts") {
				t.Errorf("the hosts were not stopped:\n%s", out.String())
			}
		})
	}
}

func gitOutput(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
