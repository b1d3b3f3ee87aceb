// Package sitetest runs the program for a stack file under the SDK's mock monitor
// (internal/inprocess) and gives the tests of every layer (tests/mock, tests/apiserver,
// tests/realengine, tests/hosts) one way to ask what a site registers: its resources, its
// Kubernetes objects, a view of them. TEST-ONLY. It links no host kit (no test hosts, no
// local cluster, no engine), so the mock layer's test binary stays small.
package sitetest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"xgen-infra/internal/inprocess"
	"xgen-infra/sites"
	"xgen-infra/stack"
)

// RehearsalHostAddress stands in for an on-prem site's infra host (infra.hostAddress) when
// a site's objects are applied without its hosts: a documentation address (RFC 5737), since
// the API server refuses loopback addresses in EndpointSlices and nothing connects to it.
const RehearsalHostAddress = "192.0.2.10"

// ChdirToRoot makes the repository's root (where go.mod and the stack files are) the working
// directory: a layer package's TestMain calls it, so that its tests name Pulumi.<site>.yaml,
// rendered/ and testdata/ as an operator does, from the root.
func ChdirToRoot() error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(data), "module xgen-infra\n") {
			return os.Chdir(dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("no xgen-infra go.mod above the working directory")
		}
		dir = parent
	}
}

// Main is every layer package's TestMain: the tests run from the repository's root
// (ChdirToRoot), with the image preflight off, since the sites' registries are not reachable
// from here (a test of the preflight turns it on against a real test registry; the real
// engine's previews inherit the setting through the CLI).
func Main(m *testing.M) {
	if err := ChdirToRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = os.Setenv(stack.ImagePreflightEnv, "off")
	os.Exit(m.Run())
}

// RunStack runs the program for a stack file, with edit applied to the site object first,
// and a placeholder for every secret an operator would set.
func RunStack(stackFile string, edit func(site map[string]any)) (*inprocess.Recorder, error) {
	config, secretKeys, err := inprocess.LoadStackFile(stackFile)
	if err != nil {
		return nil, err
	}
	return RunStackConfig(stackFile, config, secretKeys, edit)
}

// RunStackConfig is RunStack on a stack file's config that the caller has loaded (and may
// have changed: a secret of its own).
func RunStackConfig(stackFile string, config map[string]string, secretKeys []string, edit func(site map[string]any)) (*inprocess.Recorder, error) {
	if edit != nil {
		var site map[string]any
		if err := json.Unmarshal([]byte(config[sites.SiteKey]), &site); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", stackFile, sites.SiteKey, err)
		}
		edit(site)
		data, err := json.Marshal(site)
		if err != nil {
			return nil, err
		}
		config[sites.SiteKey] = string(data)
	}
	rec, err := RunWithSecrets(StackName(stackFile), config, secretKeys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stackFile, err)
	}
	return rec, nil
}

// RunWithSecrets runs the program for a stack's config with a placeholder for every secret
// the site needs that the config does not set (as an operator sets only those), under the
// mock engine.
func RunWithSecrets(stackName string, config map[string]string, secretKeys []string) (*inprocess.Recorder, error) {
	secretKeys, err := inprocess.AddRequiredSecretPlaceholders(config, secretKeys)
	if err != nil {
		return nil, err
	}
	return inprocess.Run(stack.Program, sites.ConfigNamespace, stackName, config, secretKeys)
}

// Run is RunStack for a test: a failure fails the test.
func Run(t testing.TB, stackFile string) *inprocess.Recorder {
	t.Helper()
	rec, err := RunStack(stackFile, nil)
	if err != nil {
		t.Fatalf("%s: %v", stackFile, err)
	}
	return rec
}

// SiteObjects returns a stack's Kubernetes objects in apply order.
func SiteObjects(stackFile string, edit func(site map[string]any)) ([]inprocess.Object, error) {
	rec, err := RunStack(stackFile, edit)
	if err != nil {
		return nil, err
	}
	return rec.KubernetesObjects()
}

// WithRehearsalHost sets infra.hostAddress, as an operator of an on-prem site does, unless
// the site sets it already. The site's compose project is left out: it is the host layer's
// (tests/hosts); here the in-cluster side points at the rehearsal host.
func WithRehearsalHost(site map[string]any) {
	infra, _ := site["infra"].(map[string]any)
	if infra == nil {
		infra = map[string]any{}
		site["infra"] = infra
	}
	_, compose := infra["compose"]
	delete(infra, "compose")
	// The compose infra (or K3s' first server) becomes the rehearsal's host; a site whose
	// infra all has its own hosts has none (its hostAddress would be refused as ignored).
	if _, cluster := site["cluster"]; (compose || cluster) && infra["hostAddress"] == nil {
		infra["hostAddress"] = RehearsalHostAddress
	}
}

// RehearsalObjects runs the program for a stack file with the infra host address set (as
// an operator sets infra.hostAddress) plus any edits to the site object, and returns its
// Kubernetes objects in apply order.
func RehearsalObjects(t testing.TB, stackFile string, edit func(site map[string]any)) []inprocess.Object {
	t.Helper()
	objs, err := SiteObjects(stackFile, func(site map[string]any) {
		WithRehearsalHost(site)
		if edit != nil {
			edit(site)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// StackName is the <stack> of a Pulumi.<stack>.yaml path.
func StackName(stackFile string) string {
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(stackFile), "Pulumi."), ".yaml")
}

// StackFiles are the sites' stack files (Pulumi.*.yaml in the working directory).
func StackFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("Pulumi.*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no stack files: %v", err)
	}
	return files
}

