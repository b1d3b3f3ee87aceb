package realengine

// The real Pulumi engine (the CLI, the Go language host and the kubernetes provider plugin
// that `make tools` builds) runs the shipped program, `runtime: go` as operators run it, on
// every stack file against a local API server: preview → up → no-op preview → one config
// value changed → up → no-op → destroy. Secrets are set as the README tells operators.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"xgen-infra/internal/engine"
	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/pulumiout"
	"xgen-infra/internal/testkit/harness"
	"xgen-infra/internal/testkit/livetest"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/sites"
)

// engineTools returns the tools directory once the real engine is built there.
func engineTools(t testing.TB) string {
	t.Helper()
	dir := livetest.ToolsDir(t)
	if _, err := os.Stat(filepath.Join(dir, "bin", "pulumi")); err != nil {
		t.Fatalf("the real engine is not built (%v): `make test` builds it with `make tools`", err)
	}
	return dir
}

// engineStackFiles are the stacks that deploy to a cluster someone else runs: xgen-aww (its
// Kubernetes layer: the aws provider cannot be had here, so the EKS kubeconfig and the S3
// objects are left out, inprocess.KubernetesLayer) and the fifth test site. The on-prem sites
// run whole, from bare hosts, in TestRealEngineWholeSite.
func engineStackFiles(t testing.TB) []string {
	dir := t.TempDir()
	var out []string
	for _, f := range []string{"Pulumi.xgen-aww.yaml", filepath.Join("testdata", "Pulumi.acme-busan.yaml")} {
		dst := filepath.Join(dir, filepath.Base(f))
		if err := inprocess.KubernetesLayer(f, dst, ""); err != nil {
			t.Fatal(err)
		}
		out = append(out, dst)
	}
	return out
}

func TestRealEngineEverySite(t *testing.T) {
	tools := engineTools(t)
	for _, stackFile := range engineStackFiles(t) {
		t.Run(sitetest.StackName(stackFile), func(t *testing.T) {
			// Each stack has its own cluster, backend and PULUMI_HOME; much of a run is
			// waiting on the API server, so two at a time (-parallel, default GOMAXPROCS)
			// shortens make test without sharing anything.
			t.Parallel()
			realEngineLifecycle(t, tools, stackFile)
		})
	}
}

// deployedStack is a stack brought up by the real engine on its own local cluster.
type deployedStack struct {
	ws      *engine.Workspace
	cluster *harness.Cluster
	secrets map[string]string // config key -> value
	log     *bytes.Buffer     // every CLI command and its output
	created int               // resources the first preview planned to create
}

// deployStack starts a cluster, creates the stack, sets its secrets and runs preview and up.
// Cleanup destroys the stack (or, if that fails, deletes its namespaces) before the cluster stops.
func deployStack(t testing.TB, tools, stackFile string, upFlags ...string) *deployedStack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := livetest.StartOwnersCluster(t)
	d := &deployedStack{cluster: c, log: &bytes.Buffer{}}
	ws, err := engine.New(ctx, engine.Options{
		ToolsDir: tools, ProgramDir: ".", StackFile: stackFile, Dir: t.TempDir(), Log: d.log,
	})
	if err != nil {
		t.Fatal(err)
	}
	d.ws = ws
	t.Cleanup(func() { d.cleanup(t) })

	kubeconfig, err := c.SelfContainedKubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	if _, d.secrets, err = ws.SetThrowawaySecrets(ctx, string(kubeconfig)); err != nil {
		t.Fatal(err)
	}

	d.created = firstPreview(ctx, t, ws)
	if d.created == 0 {
		t.Fatal("the first preview plans nothing")
	}
	if _, err := ws.Up(ctx, upFlags...); err != nil {
		t.Fatalf("up: %v", err)
	}
	return d
}

// firstPreview previews a new stack: no error, only creates; it returns how many.
func firstPreview(ctx context.Context, t testing.TB, ws *engine.Workspace) int {
	t.Helper()
	p, _, err := ws.Preview(ctx)
	if err != nil {
		t.Fatalf("first preview: %v", err)
	}
	if errs := p.Errors(); len(errs) > 0 {
		t.Fatalf("first preview reported errors: %v", errs)
	}
	for _, s := range p.Changes() {
		if s.Op != apitype.OpCreate {
			t.Errorf("first preview: %s %s, want only creates", s.Op, s.URN)
		}
	}
	return p.ChangeSummary[apitype.OpCreate]
}

