package main

// Integration tests: every site's Kubernetes objects — the ones rendered/ shows — applied
// to a real kube-apiserver with strict field validation and run to Available on fake
// nodes. They need the tools that `make tools` builds; `make test` sets XGEN_TOOLS_DIR.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/harness"
)

func toolsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("XGEN_TOOLS_DIR")
	if dir == "" {
		t.Skip("harness integration test: run through `make test` (it builds the tools and sets XGEN_TOOLS_DIR)")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func startCluster(t testing.TB) *harness.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := harness.Start(ctx, harness.Options{ToolsDir: toolsDir(t), Dir: t.TempDir(), InstallIstioCRDs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// rehearsalObjects runs the program for a stack file with the infra host address set (as
// an operator sets infra.hostAddress) plus any edits to the site object, and returns its
// Kubernetes objects in apply order.
func rehearsalObjects(t testing.TB, stackFile string, edit func(site map[string]any)) []inprocess.Object {
	t.Helper()
	objs, err := siteObjects(stackFile, func(site map[string]any) {
		withRehearsalHost(site)
		if edit != nil {
			edit(site)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func bodies(objs []inprocess.Object) []map[string]any {
	out := make([]map[string]any, len(objs))
	for i, o := range objs {
		out[i] = o.Body
	}
	return out
}

func TestClusterRunsEverySite(t *testing.T) {
	toolsDir(t)
	for _, stackFile := range siteStackFiles(t) {
		t.Run(stackName(stackFile), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			c := startCluster(t)
			objs := rehearsalObjects(t, stackFile, nil)

			// Every object is accepted under strict validation (with a volume for each claim,
			// standing in for K3s' local-path provisioner).
			applied, err := c.Apply(ctx, append(volumesFor(objs), bodies(objs)...))
			if err != nil {
				t.Fatal(err)
			}
			if len(applied) != len(objs)+len(volumesFor(objs)) {
				t.Fatalf("applied %d of %d objects", len(applied), len(objs))
			}

			ns, deployments := deploymentsOf(objs)
			if err := c.WaitAvailable(ctx, ns, deployments, 90*time.Second); err != nil {
				t.Fatalf("%v\ncontroller-manager log:\n%s", err, c.Log("kube-controller-manager"))
			}
			// The add-ons' workloads (observability: Prometheus, Grafana, kube-state-metrics,
			// node-exporter on every node) run too.
			addonDeployments, addonDaemonSets := addonWorkloads(objs)
			for addonNS, names := range addonDeployments {
				if err := c.WaitAvailable(ctx, addonNS, names, 90*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			for addonNS, names := range addonDaemonSets {
				if err := c.WaitDaemonSetsReady(ctx, addonNS, names, 90*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			checkPlacement(ctx, t, c, ns, objs)
			checkHostEndpoints(ctx, t, c, objs)

			// A second apply of the same objects changes nothing.
			again, err := c.Apply(ctx, bodies(objs))
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range again {
				if a.Changed {
					t.Errorf("second apply changed %s %s/%s", a.Kind, a.Namespace, a.Name)
				}
			}

			checkOneServiceConfigChange(ctx, t, c, stackFile, objs)
		})
	}
}

// TestClusterStrictValidationRejectsMisspeltField proves the strictness the site test
// relies on: a misspelt field fails the apply instead of being dropped silently.
func TestClusterStrictValidationRejectsMisspeltField(t *testing.T) {
	toolsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startCluster(t)
	objs := rehearsalObjects(t, "Pulumi.xgen.yaml", nil)
	var ns, deployment, virtualService map[string]any
	for _, o := range objs {
		switch {
		case o.Kind == "Namespace" && ns == nil:
			ns = o.Body
		case o.Kind == "Deployment" && o.Name == "xgen-core":
			deployment = deepCopy(t, o.Body)
		case o.Kind == "VirtualService":
			virtualService = deepCopy(t, o.Body)
		}
	}
	if _, err := c.Apply(ctx, []map[string]any{ns}); err != nil {
		t.Fatal(err)
	}
	deployment["spec"].(map[string]any)["replcas"] = 2
	_, err := c.Apply(ctx, []map[string]any{deployment})
	if err == nil || !strings.Contains(err.Error(), ".spec.replcas: field not declared in schema") {
		t.Errorf("misspelt Deployment field: got %v", err)
	}
	// The Istio CRD schemas are strict too.
	route := virtualService["spec"].(map[string]any)["http"].([]any)[0].(map[string]any)
	route["timout"] = "0s"
	_, err = c.Apply(ctx, []map[string]any{virtualService})
	if err == nil || !strings.Contains(err.Error(), ".spec.http[0].timout") && !strings.Contains(err.Error(), `unknown field "spec.http[0].timout"`) {
		t.Errorf("misspelt VirtualService field: got %v", err)
	}
}

func deepCopy(t testing.TB, m map[string]any) map[string]any {
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

// deploymentsOf returns the application namespace (the frontend's: every site runs it) and
// its Deployment names; the add-ons' are addonWorkloads'.
func deploymentsOf(objs []inprocess.Object) (string, []string) {
	var ns string
	for _, o := range objs {
		if o.Kind == "Deployment" && o.Name == "xgen-frontend" {
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

// volumesFor is a static PersistentVolume bound to each PersistentVolumeClaim of objs, of its
// class and size: what K3s' local-path provisioner would make.
func volumesFor(objs []inprocess.Object) []map[string]any {
	var pvs []map[string]any
	for _, o := range objs {
		if o.Kind != "PersistentVolumeClaim" {
			continue
		}
		spec, _ := o.Body["spec"].(map[string]any)
		pvs = append(pvs, map[string]any{"apiVersion": "v1", "kind": "PersistentVolume",
			"metadata": map[string]any{"name": "pv-" + o.Namespace + "-" + o.Name},
			"spec": map[string]any{
				"capacity":         get(spec, "resources", "requests"),
				"accessModes":      spec["accessModes"],
				"storageClassName": spec["storageClassName"],
				"claimRef":         map[string]any{"namespace": o.Namespace, "name": o.Name},
				"hostPath":         map[string]any{"path": "/var/lib/rancher/k3s/storage/" + o.Namespace + "_" + o.Name},
			}})
	}
	return pvs
}

// addonWorkloads are the Deployments and DaemonSets outside the application namespace (the
// add-ons' own objects, not the charts'), by namespace.
func addonWorkloads(objs []inprocess.Object) (deployments, daemonSets map[string][]string) {
	appNS, _ := deploymentsOf(objs)
	deployments, daemonSets = map[string][]string{}, map[string][]string{}
	for _, o := range objs {
		switch {
		case o.Namespace == appNS:
		case o.Kind == "Deployment":
			deployments[o.Namespace] = append(deployments[o.Namespace], o.Name)
		case o.Kind == "DaemonSet":
			daemonSets[o.Namespace] = append(daemonSets[o.Namespace], o.Name)
		}
	}
	return deployments, daemonSets
}

// checkPlacement: GPU services run only on GPU nodes, nothing else does, and a service
// with several pods is spread over several nodes.
func checkPlacement(ctx context.Context, t *testing.T, c *harness.Cluster, ns string, objs []inprocess.Object) {
	t.Helper()
	nodesOf, err := c.PodNodes(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Kind != "Deployment" || o.Namespace != ns {
			continue
		}
		gpu := get(o.Body, "spec", "template", "spec", "nodeSelector", "nvidia.com/gpu.present") == "true"
		nodes := nodesOf[o.Name]
		if len(nodes) == 0 {
			t.Errorf("%s has no scheduled pods", o.Name)
		}
		for _, node := range nodes {
			if gpu != strings.HasPrefix(node, "gpu-") {
				t.Errorf("%s (gpu=%v) runs on %s", o.Name, gpu, node)
			}
		}
		d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, o.Name, metav1.GetOptions{})
		if err == nil && !gpu && *d.Spec.Replicas >= 2 && len(nodes) < 2 {
			t.Errorf("%s runs %d pods on %v: not spread across nodes", o.Name, *d.Spec.Replicas, nodes)
		}
	}
}

// checkHostEndpoints: each selector-less infra Service has its EndpointSlice with the
// configured host address.
func checkHostEndpoints(ctx context.Context, t *testing.T, c *harness.Cluster, objs []inprocess.Object) {
	t.Helper()
	for _, o := range objs {
		if o.Kind != "EndpointSlice" {
			continue
		}
		service := get(o.Body, "metadata", "labels", "kubernetes.io/service-name").(string)
		slices, err := c.Client.DiscoveryV1().EndpointSlices(o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + service})
		if err != nil {
			t.Fatal(err)
		}
		var addrs []string
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				addrs = append(addrs, e.Addresses...)
			}
		}
		if !reflect.DeepEqual(addrs, []string{rehearsalHostAddress}) {
			t.Errorf("Service %s/%s endpoints %v, want [%s]", o.Namespace, service, addrs, rehearsalHostAddress)
		}
		if _, err := c.Client.CoreV1().Services(o.Namespace).Get(ctx, service, metav1.GetOptions{}); err != nil {
			t.Errorf("Service %s: %v", service, err)
		}
	}
}

// configMapNameOf is the name of the ConfigMap the service's pods read.
func configMapNameOf(objs []inprocess.Object, service string) string {
	for _, o := range objs {
		if o.Kind == "Deployment" && o.Name == service {
			name, _ := get(o.Body, "spec", "template", "spec", "containers", 0, "envFrom", 0, "configMapRef", "name").(string)
			return name
		}
	}
	return ""
}

// checkOneServiceConfigChange changes one config value of xgen-core in the site: only
// xgen-core's ConfigMap and Deployment change, and only its pods roll.
func checkOneServiceConfigChange(ctx context.Context, t *testing.T, c *harness.Cluster, stackFile string, before []inprocess.Object) {
	t.Helper()
	const service = "xgen-core"
	after := rehearsalObjects(t, stackFile, func(site map[string]any) {
		svc := site["services"].(map[string]any)[service].(map[string]any)
		cfg, _ := svc["config"].(map[string]any)
		if cfg == nil {
			cfg = map[string]any{}
			svc["config"] = cfg
		}
		cfg["LOG_LEVEL"] = "debug"
	})
	oldCM, newCM := configMapNameOf(before, service), configMapNameOf(after, service)
	if oldCM == newCM {
		t.Errorf("the config changed and the ConfigMap kept its name %s: its pods would not roll", oldCM)
	}
	var differ []string
	for i := range after {
		if !reflect.DeepEqual(before[i].Body, after[i].Body) {
			differ = append(differ, after[i].Kind+"/"+after[i].Name)
		}
	}
	if want := []string{"ConfigMap/" + newCM, "Deployment/" + service}; !reflect.DeepEqual(differ, want) {
		t.Errorf("objects that differ: %v, want %v", differ, want)
	}

	ns, deployments := deploymentsOf(after)
	templates := replicaSetCounts(ctx, t, c, ns)
	applied, err := c.Apply(ctx, bodies(after))
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, a := range applied {
		if a.Changed {
			changed = append(changed, a.Kind+"/"+a.Name)
		}
	}
	sort.Strings(changed)
	if want := []string{"ConfigMap/" + newCM, "Deployment/" + service}; !reflect.DeepEqual(changed, want) {
		t.Errorf("apply changed %v, want %v", changed, want)
	}
	if err := c.WaitAvailable(ctx, ns, deployments, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	rolled := replicaSetCounts(ctx, t, c, ns)
	for _, d := range deployments {
		want := templates[d]
		if d == service {
			want++
		}
		if rolled[d] != want {
			t.Errorf("%s has %d pod templates after the change, want %d", d, rolled[d], want)
		}
	}
}

// replicaSetCounts counts ReplicaSets (one per pod template a Deployment has rolled out).
func replicaSetCounts(ctx context.Context, t *testing.T, c *harness.Cluster, ns string) map[string]int {
	t.Helper()
	rss, err := c.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, rs := range rss.Items {
		for _, ref := range rs.OwnerReferences {
			if ref.Kind == "Deployment" {
				out[ref.Name]++
			}
		}
	}
	return out
}

// TestClusterAcceptsTraefikIngress: the Traefik variant (no committed site uses it yet)
// must be accepted by a real API server too, with HTTPS.
func TestClusterAcceptsTraefikIngress(t *testing.T) {
	toolsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startCluster(t)
	objs := rehearsalObjects(t, "Pulumi.xgen.yaml", func(site map[string]any) {
		site["ingress"] = map[string]any{"type": "traefik"}
		site["environments"].(map[string]any)["dev"].(map[string]any)["tlsCredentialName"] = "xgen-tls"
	})
	var kinds []string
	for _, o := range objs {
		if o.Kind == "Ingress" || o.Kind == "Gateway" || o.Kind == "VirtualService" {
			kinds = append(kinds, o.Kind+"/"+o.Name)
		}
	}
	if !reflect.DeepEqual(kinds, []string{"Ingress/xgen"}) {
		t.Fatalf("ingress objects %v, want only Ingress/xgen", kinds)
	}
	if _, err := c.Apply(ctx, bodies(objs)); err != nil {
		t.Fatal(err)
	}
	ing, err := c.Client.NetworkingV1().Ingresses("xgen").Get(ctx, "xgen", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	paths := ing.Spec.Rules[0].HTTP.Paths
	if len(paths) != 4 || paths[2].Path != "/api/" || paths[2].Backend.Service.Name != "xgen-backend-gateway" || ing.Spec.TLS[0].SecretName != "xgen-tls" {
		t.Errorf("ingress as stored: %+v", ing.Spec)
	}
}
