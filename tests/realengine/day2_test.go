package realengine

// Day-2 operations under the real engine on test hosts (xgen-jeju: a server and an agent,
// the compose project on the server): `site status` healthy, degraded, unreachable; layer
// runs that touch only their layer; a layer refused before its dependencies exist.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"xgen-infra/internal/day2"
	"xgen-infra/internal/engine"
	"xgen-infra/internal/layers"
	"xgen-infra/internal/pulumiout"
	"xgen-infra/internal/testkit/livetest"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/internal/testkit/testhosts"
)

func TestRealEngineDay2StatusAndLayers(t *testing.T) {
	engineTools(t)
	s := newWholeSite(t, wholeSiteSpec{stackFile: "Pulumi.xgen-jeju.yaml",
		hosts: []testhosts.Spec{{Name: "d2-1"}, {Name: "d2-2"}}, servers: []string{"d2-1"}, agents: []string{"d2-2"}})
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	st := engine.FleetStack{WS: s.ws}
	site := sitetest.SiteOf(t, s.ws.StackPath())

	// 0. A layer whose dependencies were never deployed is refused, and nothing is made.
	var out bytes.Buffer
	err := day2.RunLayer(ctx, st, day2.LayerRun{Op: "up", Layer: layers.Apps, Project: "xgen-infra", Extra: []string{"--yes"}}, &out)
	if err == nil || !strings.Contains(err.Error(), "layer apps needs hosts and infra, which this stack has never deployed") {
		t.Fatalf("apps before anything: %v\n%s", err, out.String())
	}
	if urns, _ := s.ws.Resources(ctx); len(urns) != 0 {
		t.Fatalf("a refused layer run made %v", urns)
	}

	if _, err := s.up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}

	// 1. Healthy: 0, with every part read.
	r := gather(ctx, t, st, true)
	if r.Verdict != day2.Healthy || day2.ExitCode(r.Verdict) != 0 {
		t.Errorf("a converged site: %s", r.VerdictLine())
	}
	if len(r.Hosts) != 2 || !r.Hosts[0].Reachable || r.Hosts[0].K3sActive != "active" || r.Hosts[1].K3sUnit != "k3s-agent" ||
		r.Hosts[0].K3sVersion != livetest.HostsVersion || r.Hosts[0].DiskFreeMB == 0 {
		t.Errorf("hosts: %+v", r.Hosts)
	}
	if len(r.Nodes) != 2 || len(r.Services) != len(site.Services) || r.Infra == nil || len(r.Infra.Services) < 4 ||
		r.Drift == nil || r.Drift.Changes != 0 || r.Ingress == nil {
		t.Errorf("report: nodes %v services %v infra %+v drift %+v ingress %+v", r.Nodes, r.Services, r.Infra, r.Drift, r.Ingress)
	}
	// Nothing secret in what status prints: not the SSH key, not the kubeconfig's key.
	report, _ := json.Marshal(r)
	var text bytes.Buffer
	r.Write(&text)
	outputs, err := s.ws.Outputs(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	kc, _ := outputs["kubeconfig"].(string)
	for what, secret := range map[string]string{"the SSH key": strings.Split(s.hosts.PrivateKey, "\n")[2], "the kubeconfig's key": livetest.ClientKey([]byte(kc))} {
		if secret == "" || bytes.Contains(report, []byte(secret)) || strings.Contains(text.String(), secret) {
			t.Errorf("status prints %s (or it was not found to check)", what)
		}
	}
	if r.Infra != nil && (r.Infra.BackupAgeHours != nil) != (site.Config.Infra.Compose.Backup != nil) {
		t.Errorf("backup age %v with backup %v", r.Infra.BackupAgeHours, site.Config.Infra.Compose.Backup)
	}

	// 2. A stopped service on the host and a scaled-down Deployment: 2, naming both.
	if _, err := s.hosts.Run(ctx, "d2-1", "sudo -n docker compose --project-name xgen-infra --project-directory /srv/xgen-infra "+
		"--file /srv/xgen-infra/compose.yaml --env-file /srv/xgen-infra/.env stop redis"); err != nil {
		t.Fatal(err)
	}
	cluster := s.cluster(ctx)
	ns := site.Config.Namespace
	// xgen-frontend has a fixed replica count; xgen-core autoscales (from 2).
	scaleTo := func(name string, n int32) {
		t.Helper()
		if _, err := cluster.Client.AppsV1().Deployments(ns).UpdateScale(ctx, name,
			&autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: autoscalingv1.ScaleSpec{Replicas: n}},
			metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	scaleTo("xgen-frontend", 0)
	scaleTo("xgen-core", 0)
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, "xgen-frontend", metav1.GetOptions{})
		if err == nil && d.Status.ReadyReplicas == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("xgen-frontend did not scale down")
		}
		time.Sleep(time.Second)
	}
	r = gather(ctx, t, st, true)
	line := r.VerdictLine()
	if r.Verdict != day2.Degraded || day2.ExitCode(r.Verdict) != 2 {
		t.Errorf("stopped redis, xgen-core at 0: %s", line)
	}
	for _, want := range []string{"infra redis on d2-1: exited", "service xgen-frontend: 0/3 ready, scaled to 0", "drift: ", "Deployment xgen-frontend",
		"service xgen-core: 0/2 ready, scaled to 0 (its autoscaler does not act at 0: kubectl -n xgen scale deployment xgen-core --replicas=2)"} {
		if !strings.Contains(line, want) {
			t.Errorf("the verdict does not say %q: %s", want, line)
		}
	}

	// 3. A host that does not answer: 1, naming it.
	if err := s.hosts.CutLink("d2-2"); err != nil {
		t.Fatal(err)
	}
	r = gather(ctx, t, st, false)
	if err := s.hosts.RestoreLink("d2-2"); err != nil {
		t.Fatal(err)
	}
	if r.Verdict != day2.Unreachable || day2.ExitCode(r.Verdict) != 1 || !strings.Contains(r.VerdictLine(), "host d2-2 (") {
		t.Errorf("agent's link down: %s", r.VerdictLine())
	}

	// 4. up --layer apps (with --refresh: the scaled-down frontend comes back) after a
	// change to one service: only the apps layer changes.
	s.setPath(ctx, "services.xgen-core.config.XGEN_TEST_CHANGE", "changed")
	steps := layerUp(ctx, t, s, st, layers.Apps, "--refresh")
	appsChanged := 0
	for _, c := range steps {
		if l := layers.Of(c.URN, site); l != layers.Apps {
			t.Errorf("up --layer apps changed %s %s (layer %q)", c.Op, c.URN, l)
		} else {
			appsChanged++
		}
	}
	if appsChanged == 0 {
		t.Error("up --layer apps changed nothing of the apps")
	}

	// 5. up --layer infra after a compose change: only compose commands run.
	s.setPath(ctx, "infra.compose.services.redis.maxMemory", "768mb")
	steps = layerUp(ctx, t, s, st, layers.Infra)
	ranUp := false
	for _, c := range steps {
		name := pulumiout.URNName(c.URN)
		if c.Type != "command:remote:Command" || !strings.HasPrefix(name, "infra-") {
			t.Errorf("up --layer infra changed %s %s %s", c.Op, c.Type, name)
		}
		ranUp = ranUp || name == "infra-up"
	}
	if !ranUp {
		t.Errorf("up --layer infra did not run infra-up: %v", steps)
	}

	// Both layers restored what was broken, and the operator scaled xgen-core back as the
	// status said: healthy again, with no drift left.
	scaleTo("xgen-core", 2)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		if d, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, "xgen-core", metav1.GetOptions{}); err == nil && d.Status.ReadyReplicas == 2 {
			break
		}
	}
	if r = gather(ctx, t, st, true); r.Verdict != day2.Healthy {
		t.Errorf("after the layer runs: %s", r.VerdictLine())
	}
}

