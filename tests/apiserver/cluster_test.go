package apiserver

// Integration tests: every site's Kubernetes objects — the ones rendered/ shows — applied
// to a real kube-apiserver with strict field validation and run to Available on fake
// nodes. They need the tools that `make tools` builds; `make test` sets XGEN_TOOLS_DIR.

import (
	"context"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/harness"
	"xgen-infra/internal/testkit/livetest"
	"xgen-infra/internal/testkit/sitetest"
)

func TestClusterRunsEverySite(t *testing.T) {
	livetest.ToolsDir(t)
	for _, stackFile := range sitetest.StackFiles(t) {
		t.Run(sitetest.StackName(stackFile), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			c := livetest.StartCluster(t)
			objs := sitetest.RehearsalObjects(t, stackFile, nil)

			// Every object is accepted under strict validation (with a volume for each claim,
			// standing in for K3s' local-path provisioner).
			applied, err := c.Apply(ctx, append(volumesFor(objs), sitetest.Bodies(objs)...))
			if err != nil {
				t.Fatal(err)
			}
			if len(applied) != len(objs)+len(volumesFor(objs)) {
				t.Fatalf("applied %d of %d objects", len(applied), len(objs))
			}

			ns, _ := sitetest.DeploymentsOf(objs)
			for appNS, deployments := range sitetest.AppDeployments(objs) { // every environment's
				if err := c.WaitAvailable(ctx, appNS, deployments, 90*time.Second); err != nil {
					t.Fatalf("%v\ncontroller-manager log:\n%s", err, c.Log("kube-controller-manager"))
				}
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
			if site := sitetest.SiteOf(t, stackFile); site.Config.AWS != nil && site.Config.AWS.EKS != nil {
				checkEKSStatus(ctx, t, c, stackFile, site)
			}

			// A second apply of the same objects changes nothing.
			again, err := c.Apply(ctx, sitetest.Bodies(objs))
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
	livetest.ToolsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := livetest.StartCluster(t)
	objs := sitetest.RehearsalObjects(t, "Pulumi.xgen.yaml", nil)
	var ns, deployment, virtualService map[string]any
	for _, o := range objs {
		switch {
		case o.Kind == "Namespace" && ns == nil:
			ns = o.Body
		case o.Kind == "Deployment" && o.Name == "xgen-core":
			deployment = sitetest.DeepCopy(t, o.Body)
		case o.Kind == "VirtualService":
			virtualService = sitetest.DeepCopy(t, o.Body)
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
				"capacity":         inprocess.Get(spec, "resources", "requests"),
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
	appNS, _ := sitetest.DeploymentsOf(objs)
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
		gpu := inprocess.Get(o.Body, "spec", "template", "spec", "nodeSelector", "nvidia.com/gpu.present") == "true"
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
		service := inprocess.Get(o.Body, "metadata", "labels", "kubernetes.io/service-name").(string)
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
		if !reflect.DeepEqual(addrs, []string{sitetest.RehearsalHostAddress}) {
			t.Errorf("Service %s/%s endpoints %v, want [%s]", o.Namespace, service, addrs, sitetest.RehearsalHostAddress)
		}
		if _, err := c.Client.CoreV1().Services(o.Namespace).Get(ctx, service, metav1.GetOptions{}); err != nil {
			t.Errorf("Service %s: %v", service, err)
		}
	}
}

// configMapNameOf is the name of the ConfigMap the service's pods read.
func configMapNameOf(objs []inprocess.Object, ns, service string) string {
	for _, o := range objs {
		if o.Kind == "Deployment" && o.Namespace == ns && o.Name == service {
			name, _ := inprocess.Get(o.Body, "spec", "template", "spec", "containers", 0, "envFrom", 0, "configMapRef", "name").(string)
			return name
		}
	}
	return ""
}

// checkOneServiceConfigChange changes one config value of xgen-core in the site: only
// xgen-core's ConfigMap and Deployment change (in each environment that runs it: the
// setting is the site's), and only its pods roll.
func checkOneServiceConfigChange(ctx context.Context, t *testing.T, c *harness.Cluster, stackFile string, before []inprocess.Object) {
	t.Helper()
	const service = "xgen-core"
	after := sitetest.RehearsalObjects(t, stackFile, func(site map[string]any) {
		svc := site["services"].(map[string]any)[service].(map[string]any)
		cfg, _ := svc["config"].(map[string]any)
		if cfg == nil {
			cfg = map[string]any{}
			svc["config"] = cfg
		}
		cfg["LOG_LEVEL"] = "debug"
	})
	apps := sitetest.AppDeployments(after)
	var want []string
	for ns, deployments := range apps {
		if !slices.Contains(deployments, service) {
			continue
		}
		oldCM, newCM := configMapNameOf(before, ns, service), configMapNameOf(after, ns, service)
		if oldCM == newCM {
			t.Errorf("%s: the config changed and the ConfigMap kept its name %s: its pods would not roll", ns, oldCM)
		}
		want = append(want, "ConfigMap/"+ns+"/"+newCM, "Deployment/"+ns+"/"+service)
	}
	sort.Strings(want)
	var differ []string
	for i := range after {
		if !reflect.DeepEqual(before[i].Body, after[i].Body) {
			differ = append(differ, after[i].Kind+"/"+after[i].Namespace+"/"+after[i].Name)
		}
	}
	sort.Strings(differ)
	if !reflect.DeepEqual(differ, want) {
		t.Errorf("objects that differ: %v, want %v", differ, want)
	}

	templates := map[string]map[string]int{}
	for ns := range apps {
		templates[ns] = replicaSetCounts(ctx, t, c, ns)
	}
	applied, err := c.Apply(ctx, sitetest.Bodies(after))
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, a := range applied {
		if a.Changed {
			changed = append(changed, a.Kind+"/"+a.Namespace+"/"+a.Name)
		}
	}
	sort.Strings(changed)
	if !reflect.DeepEqual(changed, want) {
		t.Errorf("apply changed %v, want %v", changed, want)
	}
	for ns, deployments := range apps {
		if err := c.WaitAvailable(ctx, ns, deployments, 90*time.Second); err != nil {
			t.Fatal(err)
		}
		rolled := replicaSetCounts(ctx, t, c, ns)
		for _, d := range deployments {
			want := templates[ns][d]
			if d == service {
				want++
			}
			if rolled[d] != want {
				t.Errorf("%s: %s has %d pod templates after the change, want %d", ns, d, rolled[d], want)
			}
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
	livetest.ToolsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := livetest.StartCluster(t)
	objs := sitetest.RehearsalObjects(t, "Pulumi.xgen.yaml", func(site map[string]any) {
		site["ingress"] = map[string]any{"type": "traefik"}
		site["environments"].(map[string]any)["dev"].(map[string]any)["tlsCredentialName"] = "xgen-tls"
	})
	var kinds []string
	for _, o := range objs {
		if o.Kind == "Ingress" || o.Kind == "Gateway" || o.Kind == "VirtualService" {
			kinds = append(kinds, o.Kind+"/"+o.Namespace+"/"+o.Name)
		}
	}
	// One Ingress per environment (dev's own, prd's beside it), nothing of Istio.
	if want := []string{"Ingress/xgen/xgen", "Ingress/xgen-prd/xgen"}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("ingress objects %v, want only %v", kinds, want)
	}
	if _, err := c.Apply(ctx, sitetest.Bodies(objs)); err != nil {
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
