package realengine

// The whole site under the real engine: every on-prem stack file, cluster + compose infra +
// add-ons + apps, deployed to bare test hosts by one real `pulumi up` with the CLI, the Go
// language host and the kubernetes and command provider plugins that `make tools` builds. What
// the host layer does is read from the engine's event log, never from our own executor.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"xgen-infra/components"
	"xgen-infra/internal/engine"
	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/pulumiout"
	"xgen-infra/internal/testkit/harness"
	"xgen-infra/internal/testkit/helmrender"
	"xgen-infra/internal/testkit/livetest"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/internal/testkit/testhosts"
	"xgen-infra/internal/testkit/testregistry"
	"xgen-infra/sites"
	"xgen-infra/stack"
)

// wholeSite is one stack file deployed whole to test hosts by the real engine.
type wholeSite struct {
	t             *testing.T
	hosts         *testhosts.Hosts
	ws            *engine.Workspace
	log           *bytes.Buffer     // every CLI command and its output
	secrets       map[string]string // config key -> value, as set with `pulumi config set --secret`
	servers       []string
	agents        []string
	composeChange [2]string
	// procs samples every process's command line on this machine (the test hosts' too)
	// while the engine runs.
	procs *processSampler
	// watch, when set, sees each event of an `up` as the engine writes it.
	watch func(apitype.EngineEvent)
	// eventLogs are the event logs of every `up` so far.
	eventLogs []string
	// observability: the site runs the observability add-on.
	observability bool
	// gpu: a test host is a GPU host (the NVIDIA device plugin runs on it).
	gpu bool
	// registry serves the site's images when the spec asks for one.
	registry *testregistry.Registry
}

// wholeSiteSpec says which test hosts a stack file runs on.
type wholeSiteSpec struct {
	stackFile       string
	hosts           []testhosts.Spec
	servers, agents []string
	// site adjusts the site object beyond pointing it at the hosts.
	site func(site map[string]any)
	// composeChange is a path under site.infra.compose and a new value for it. Default
	// waitTimeout 6m (a site that lists no services runs all four: setting one would drop the
	// others).
	composeChange [2]string
	// docker: the hosts that run a Docker engine (default the first server, where the
	// compose project runs).
	docker []string
	// registry: the site's images come from a real registry (testregistry, with
	// authentication) and the image preflight is on, as at a real site: the apps deploy by
	// digest, and a new build under the same tag changes exactly its service. Default false:
	// the preflight is off (XGEN_IMAGE_PREFLIGHT=off, sitetest.Main).
	registry bool
}

// registryServices are the services whose images the registry-backed site pulls (xgen-jeju's).
var registryServices = []string{"xgen-frontend", "xgen-backend-gateway", "xgen-core", "xgen-workflow", "xgen-documents", "xgen-mcp-station"}