// gather is `site status` on the stack; the report is logged as an operator sees it.
func gather(ctx context.Context, t *testing.T, st day2.Stack, drift bool) *day2.Report {
	t.Helper()
	start := time.Now()
	// No probe: the fake nodes run no data plane, so nothing answers on the frontend's node
	// port here (internal/day2's tests probe a real local server).
	r, err := day2.Gather(ctx, st, day2.Options{Drift: drift})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	r.Write(&b)
	t.Logf("site status (%s):\n%s", time.Since(start).Round(100*time.Millisecond), b.String())
	return r
}

// layerUp is `site up --layer l -- --yes --skip-preview [extra]` with an event log; it
// returns the steps that changed something.
func layerUp(ctx context.Context, t *testing.T, s *wholeSite, st day2.Stack, l layers.Layer, extra ...string) []engineStep {
	t.Helper()
	log := filepath.Join(t.TempDir(), "events.jsonl")
	var out bytes.Buffer
	err := day2.RunLayer(ctx, st, day2.LayerRun{Op: "up", Layer: l, Project: "xgen-infra",
		Extra: append([]string{"--yes", "--skip-preview", "--event-log", log}, extra...)}, &out)
	if err != nil {
		t.Fatalf("up --layer %s: %v\n%s", l, err, out.String())
	}
	if !strings.Contains(out.String(), "layer "+string(l)+": pulumi up with these targets:") {
		t.Errorf("up --layer %s did not show its targets:\n%s", l, out.String())
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	events, err := pulumiout.ReadEvents(data)
	if err != nil {
		t.Fatal(err)
	}
	var steps []engineStep
	for _, st := range engineSteps(events) {
		// A refresh reads; it changes nothing.
		if st.Finished && st.Op != apitype.OpSame && st.Op != apitype.OpRefresh && st.Type != "pulumi:pulumi:Stack" {
			steps = append(steps, st)
		}
	}
	t.Logf("up --layer %s changed %v", l, changed(engineSteps(events)))
	return steps
}