// cleanup destroys the stack; if the destroy fails, it deletes the site's namespaces directly
// so that nothing is left for the next test (a failed up leaves objects behind).
func (d *deployedStack) cleanup(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := d.ws.Destroy(ctx); err != nil {
		t.Errorf("cleanup destroy: %v", err)
		nss, _ := d.cluster.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=xgen"})
		for _, ns := range nss.Items {
			_ = d.cluster.Client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
		}
	}
	if t.Failed() {
		t.Logf("pulumi CLI log (last 20000 bytes):\n%s", tailBytes(d.log.Bytes(), 20000))
	}
}

func tailBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func realEngineLifecycle(t *testing.T, tools, stackFile string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	eventLog := filepath.Join(t.TempDir(), "up-events.jsonl")
	d := deployStack(t, tools, stackFile, "--debug", "--event-log", eventLog)
	ws := d.ws
	upOutput := append([]byte(nil), d.log.Bytes()...)

	// The state holds exactly what the first preview planned (the stack included).
	urns, err := ws.Resources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(urns) != d.created {
		t.Errorf("state has %d resources after up, the preview planned %d creates", len(urns), d.created)
	}

	// A converged site previews with no changes: the engine's own check.
	before := d.log.Len()
	if _, err := ws.Run(ctx, nil, "preview", "--expect-no-changes", "--diff", "--debug"); err != nil {
		t.Fatalf("no-op preview after up: %v", err)
	}
	noopOutput := d.log.Bytes()[before:]

	// Secrets: nowhere in the state, the --debug output of up and preview, or the event log.
	state, err := ws.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	events, err := os.ReadFile(eventLog)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pulumiout.ReadEvents(events); err != nil {
		t.Fatal(err)
	}
	for where, data := range map[string][]byte{
		"pulumi stack export": state, "pulumi up --debug output": upOutput,
		"pulumi preview --debug output": noopOutput, "event log": events,
	} {
		for _, leak := range secretLeaks(d.secrets, data) {
			t.Errorf("%s contains %s", where, leak)
		}
	}
	checkSecretOutputs(ctx, t, ws, d.secrets)

	// Blast radius: one config value of one service changes that service's objects only.
	svc := changedService(t, ws.StackPath())
	if err := ws.SetPath(ctx, "site.services."+svc+".config.XGEN_TEST_CHANGE", "changed"); err != nil {
		t.Fatal(err)
	}
	p, _, err := ws.Preview(ctx)
	if err != nil {
		t.Fatalf("preview of the change: %v", err)
	}
	checkBlastRadius(t, ws.Stack, svc, p)
	changeLog := filepath.Join(t.TempDir(), "change-events.jsonl")
	if _, err := ws.Up(ctx, "--event-log", changeLog); err != nil {
		t.Fatalf("up of the change: %v", err)
	}
	checkConfigRollOrder(t, changeLog, svc)
	if _, err := ws.Run(ctx, nil, "preview", "--expect-no-changes"); err != nil {
		t.Fatalf("no-op preview after the change: %v", err)
	}

	// Destroy leaves nothing: no resource in the state, no namespace of the site.
	if _, err := ws.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if urns, err := ws.Resources(ctx); err != nil || len(urns) != 0 {
		t.Errorf("state after destroy: %v (err %v)", urns, err)
	}
	for _, ns := range resourceNames(t, stackFile, "kubernetes:core/v1:Namespace") {
		if err := waitNamespaceGone(ctx, d.cluster, ns); err != nil {
			t.Error(err)
		}
	}
}

// changedService picks the service whose config the test changes: the first the site runs.
func changedService(t *testing.T, stackFile string) string {
	names := resourceNames(t, stackFile, "xgen:index:XgenService")
	if len(names) == 0 {
		t.Fatal("the site runs no service")
	}
	sort.Strings(names)
	return names[0]
}