// newWholeSite starts the hosts, writes the stack file an operator would have for them and
// creates its stack with every secret set through standard input (the SSH key is the hosts').
// Cleanup destroys the stack before the hosts stop.
func newWholeSite(t *testing.T, spec wholeSiteSpec) *wholeSite {
	t.Helper()
	tools := engineTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The compose host runs a real Docker engine; a closed site's images reach it only
	// through its image bundle.
	docker := spec.docker
	if docker == nil {
		docker = spec.servers[:1]
	}
	specs, closed := livetest.WithDocker(t, spec.stackFile, docker, spec.hosts)
	hosts := livetest.StartHosts(t, specs)
	cluster := hosts.ClusterConfig(testhosts.Cluster{Servers: spec.servers, Agents: spec.agents,
		Artifacts: livetest.StandInArtifacts(t, livetest.HostsVersion), Version: livetest.HostsVersion})
	_, site, _, err := testhosts.Site(spec.stackFile, cluster)
	if err != nil {
		t.Fatal(err)
	}
	if closed {
		livetest.WithImageBundle(t, spec.stackFile, site)
	}
	if spec.site != nil {
		spec.site(site)
	}
	var reg *testregistry.Registry
	var env []string
	given := map[string]string{"sshPrivateKey": hosts.PrivateKey}
	if spec.registry {
		reg = testregistry.Start(t)
		image, _ := site["image"].(map[string]any)
		if image == nil {
			image = map[string]any{}
			site["image"] = image
		}
		image["registry"], image["registryUsername"], image["registryPlainHTTP"], image["tag"] = reg.Host, reg.Username, true, "latest-amd64"
		for _, svc := range registryServices {
			reg.Push("xgen/main/"+svc, "latest-amd64", svc+" build 1")
		}
		env = append(env, stack.ImagePreflightEnv+"=") // on, for this stack's program only
		given[sites.SecretRegistryPassword] = reg.Password
	}
	stackFile := filepath.Join(t.TempDir(), filepath.Base(spec.stackFile))
	if err := testhosts.WriteStackFile(spec.stackFile, stackFile, site); err != nil {
		t.Fatal(err)
	}
	s := &wholeSite{t: t, hosts: hosts, log: &bytes.Buffer{}, servers: spec.servers, agents: spec.agents,
		composeChange: spec.composeChange, procs: startProcessSampler(), registry: reg}
	obs, _ := inprocess.Get(site, "cluster", "addons", "observability").(map[string]any)
	s.observability = obs["enabled"] == true
	s.gpu = slices.ContainsFunc(spec.hosts, func(h testhosts.Spec) bool { return h.GPU })
	if s.composeChange[0] == "" {
		s.composeChange = [2]string{"waitTimeout", "6m"}
	}
	t.Cleanup(s.procs.stop)
	s.ws, err = engine.New(ctx, engine.Options{ToolsDir: tools, ProgramDir: ".", StackFile: stackFile, Dir: t.TempDir(), Log: s.log, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.cleanup)
	if _, s.secrets, err = s.ws.SetSecrets(ctx, given); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *wholeSite) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := s.ws.Destroy(ctx); err != nil {
		s.t.Errorf("cleanup destroy: %v", err)
	}
	if s.t.Failed() {
		s.t.Logf("pulumi CLI log (last 30000 bytes):\n%s", tailBytes(s.log.Bytes(), 30000))
	}
}

// upRun is what one `pulumi up` did, from its event log.
type upRun struct {
	steps []engineStep
	// hostOps ran on the hosts (pulumiout.HostOperations).
	hostOps []string
	// eventLog is the file the engine wrote.
	eventLog string
	// failed are the engine's errors by resource name (pulumiout.Failures).
	failed map[string]string
}

// up runs `pulumi up` with an event log.
func (s *wholeSite) up(ctx context.Context, extra ...string) (upRun, error) {
	path := filepath.Join(s.t.TempDir(), "events.jsonl")
	if s.watch != nil {
		stop := pulumiout.FollowEngineEvents(path, s.watch)
		defer stop()
	}
	_, err := s.ws.Up(ctx, append([]string{"--event-log", path}, extra...)...)
	s.eventLogs = append(s.eventLogs, path)
	data, readErr := os.ReadFile(path)
	if readErr != nil {
		s.t.Fatalf("event log: %v", readErr)
	}
	events, readErr := pulumiout.ReadEvents(data)
	if readErr != nil {
		s.t.Fatal(readErr)
	}
	return upRun{steps: engineSteps(events), hostOps: pulumiout.HostOperations(events), eventLog: path, failed: pulumiout.Failures(events)}, err
}

// setPath sets one value of the site object (`pulumi config set --path site.<path>`).
func (s *wholeSite) setPath(ctx context.Context, path, value string, extra ...string) {
	s.t.Helper()
	args := append([]string{"config", "set", "--path", "site." + path, value}, extra...)
	if _, err := s.ws.Run(ctx, nil, args...); err != nil {
		s.t.Fatal(err)
	}
}

// cluster reaches the site's cluster through the stack's kubeconfig output: the one the
// program read back from the first server (a secret output).
func (s *wholeSite) cluster(ctx context.Context) *harness.Cluster {
	s.t.Helper()
	out, err := s.ws.Outputs(ctx, true)
	if err != nil {
		s.t.Fatal(err)
	}
	kc, _ := out["kubeconfig"].(string)
	c, err := harness.Attach([]byte(kc))
	if err != nil {
		s.t.Fatalf("the stack's kubeconfig output: %v", err)
	}
	return c
}

// engineStep is one resource operation the engine started or finished, in event-log order.
type engineStep struct {
	Op       apitype.OpType
	Type     string
	Name     string
	URN      string
	Finished bool // a ResOutputsEvent (done) rather than a ResourcePreEvent (started)
	Failed   bool
}

