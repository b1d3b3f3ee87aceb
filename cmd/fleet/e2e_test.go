package main

// fleet end to end with the real engine (make test): xgen-jeju and lotteimall, each on its
// own local cluster given by kubeconfig (their Kubernetes layer: the host layer needs the
// command provider, which cannot be had here), driven through the same run() as the command.

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"xgen-infra/internal/engine"
	"xgen-infra/internal/fleet"
	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/harness"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/stack"
)

func TestFleetEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("real engine: not in the fast loop (make check)")
	}
	tools := os.Getenv("XGEN_TOOLS_DIR")
	if tools == "" {
		t.Skip("real engine: run through `make test` (it builds the tools and sets XGEN_TOOLS_DIR)")
	}
	tools, _ = filepath.Abs(tools)
	root, _ := filepath.Abs("../..")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	stacks := map[string]engine.FleetStack{}
	clusters := map[string]*harness.Cluster{}
	var logs bytes.Buffer
	for _, site := range []string{"xgen-jeju", "lotteimall"} {
		c, err := harness.Start(ctx, harness.Options{ToolsDir: tools, Dir: t.TempDir(), InstallIstioCRDs: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Stop() })
		clusters[site] = c
		stackFile := filepath.Join(t.TempDir(), "Pulumi."+site+".yaml")
		if err := inprocess.KubernetesLayer(filepath.Join(root, "Pulumi."+site+".yaml"), stackFile, sitetest.RehearsalHostAddress); err != nil {
			t.Fatal(err)
		}
		ws, err := engine.New(ctx, engine.Options{ToolsDir: tools, ProgramDir: root, StackFile: stackFile, Dir: t.TempDir(), Log: &logs})
		if err != nil {
			t.Fatal(err)
		}
		kubeconfig, err := c.SelfContainedKubeconfig()
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := ws.SetThrowawaySecrets(ctx, string(kubeconfig)); err != nil {
			t.Fatal(err)
		}
		stacks[site] = engine.FleetStack{WS: ws}
		t.Cleanup(func() {
			dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer dcancel()
			if _, err := ws.Destroy(dctx); err != nil {
				t.Errorf("destroy %s: %v", site, err)
			}
		})
	}
	defer func() {
		if t.Failed() {
			t.Logf("pulumi CLI log (tail):\n%s", tail(logs.String(), 15000))
		}
	}()
	fleetRun := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := run(ctx, append([]string{"--dir", root, "--stacks", "xgen-jeju,lotteimall"}, args...), &out, &out,
			func(name, _ string) fleet.Stack { return stacks[name] })
		return code, out.String()
	}
	expect := func(what string, code int, out string, wantCode int, wants ...string) {
		t.Helper()
		if code != wantCode {
			t.Fatalf("%s: exit %d, want %d:\n%s", what, code, wantCode, out)
		}
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Fatalf("%s: output lacks %q:\n%s", what, w, out)
			}
		}
	}

	code, out := fleetRun("preview")
	expect("preview of new sites", code, out, exitOK, "xgen-jeju", "lotteimall")
	for _, r := range []string{"xgen-jeju", "lotteimall"} {
		if !strings.Contains(out, "\n"+r+"  ") || strings.Contains(out, "\nDANGER ") {
			t.Fatalf("preview: %s", out)
		}
	}
	code, out = fleetRun("up", "--waves", "xgen-jeju:lotteimall")
	expect("up --waves", code, out, exitOK, "rolled: lotteimall, xgen-jeju", "not rolled: none")
	code, out = fleetRun("versions")
	expect("versions", code, out, exitOK, "xgen-core\tlatest-amd64\tlatest-amd64")
	code, out = fleetRun("status")
	expect("status of converged sites", code, out, exitOK, "SITE", "VERDICT")
	if strings.Count(out, "HEALTHY") != 2 {
		t.Fatalf("status of converged sites:\n%s", out)
	}
	code, out = fleetRun("drift")
	expect("drift on converged sites", code, out, exitOK, "no change")

	// The rollout a merge runs: fleet.yaml's waves, a held site left alone, each site gated by
	// its real `site status`.
	plan := filepath.Join(t.TempDir(), "fleet.yaml")
	writePlan := func(text string) {
		if err := os.WriteFile(plan, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writePlan("waves: [[xgen-jeju], [lotteimall], [xgen, xgen-aww]]\nhold: {lotteimall: customer change freeze}\n")
	code, out = fleetRun("rollout", "--plan", plan)
	expect("rollout with a held site", code, out, exitOK, "held: lotteimall (customer change freeze)", "rolled: xgen-jeju", "not rolled: none")

	// A hand edit on xgen-jeju's cluster is found there only: someone deletes xgen-core's
	// ConfigMap. (Its data cannot be edited: it is immutable, its name is its content. An
	// edit of a field the program sets is a server-side-apply conflict, which the preview
	// reports as an error rather than a diff.)
	cms, err := clusters["xgen-jeju"].Client.CoreV1().ConfigMaps("xgen").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=xgen-core"})
	if err != nil || len(cms.Items) != 1 {
		t.Fatalf("xgen-core's ConfigMaps: %v (err %v)", cms, err)
	}
	if err := clusters["xgen-jeju"].Client.CoreV1().ConfigMaps("xgen").Delete(ctx, cms.Items[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	code, out = fleetRun("drift")
	expect("drift after a hand edit", code, out, exitDrift, "DRIFT xgen-jeju")
	if strings.Contains(out, "DRIFT lotteimall") {
		t.Errorf("drift on the untouched site:\n%s", out)
	}

	// A namespace rename is DANGER (exit 3) until acknowledged.
	if err := stacks["lotteimall"].WS.SetPath(ctx, "site.namespace", "lotteimall-2"); err != nil {
		t.Fatal(err)
	}
	code, out = fleetRun("preview")
	expect("preview of a namespace rename", code, out, exitDanger, "DANGER lotteimall: delete kubernetes:core/v1:Namespace lotteimall")
	code, out = fleetRun("preview", "--ack-danger")
	expect("acknowledged", code, out, exitOK)
	if err := stacks["lotteimall"].WS.SetPath(ctx, "site.namespace", "lotteimall"); err != nil {
		t.Fatal(err)
	}

	// A failing site in the first wave: the second wave is not rolled.
	if err := stacks["xgen-jeju"].WS.SetPath(ctx, "site.environment", "qa"); err != nil {
		t.Fatal(err)
	}
	code, out = fleetRun("up", "--waves", "xgen-jeju:lotteimall")
	expect("a failing first wave", code, out, exitFailed, "failed: xgen-jeju", "not rolled: lotteimall")
	if err := stacks["xgen-jeju"].WS.SetPath(ctx, "site.environment", "prd"); err != nil {
		t.Fatal(err)
	}

	// Someone scales xgen-core down on lotteimall: that site is degraded (exit 2), named with
	// the service; xgen-jeju stays healthy.
	scale, err := clusters["lotteimall"].Client.AppsV1().Deployments("lotteimall").GetScale(ctx, "xgen-core", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 0
	if _, err := clusters["lotteimall"].Client.AppsV1().Deployments("lotteimall").UpdateScale(ctx, "xgen-core", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		code, out = fleetRun("status")
		if code == exitDrift || time.Now().After(deadline) {
			break
		}
	}
	expect("status with a scaled-down service", code, out, exitDrift, "DEGRADED", "service xgen-core: 0/", "scaled to 0")
	if strings.Count(out, "HEALTHY") != 1 {
		t.Errorf("status: xgen-jeju should stay healthy:\n%s", out)
	}

	// A rollout stops at a site whose up converges but which is not healthy (the scale-down
	// is not the program's field, so up leaves it): the later wave is not rolled.
	writePlan("waves: [[lotteimall], [xgen-jeju], [xgen, xgen-aww]]\nhold: {}\n")
	code, out = fleetRun("rollout", "--plan", plan)
	expect("rollout onto a degraded site", code, out, exitFailed, "failed: lotteimall (health check: site status DEGRADED", "not rolled: xgen-jeju")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestMain: the sites' registries are not reachable here, so the previews that the fleet
// runs skip the image preflight (it has its own tests against a real registry).
func TestMain(m *testing.M) {
	_ = os.Setenv(stack.ImagePreflightEnv, "off")
	os.Exit(m.Run())
}