// SiteOf is a stack file's site object, decoded and validated as the program does (secrets
// left out).
func SiteOf(t testing.TB, stackFile string) *sites.Site {
	t.Helper()
	file, err := sites.ReadStackFile(stackFile)
	if err != nil {
		t.Fatal(err)
	}
	site, err := sites.ParseWithoutSecrets(StackName(stackFile), file)
	if err != nil {
		t.Fatal(err)
	}
	return site
}

// Bodies are the objects' bodies, in the same order.
func Bodies(objs []inprocess.Object) []map[string]any {
	out := make([]map[string]any, len(objs))
	for i, o := range objs {
		out[i] = o.Body
	}
	return out
}

// DeploymentsOf returns the application namespace (the frontend's: every site runs it) and
// its Deployment names; the add-ons' are in their own namespaces.
// AppDeployments are the Deployments of each namespace that runs a site's environment (one
// with the entry point, xgen-frontend): the stack's own and each deployed beside it.
func AppDeployments(objs []inprocess.Object) map[string][]string {
	out := map[string][]string{}
	for _, o := range objs {
		if o.Kind == "Deployment" && o.Name == "xgen-frontend" {
			out[o.Namespace] = nil
		}
	}
	for _, o := range objs {
		if _, app := out[o.Namespace]; app && o.Kind == "Deployment" {
			out[o.Namespace] = append(out[o.Namespace], o.Name)
		}
	}
	return out
}

func DeploymentsOf(objs []inprocess.Object) (string, []string) {
	var ns string
	for _, o := range objs {
		if o.Kind == "Deployment" && o.Name == "xgen-frontend" && ns == "" { // the stack's own
			ns = o.Namespace
		}
	}
	var names []string
	for _, o := range objs {
		if o.Kind == "Deployment" && o.Namespace == ns {
			names = append(names, o.Name)
		}
	}
	return ns, names
}

// DeepCopy copies a JSON-like value (a site object) through JSON.
func DeepCopy(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Registered is every resource the program registered, by URN, with its plain inputs and
// options as one comparable string.
func Registered(rec *inprocess.Recorder) map[string]string {
	out := map[string]string{}
	for _, r := range rec.Resources {
		inputs, _ := r.PlainInputs()
		data, _ := json.Marshal(map[string]any{"inputs": inputs, "parent": r.Parent, "provider": r.Provider,
			"import": r.ImportID, "protect": r.Protect, "retain": r.RetainOnDelete, "dbr": r.DeleteBeforeReplace,
			"ignore": r.IgnoreChanges, "secretOutputs": r.AdditionalSecretOutputs,
			"timeouts": []string{r.CreateTimeout, r.UpdateTimeout, r.DeleteTimeout}})
		out[r.URN] = string(data)
	}
	return out
}

// View is what a per-site assertion needs from one run of the program.
type View struct {
	Rec  *inprocess.Recorder
	Objs []inprocess.Object
}

// ViewOf runs the program for a stack file and views what it registered.
func ViewOf(t testing.TB, stackFile string) View {
	t.Helper()
	rec := Run(t, stackFile)
	objs, err := rec.KubernetesObjects()
	if err != nil {
		t.Fatal(err)
	}
	return View{rec, objs}
}

// Names are the sorted names of the objects of kind.
func (v View) Names(kind string) []string {
	var out []string
	for _, o := range v.Objs {
		if o.Kind == kind {
			out = append(out, o.Name)
		}
	}
	sort.Strings(out)
	return out
}

// AppNames are the names of the objects of kind in the site's own namespace ns (the
// add-ons' are in theirs).
func (v View) AppNames(kind, ns string) []string {
	var out []string
	for _, o := range v.Objs {
		if o.Kind == kind && o.Namespace == ns {
			out = append(out, o.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Object is the body of the object of kind and name; the test fails without one.
func (v View) Object(t testing.TB, kind, name string) map[string]any {
	t.Helper()
	for _, o := range v.Objs {
		if o.Kind == kind && o.Name == name {
			return o.Body
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

// ObjectIn is the body of the object of kind and name in namespace ns; the test fails
// without one.
func (v View) ObjectIn(t testing.TB, kind, ns, name string) map[string]any {
	t.Helper()
	for _, o := range v.Objs {
		if o.Kind == kind && o.Namespace == ns && o.Name == name {
			return o.Body
		}
	}
	t.Fatalf("no %s %s/%s", kind, ns, name)
	return nil
}

// ConfigMapOf is the ConfigMap a service's pods read (its name carries a content hash).
func (v View) ConfigMapOf(t testing.TB, service string) map[string]any {
	t.Helper()
	name, _ := inprocess.Get(v.Object(t, "Deployment", service), "spec", "template", "spec", "containers", 0, "envFrom", 0, "configMapRef", "name").(string)
	if !strings.HasPrefix(name, service+"-config-") {
		t.Fatalf("%s reads ConfigMap %q, want %s-config-<hash>", service, name, service)
	}
	return v.Object(t, "ConfigMap", name)
}

// Namespaces are the namespaces the site's objects are in.
func (v View) Namespaces() map[string]bool {
	out := map[string]bool{}
	for _, o := range v.Objs {
		if o.Namespace != "" {
			out[o.Namespace] = true
		}
	}
	return out
}

// addonComponents are the add-on components whose objects render under _addons/<name>/.
var addonComponents = map[string]string{"xgen:index:Observability": "observability", "xgen:index:NvidiaDevicePlugin": "gpu"}

// AddonOf is the add-on a resource belongs to (one of its ancestors is an add-on
// component), or "".
func AddonOf(rec *inprocess.Recorder, res inprocess.Resource) string {
	for {
		parent, ok := rec.ByURN(res.Parent)
		if !ok {
			return ""
		}
		if name, ok := addonComponents[parent.Type]; ok {
			return name
		}
		res = parent
	}
}