func engineSteps(events []apitype.EngineEvent) []engineStep {
	var steps []engineStep
	add := func(m apitype.StepEventMetadata, finished, failed bool) {
		steps = append(steps, engineStep{Op: m.Op, Type: m.Type, Name: pulumiout.URNName(m.URN),
			URN: m.URN, Finished: finished, Failed: failed})
	}
	for _, e := range events {
		switch {
		case e.ResourcePreEvent != nil && !e.ResourcePreEvent.Planning:
			add(e.ResourcePreEvent.Metadata, false, false)
		case e.ResOutputsEvent != nil && !e.ResOutputsEvent.Planning:
			add(e.ResOutputsEvent.Metadata, true, false)
		case e.ResOpFailedEvent != nil:
			add(e.ResOpFailedEvent.Metadata, true, true)
		}
	}
	return steps
}

// lineWith is the first line of text that contains s.
func lineWith(text, s string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// changed are the finished operations of any kind that changed something.
func changed(steps []engineStep) []string {
	var out []string
	for _, s := range steps {
		if s.Finished && s.Op != apitype.OpSame && s.Type != "pulumi:pulumi:Stack" {
			out = append(out, string(s.Op)+" "+s.Type+" "+s.Name)
		}
	}
	return out
}

// index of the first event of resource name that started (or finished) a change.
func stepIndex(steps []engineStep, name string, finished bool) int {
	for i, s := range steps {
		if s.Name == name && s.Finished == finished && s.Op != apitype.OpSame {
			return i
		}
	}
	return -1
}

// TestRealEngineWholeSite: each on-prem stack file, whole, from bare test hosts under the real
// engine with the real command provider.
func TestRealEngineWholeSite(t *testing.T) {
	engineTools(t)
	charts, err := helmrender.IstioChartsDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []wholeSiteSpec{
		{stackFile: "Pulumi.xgen-jeju.yaml", hosts: []testhosts.Spec{{Name: "jeju-1"}, {Name: "jeju-2"}},
			servers: []string{"jeju-1"}, agents: []string{"jeju-2"}, composeChange: [2]string{"services.redis.maxMemory", "768mb"}, registry: true},
		{stackFile: "Pulumi.lotteimall.yaml", hosts: []testhosts.Spec{{Name: "lotte-1"}, {Name: "lotte-2"}},
			servers: []string{"lotte-1"}, agents: []string{"lotte-2"}, site: istioFrom(charts)},
		{stackFile: "Pulumi.xgen.yaml", hosts: []testhosts.Spec{{Name: "xgen-1"}, {Name: "xgen-2"}, {Name: "xgen-gpu", GPU: true}},
			servers: []string{"xgen-1"}, agents: []string{"xgen-2", "xgen-gpu"}, site: istioFrom(charts)},
	} {
		t.Run(sitetest.StackName(spec.stackFile), func(t *testing.T) {
			// Each site has its own hosts, cluster, backend and PULUMI_HOME; much of a run is
			// waiting on hosts and the API server, so sites run side by side (-parallel).
			t.Parallel()
			wholeSiteLifecycle(t, newWholeSite(t, spec))
		})
	}
}

// istioFrom points the Istio add-on at a local charts directory (a closed network's layout):
// nothing is downloaded here.
func istioFrom(charts string) func(map[string]any) {
	return func(site map[string]any) {
		cluster := site["cluster"].(map[string]any)
		testhosts.WithIstioCharts(cluster, charts)
	}
}

func wholeSiteLifecycle(t *testing.T, s *wholeSite) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	// 1. The first preview plans only creates.
	if firstPreview(ctx, t, s.ws) == 0 {
		t.Fatal("the first preview plans nothing")
	}

	// 2. Bare hosts to apps in one `pulumi up`.
	start := time.Now()
	before := s.log.Len()
	run, err := s.up(ctx, "--debug")
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	upOutput := append([]byte(nil), s.log.Bytes()[before:]...)
	created := run.hostOps
	t.Logf("bare hosts to apps: %d resources changed, %d host operations, in %s", len(changed(run.steps)), len(created),
		time.Since(start).Round(time.Second))
	if len(created) == 0 {
		t.Fatal("up ran no host operation")
	}
	cluster := s.cluster(ctx)
	nodes := map[string]string{}
	for _, h := range append(slices.Clone(s.servers), s.agents...) {
		nodes[h] = livetest.HostsVersion
	}
	livetest.CheckNodes(ctx, t, cluster, nodes)
	checkObservabilityRuns(ctx, t, s, cluster)
	if s.gpu { // what makes the GPU allocatable, ready on the GPU node
		if err := cluster.WaitDaemonSetsReady(ctx, "kube-system", []string{components.DevicePluginName}, time.Minute); err != nil {
			t.Error(err)
		}
	}
	first := s.checkDeployedByDigest(ctx, cluster, nil)

	// 3. Converged: the engine's own no-op check, then an `up` that runs no host command.
	before = s.log.Len()
	if _, err := s.ws.Run(ctx, nil, "preview", "--expect-no-changes", "--diff", "--debug"); err != nil {
		t.Fatalf("no-op preview after up: %v", err)
	}
	noopOutput := append([]byte(nil), s.log.Bytes()[before:]...)
	again, err := s.up(ctx)
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	if ops := changed(again.steps); len(ops) > 0 {
		t.Errorf("second up changed %v", ops)
	}
	if ops := again.hostOps; len(ops) > 0 {
		t.Errorf("second up ran host operations %v", ops)
	}

	// 3b. Deploy by digest under the real engine: a new build pushed under the same tag is
	// exactly one service's update, and the up rolls it onto the new digest.
	if s.registry != nil {
		s.registry.Push("xgen/main/xgen-core", "latest-amd64", "xgen-core build 2")
		p, _, err := s.ws.Preview(ctx)
		if err != nil {
			t.Fatalf("preview after a new xgen-core build: %v", err)
		}
		var updated []string
		for _, st := range p.Changes() {
			updated = append(updated, string(st.Op)+" "+pulumiout.URNName(st.URN))
		}
		if !slices.Equal(updated, []string{"update xgen-core"}) {
			t.Errorf("a new xgen-core build under the same tag plans %v, want only xgen-core's Deployment updated", updated)
		}
		if _, err := s.up(ctx); err != nil {
			t.Fatalf("up of the new build: %v", err)
		}
		s.checkDeployedByDigest(ctx, cluster, first)
	}

	// 4. No secret anywhere the engine or the hosts show things.
	s.checkNoSecrets(ctx, map[string][]byte{"pulumi up --debug output": upOutput, "pulumi preview --debug output": noopOutput})

	// 5. One service value: its ConfigMap and Deployment only, rolled in order.
	svc := changedService(t, s.ws.StackPath())
	s.setPath(ctx, "services."+svc+".config.XGEN_TEST_CHANGE", "changed")
	p, _, err := s.ws.Preview(ctx)
	if err != nil {
		t.Fatalf("preview of the service change: %v", err)
	}
	checkBlastRadius(t, s.ws.Stack, svc, p)
	run, err = s.up(ctx)
	if err != nil {
		t.Fatalf("up of the service change: %v", err)
	}
	checkConfigRollOrder(t, run.eventLog, svc)
	if ops := run.hostOps; len(ops) > 0 {
		t.Errorf("a service change ran host operations %v", ops)
	}

	// 5b. An add-on setting a program reads from its file at start (Loki's retention): the
	// ConfigMap is replaced under its new name, Loki rolls onto it, nothing else changes.
	if s.observability {
		checkObservabilityConfigRolls(ctx, t, s, cluster)
	}

	// 6. A compose value: the project's files (if they change) and `up` on its host, nothing
	// else (no secret changed, so no .env; the project and its data stay).
	s.setPath(ctx, "infra.compose."+s.composeChange[0], s.composeChange[1])
	run, err = s.up(ctx)
	if err != nil {
		t.Fatalf("up of the compose change: %v", err)
	}
	composeOps := changed(run.steps)
	t.Logf("compose change: %v", composeOps)
	for _, c := range composeOps {
		name := c[strings.LastIndex(c, " ")+1:]
		if !strings.Contains(c, " command:remote:") || !strings.HasPrefix(name, "infra-") ||
			slices.Contains([]string{"infra-project", "infra-backup", "infra-env"}, name) {
			t.Errorf("the compose change also ran %s", c)
		}
	}
	if !slices.ContainsFunc(composeOps, func(c string) bool { return strings.HasSuffix(c, " infra-up") }) {
		t.Errorf("the compose change did not run infra-up: %v", composeOps)
	}

	// 7. A K3s version bump: servers first, one host at a time, each drained before its
	// install and uncordoned after; only host commands change.
	run = s.upgradeK3s(ctx)
	for _, c := range changed(run.steps) {
		if !strings.Contains(c, " command:") {
			t.Errorf("the K3s upgrade changed %s", c)
		}
	}
	for h := range nodes {
		nodes[h] = livetest.UpgradeVersion
	}
	livetest.CheckNodes(ctx, t, cluster, nodes)

	// 8. Destroy keeps K3s on every host and the infra's data on its host.
	if _, err := s.ws.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if urns, err := s.ws.Resources(ctx); err != nil || len(urns) != 0 {
		t.Errorf("state after destroy: %v (err %v)", urns, err)
	}
	for _, h := range append(slices.Clone(s.servers), s.agents...) {
		unit := "k3s"
		if slices.Contains(s.agents, h) {
			unit = "k3s-agent"
		}
		if out, err := s.hosts.Run(ctx, h, "sudo -n systemctl is-active "+unit); err != nil || out != "active\n" {
			t.Errorf("%s: K3s not running after a destroy that keeps it: %q %v", h, out, err)
		}
	}
	if out, err := s.hosts.Run(ctx, s.servers[0], "sudo -n ls /srv/xgen-infra/volumes"); err != nil || !strings.Contains(out, "postgres") {
		t.Errorf("the infra's data is gone after destroy: %q %v", out, err)
	}
}