// resourceNames are the names of the resources of one type that the program registers for a
// stack file (mock engine).
func resourceNames(t *testing.T, stackFile, typ string) []string {
	rec, err := sitetest.RunStack(stackFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rec.Resources {
		if r.Type == typ {
			names = append(names, r.Name)
		}
	}
	return names
}

// checkBlastRadius: every planned change belongs to the changed service's component (in
// each environment that runs it: a site-level setting is every environment's), and its
// ConfigMap and Deployment are among them (the pods roll).
func checkBlastRadius(t *testing.T, stack, svc string, p *pulumiout.Preview) {
	t.Helper()
	prefix := fmt.Sprintf("urn:pulumi:%s::%s::", stack, sites.ConfigNamespace)
	component := regexp.MustCompile("^" + regexp.QuoteMeta(prefix) + `(xgen:environment:[a-z]+\$)?xgen:index:XgenService::` + regexp.QuoteMeta(svc) + "$")
	kinds := map[string]bool{}
	for _, s := range p.Changes() {
		if !component.MatchString(s.Parent()) {
			t.Errorf("changing %s's config also plans %s %s (parent %s)", svc, s.Op, s.URN, s.Parent())
			continue
		}
		if s.NewState != nil {
			kinds[s.NewState.Type] = true
		}
	}
	for _, want := range []string{"kubernetes:core/v1:ConfigMap", "kubernetes:apps/v1:Deployment"} {
		if !kinds[want] {
			t.Errorf("changing %s's config does not change its %s; planned: %s", svc, want, pulumiout.Summary(p.ChangeSummary))
		}
	}
}

// checkConfigRollOrder: the engine finished the steps of a config change in the order that
// leaves no gap: the new ConfigMap (create-replacement), then the Deployment rolled onto it
// (update), and only then the old ConfigMap deleted (delete-replaced). With the fixed name of
// before, the engine had to delete the ConfigMap first and pods starting in between failed.
func checkConfigRollOrder(t *testing.T, eventLog, svc string) {
	t.Helper()
	data, err := os.ReadFile(eventLog)
	if err != nil {
		t.Fatal(err)
	}
	events, err := pulumiout.ReadEvents(data)
	if err != nil {
		t.Fatal(err)
	}
	// Each environment's steps in their order (the one before "xgen:index:XgenService" in
	// the URN's type chain: "" for the stack's own, "xgen:environment:prd$" beside it).
	order := map[string][]string{}
	for _, e := range events {
		if e.ResOutputsEvent == nil || e.ResOutputsEvent.Planning {
			continue
		}
		m := e.ResOutputsEvent.Metadata
		if strings.HasSuffix(m.URN, "::"+svc) && (m.Type == "kubernetes:core/v1:ConfigMap" || m.Type == "kubernetes:apps/v1:Deployment") && m.Op != apitype.OpSame {
			env, _, _ := strings.Cut(strings.SplitN(m.URN, "::", 4)[2], "xgen:index:XgenService")
			order[env] = append(order[env], string(m.Op)+" "+strings.TrimPrefix(m.Type, "kubernetes:"))
		}
	}
	// "replace" is the engine's marker that the replacement took the old one's place.
	want := []string{"create-replacement core/v1:ConfigMap", "replace core/v1:ConfigMap", "update apps/v1:Deployment", "delete-replaced core/v1:ConfigMap"}
	if len(order) == 0 {
		t.Errorf("config change of %s ran nothing of it", svc)
	}
	for env, steps := range order {
		if !reflect.DeepEqual(steps, want) {
			t.Errorf("config change of %s (%q) ran %v, want %v", svc, env, steps, want)
		}
	}
}

// secretLeaks lists the secrets whose value appears in data, plain or base64-encoded (as in
// a Secret's data); for a kubeconfig, its client key.
func secretLeaks(secrets map[string]string, data []byte) []string {
	var leaks []string
	for key, value := range secrets {
		needles := map[string]string{"value": value, "base64": base64.StdEncoding.EncodeToString([]byte(value))}
		if key == "kubeconfig" {
			needles = map[string]string{"client key": kubeconfigClientKey(value)}
		}
		for form, needle := range needles {
			if needle != "" && bytes.Contains(data, []byte(needle)) {
				leaks = append(leaks, fmt.Sprintf("secret %s (%s)", key, form))
			}
		}
	}
	sort.Strings(leaks)
	return leaks
}

func kubeconfigClientKey(kubeconfig string) string {
	var cfg struct {
		Users []struct {
			User map[string]any `json:"user"`
		} `json:"users"`
	}
	if yaml.Unmarshal([]byte(kubeconfig), &cfg) != nil || len(cfg.Users) == 0 {
		return ""
	}
	key, _ := cfg.Users[0].User["client-key-data"].(string)
	return key
}

// checkSecretOutputs: no stack output shows a secret value unless asked to, and every output
// that carries one shows as [secret].
func checkSecretOutputs(ctx context.Context, t *testing.T, ws *engine.Workspace, secrets map[string]string) {
	t.Helper()
	plain, err := ws.Outputs(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	shown, err := ws.Outputs(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) == 0 {
		t.Fatal("the stack has no outputs")
	}
	for name, v := range shown {
		js, _ := yaml.Marshal(v)
		if leaks := secretLeaks(secrets, js); len(leaks) > 0 && plain[name] != "[secret]" {
			t.Errorf("output %s carries %v but shows as %v", name, leaks, plain[name])
		}
	}
	js, _ := yaml.Marshal(plain)
	for _, leak := range secretLeaks(secrets, js) {
		t.Errorf("pulumi stack output shows %s", leak)
	}
}

func waitNamespaceGone(ctx context.Context, c *harness.Cluster, name string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := c.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s still exists 2 minutes after destroy (err %v)", name, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestRealEngineRefusesBadConfig: the program's validation under the real engine: a missing
// secret, a misspelt key and a bad add-on value each fail the preview with the key named,
// and nothing is created.
func TestRealEngineRefusesBadConfig(t *testing.T) {
	tools := engineTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ws, err := engine.New(ctx, engine.Options{ToolsDir: tools, ProgramDir: ".", StackFile: "Pulumi.xgen-jeju.yaml", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// No secrets set: the program names each missing one with the command that sets it.
	_, res, err := ws.Preview(ctx)
	if err == nil {
		t.Fatal("preview without secrets succeeded")
	}
	out := string(res.Stdout) + string(res.Stderr)
	for _, want := range []string{"xgen-infra:postgresPassword", "pulumi config set --secret postgresPassword --stack xgen-jeju"} {
		if !strings.Contains(out, want) {
			t.Errorf("preview output lacks %q:\n%s", want, out)
		}
	}
	if urns, err := ws.Resources(ctx); err != nil || len(urns) != 0 {
		t.Errorf("a failed preview left resources: %v (err %v)", urns, err)
	}

	// With the secrets set, a project key the program does not read is refused by name: the
	// language host hands the program the whole config, so nothing set is silently ignored.
	keys, err := engine.RequiredSecrets(ws.StackPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		value := "throwaway-" + key
		if key == "kubeconfig" {
			value = inprocess.KubeconfigWith("throwaway")
		}
		if err := ws.SetSecret(ctx, key, value); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ws.Run(ctx, nil, "config", "set", "namespace", "acme"); err != nil {
		t.Fatal(err)
	}
	_, res, err = ws.Preview(ctx)
	out = string(res.Stdout) + string(res.Stderr)
	want := `xgen-infra:namespace: is not read by this program: \"namespace\" belongs inside the site object`
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("preview with xgen-infra:namespace set: want %s in:\n%s", want, out)
	}

	// A bad value of an add-on (the observability add-on's retention) is refused with its
	// key, its value and the fix, before anything is registered.
	if _, err := ws.Run(ctx, nil, "config", "rm", "namespace"); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Run(ctx, nil, "config", "set", "--path", "site.cluster.addons.observability.prometheus.retention", "2 weeks"); err != nil {
		t.Fatal(err)
	}
	_, res, err = ws.Preview(ctx)
	out = string(res.Stdout) + string(res.Stderr)
	for _, want := range []string{"xgen-infra:site.cluster.addons.observability.prometheus.retention", "2 weeks", "must be a Prometheus duration"} {
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("preview with a bad retention: want %s in:\n%s", want, out)
		}
	}
	if urns, err := ws.Resources(ctx); err != nil || len(urns) != 0 {
		t.Errorf("a refused preview left resources: %v (err %v)", urns, err)
	}
}