// checkObservabilityRuns: on a site with the observability add-on, its Deployments are
// Available, its DaemonSets ready on every node, each of its volumes bound (by the cluster's
// local-path storage), and the stack names where Grafana is.
func checkObservabilityRuns(ctx context.Context, t *testing.T, s *wholeSite, cluster *harness.Cluster) {
	t.Helper()
	obs := observabilityOutput(ctx, t, s)
	if obs == nil {
		return
	}
	ns, _ := obs["namespace"].(string)
	if url, _ := obs["grafanaURL"].(string); !strings.HasPrefix(url, "http") {
		t.Errorf("addons.observability.grafanaURL = %q", url)
	}
	deployments, err := cluster.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(deployments.Items) == 0 {
		t.Fatalf("observability Deployments in %q: %v (%v)", ns, deployments, err)
	}
	var names []string
	for _, d := range deployments.Items {
		names = append(names, d.Name)
	}
	// The alerts' way out is among them.
	if !slices.Contains(names, "alertmanager") {
		t.Errorf("no Alertmanager among the observability Deployments %v", names)
	}
	if err := cluster.WaitAvailable(ctx, ns, names, time.Minute); err != nil {
		t.Error(err)
	}
	daemonSets, err := cluster.Client.AppsV1().DaemonSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names = nil
	for _, d := range daemonSets.Items {
		names = append(names, d.Name)
	}
	if err := cluster.WaitDaemonSetsReady(ctx, ns, names, time.Minute); err != nil {
		t.Error(err)
	}
	claims, err := cluster.Client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(claims.Items) == 0 {
		t.Fatalf("observability volumes in %q: %v (%v)", ns, claims, err)
	}
	for _, c := range claims.Items {
		if c.Status.Phase != corev1.ClaimBound {
			t.Errorf("volume %s/%s is %s", ns, c.Name, c.Status.Phase)
		}
	}
	t.Logf("observability: %d Deployments, %d DaemonSets, %d volumes; Grafana at %v",
		len(deployments.Items), len(daemonSets.Items), len(claims.Items), obs["grafanaURL"])
}

// observabilityOutput is the stack's addons.observability output (nil on a site without the
// add-on; a site with it that does not export it fails the test).
func observabilityOutput(ctx context.Context, t *testing.T, s *wholeSite) map[string]any {
	t.Helper()
	out, err := s.ws.Outputs(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	addons, _ := out["addons"].(map[string]any)
	obs, _ := addons["observability"].(map[string]any)
	if obs == nil && s.observability {
		t.Fatalf("the site has the observability add-on and the stack does not export it: %v", out)
	}
	return obs
}

// checkObservabilityConfigRolls changes Loki's retention: the only changes are Loki's
// ConfigMap (replaced: its name is its contents') and Loki's Deployment, which is Available
// on the new ConfigMap; the old one is gone and no host command ran.
func checkObservabilityConfigRolls(ctx context.Context, t *testing.T, s *wholeSite, cluster *harness.Cluster) {
	t.Helper()
	ns, _ := observabilityOutput(ctx, t, s)["namespace"].(string)
	configOf := func() string {
		d, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, "loki", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == "config" && v.ConfigMap != nil {
				return v.ConfigMap.Name
			}
		}
		t.Fatalf("loki mounts no config: %v", d.Spec.Template.Spec.Volumes)
		return ""
	}
	before := configOf()
	s.setPath(ctx, "cluster.addons.observability.logs.retention", "14d")
	run, err := s.up(ctx)
	if err != nil {
		t.Fatalf("up of Loki's retention: %v", err)
	}
	ops := changed(run.steps)
	t.Logf("Loki's retention: %v", ops)
	rolled := false
	for _, c := range ops {
		switch {
		case strings.HasSuffix(c, " kubernetes:core/v1:ConfigMap observability-loki-config"):
		case c == "update kubernetes:apps/v1:Deployment observability-loki":
			rolled = true
		default:
			t.Errorf("Loki's retention also changed %s", c)
		}
	}
	if !rolled || len(run.hostOps) > 0 {
		t.Errorf("Loki's retention: Deployment updated %v, host operations %v", rolled, run.hostOps)
	}
	after := configOf()
	if after == before {
		t.Errorf("Loki still mounts %s", before)
	}
	if _, err := cluster.Client.CoreV1().ConfigMaps(ns).Get(ctx, before, metav1.GetOptions{}); err == nil {
		t.Errorf("the replaced ConfigMap %s is still there", before)
	}
	cm, err := cluster.Client.CoreV1().ConfigMaps(ns).Get(ctx, after, metav1.GetOptions{})
	if err != nil || !strings.Contains(cm.Data["loki.yaml"], "retention_period: 14d") {
		t.Errorf("Loki's new ConfigMap %s: %v (%v)", after, cm.Data, err)
	}
	if err := cluster.WaitAvailable(ctx, ns, []string{"loki"}, time.Minute); err != nil {
		t.Error(err)
	}
}

// checkUpgradeOrder: every host's install ran after its drain finished and before its
// uncordon started, hosts one at a time in the given order (servers first).
// upgradeK3s bumps the site's K3s to livetest.UpgradeVersion (the stand-in's artifacts of
// it), runs `up` and checks that it went servers first, one host at a time, each drained,
// reinstalled and uncordoned before the next.
func (s *wholeSite) upgradeK3s(ctx context.Context) upRun {
	t := s.t
	t.Helper()
	upgrade := livetest.StandInArtifacts(t, livetest.UpgradeVersion)
	s.setPath(ctx, "cluster.k3s.version", livetest.UpgradeVersion)
	s.setPath(ctx, "cluster.k3s.artifacts", upgrade)
	run, err := s.up(ctx)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	t.Logf("K3s upgrade: %v", run.hostOps)
	checkUpgradeOrder(t, run, append(slices.Clone(s.servers), s.agents...))
	return run
}

func checkUpgradeOrder(t *testing.T, run upRun, hosts []string) {
	t.Helper()
	for _, p := range upgradeOrderProblems(run.steps, hosts) {
		t.Errorf("%s; host operations: %v", p, run.hostOps)
	}
}

// upgradeOrderProblems: every host, in order, is drained, reinstalled and uncordoned (the
// drain done before the install starts, the uncordon after the install is done), and no
// host's drain starts before the previous host's uncordon is done.
func upgradeOrderProblems(steps []engineStep, hosts []string) []string {
	var problems []string
	prevDone := -1
	for _, h := range hosts {
		drainStart, drainDone := stepIndex(steps, "drain-"+h, false), stepIndex(steps, "drain-"+h, true)
		installStart, installDone := stepIndex(steps, "install-"+h, false), stepIndex(steps, "install-"+h, true)
		uncordonStart, uncordonDone := stepIndex(steps, "uncordon-"+h, false), stepIndex(steps, "uncordon-"+h, true)
		// An upgrade without a drain or an uncordon is refused, not skipped over.
		if installStart < 0 || installDone < 0 || drainStart < 0 || drainDone < 0 || uncordonStart < 0 || uncordonDone < 0 {
			problems = append(problems, fmt.Sprintf("%s: the upgrade must drain, reinstall and uncordon it (drain %d/%d, install %d/%d, uncordon %d/%d)",
				h, drainStart, drainDone, installStart, installDone, uncordonStart, uncordonDone))
			continue
		}
		if drainDone > installStart {
			problems = append(problems, h+": install started before its drain finished")
		}
		if uncordonStart < installDone {
			problems = append(problems, h+": uncordon started before the install finished")
		}
		if drainStart < prevDone {
			problems = append(problems, h+": its upgrade started before the previous host's finished")
		}
		prevDone = uncordonDone
	}
	return problems
}

// checkNoSecrets scans the state, the given CLI outputs, the event logs, every command line
// seen on this machine during the run, and the hosts' logs for every secret value.
func (s *wholeSite) checkNoSecrets(ctx context.Context, outputs map[string][]byte) {
	t := s.t
	t.Helper()
	secrets := map[string]string{}
	for k, v := range s.secrets {
		secrets[k] = v
	}
	// The SSH key's body, the join token and the kubeconfig's client key, read back.
	secrets["sshPrivateKey"] = strings.Split(s.hosts.PrivateKey, "\n")[2]
	token, err := s.hosts.Run(ctx, s.servers[0], "sudo -n cat /var/lib/rancher/k3s/server/token")
	if err != nil {
		t.Fatal(err)
	}
	secrets["join token"] = strings.TrimSpace(token)
	out, err := s.ws.Outputs(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	kc, _ := out["kubeconfig"].(string)
	secrets["kubeconfig client key"] = livetest.ClientKey([]byte(kc))

	state, err := s.ws.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	places := map[string][]byte{"pulumi stack export": state, "process list": s.procs.text()}
	for k, v := range outputs {
		places[k] = v
	}
	for _, l := range s.eventLogs {
		data, _ := os.ReadFile(l)
		places["event log "+l] = data
	}
	for _, h := range s.hosts.Hosts {
		journal, _ := s.hosts.Run(ctx, h.Name, "sudo -n sh -c 'cat /var/log/*.log 2>/dev/null' || true")
		places["logs on "+h.Name] = []byte(journal)
	}
	for where, data := range places {
		for _, leak := range secretLeaks(secrets, data) {
			t.Errorf("%s contains %s", where, leak)
		}
	}
	checkSecretOutputs(ctx, t, s.ws, secrets)
}

// TestRealEngineWholeSiteHA: three servers and an agent (xgen-jeju's site): an agent whose
// link is down fails the first `up` naming its command, host and timeout; the rerun runs only
// what had not run; with uninstallOnDestroy and removeDataOnDestroy, destroy removes K3s from
// every host and the infra's data.
func TestRealEngineWholeSiteHA(t *testing.T) {
	engineTools(t)
	t.Parallel()
	s := newWholeSite(t, wholeSiteSpec{stackFile: "Pulumi.xgen-jeju.yaml",
		hosts:   []testhosts.Spec{{Name: "s1"}, {Name: "s2"}, {Name: "s3"}, {Name: "a1"}},
		servers: []string{"s1", "s2", "s3"}, agents: []string{"a1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	// The agent's link goes down once the last server is installed and none of the agent's
	// commands is running: the agent's install comes after the servers' (one host at a
	// time), so it is the agent's next command and it cannot connect.
	running := map[string]bool{}
	serversDone, cut := false, false
	s.watch = func(e apitype.EngineEvent) {
		if e.ResourcePreEvent != nil && !e.ResourcePreEvent.Planning {
			running[pulumiout.URNName(e.ResourcePreEvent.Metadata.URN)] = true
		}
		if e.ResOutputsEvent != nil && !e.ResOutputsEvent.Planning {
			name := pulumiout.URNName(e.ResOutputsEvent.Metadata.URN)
			delete(running, name)
			serversDone = serversDone || name == "install-s3"
		}
		if cut || !serversDone {
			return
		}
		for name := range running {
			if strings.HasSuffix(name, "-a1") {
				return
			}
		}
		if err := s.hosts.CutLink("a1"); err != nil {
			t.Error(err)
		}
		cut = true
	}
	start := time.Now()
	first, err := s.up(ctx)
	s.watch = nil
	if err == nil {
		t.Fatal("up with the agent's link cut succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "-a1") || !strings.Contains(msg, s.hosts.Host("a1").Address) || !strings.Contains(msg, "timeout") {
		t.Errorf("the failure does not name the agent's command, its address and the timeout:\n%s", msg)
	}
	t.Logf("failed after %s: %s", time.Since(start).Round(time.Second), lineWith(msg, "timeout"))
	for _, st := range first.steps {
		if st.Failed && !strings.HasSuffix(st.Name, "-a1") {
			t.Errorf("%s failed too; only a1's commands should", st.Name)
		}
	}

	if err := s.hosts.RestoreLink("a1"); err != nil {
		t.Fatal(err)
	}
	run, err := s.up(ctx)
	if err != nil {
		t.Fatalf("rerun after the link came back: %v", err)
	}
	t.Logf("the rerun ran %v", run.hostOps)
	// Only what had not run: nothing the failed `up` finished runs again.
	for _, op := range run.hostOps {
		if slices.Contains(first.hostOps, op) {
			t.Errorf("the rerun ran %s again (the failed up had finished it)", op)
		}
	}
	if !slices.Contains(run.hostOps, "create install-a1") || !slices.Contains(first.hostOps, "create install-s3") {
		t.Errorf("first up ran %v, the rerun %v: want the servers in the first, the agent's install in the rerun",
			first.hostOps, run.hostOps)
	}
	cluster := s.cluster(ctx)
	livetest.CheckNodes(ctx, t, cluster, map[string]string{"s1": livetest.HostsVersion, "s2": livetest.HostsVersion, "s3": livetest.HostsVersion, "a1": livetest.HostsVersion})
	if _, err := s.ws.Run(ctx, nil, "preview", "--expect-no-changes"); err != nil {
		t.Fatalf("no-op preview after the rerun: %v", err)
	}

	// A K3s version bump on three servers: one server at a time (embedded etcd keeps its
	// quorum with one member down), each drained, reinstalled and uncordoned before the next
	// starts, then the agent.
	s.upgradeK3s(ctx)
	livetest.CheckNodes(ctx, t, cluster, map[string]string{"s1": livetest.UpgradeVersion, "s2": livetest.UpgradeVersion, "s3": livetest.UpgradeVersion, "a1": livetest.UpgradeVersion})

	// Opting in to removal: uninstallOnDestroy and removeDataOnDestroy, then destroy.
	s.setPath(ctx, "cluster.uninstallOnDestroy", "true", "--type", "bool")
	s.setPath(ctx, "infra.compose.removeDataOnDestroy", "true", "--type", "bool")
	if _, err := s.up(ctx); err != nil {
		t.Fatalf("up with the opt-ins: %v", err)
	}
	if _, err := s.ws.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	for _, h := range []string{"s1", "s2", "s3", "a1"} {
		if out, _ := s.hosts.Run(ctx, h, "ls /usr/local/bin/k3s /var/lib/rancher/k3s 2>&1 || true"); !strings.Contains(out, "No such file") {
			t.Errorf("%s: K3s left after an uninstalling destroy: %s", h, out)
		}
	}
	if out, _ := s.hosts.Run(ctx, "s1", "ls /srv/xgen-infra 2>&1 || true"); !strings.Contains(out, "No such file") {
		t.Errorf("the infra's data survived a destroy with removeDataOnDestroy: %s", out)
	}
}

// checkDeployedByDigest checks that every registry-backed service's Deployment runs its image
// by digest (tag@sha256:...) with IfNotPresent, and returns the images by service. With
// before, exactly xgen-core's image has changed since.
func (s *wholeSite) checkDeployedByDigest(ctx context.Context, cluster *harness.Cluster, before map[string]string) map[string]string {
	s.t.Helper()
	if s.registry == nil {
		return nil
	}
	ns := sitetest.SiteOf(s.t, s.ws.StackPath()).Config.Namespace
	images := map[string]string{}
	for _, svc := range registryServices {
		d, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, svc, metav1.GetOptions{})
		if err != nil {
			s.t.Errorf("%s: %v", svc, err)
			continue
		}
		c := d.Spec.Template.Spec.Containers[0]
		images[svc] = c.Image
		if !strings.HasPrefix(c.Image, s.registry.Host+"/xgen/main/"+svc+":latest-amd64@sha256:") || c.ImagePullPolicy != "IfNotPresent" {
			s.t.Errorf("%s runs %s (%s), want its digest from the registry with IfNotPresent", svc, c.Image, c.ImagePullPolicy)
		}
		if before != nil && (images[svc] != before[svc]) != (svc == "xgen-core") {
			s.t.Errorf("after a new xgen-core build, %s runs %s (was %s)", svc, images[svc], before[svc])
		}
	}
	return images
}
