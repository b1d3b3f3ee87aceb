package apiserver

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/harness"
	"xgen-infra/internal/testkit/helmrender"
	"xgen-infra/internal/testkit/livetest"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/sites"
)

// TestIstioAddonOnTheCluster applies what the Istio add-on's charts create to a local API
// server with strict validation (no Istio CRDs beforehand: the base chart brings them),
// waits for istiod and the gateway to be Available on the fake nodes, then applies the
// site on top and checks that its Gateway selects the installed gateway's pods and that
// the gateway Service exposes the configured ports. The lotteimall case moves the gateway
// to node ports and selects it by a label of the site's own.
func TestIstioAddonOnTheCluster(t *testing.T) {
	livetest.ToolsDir(t)
	cases := []struct {
		stack     string
		edit      func(site map[string]any)
		wantType  string
		wantPorts map[int32]int32 // port → node port (0: none)
	}{
		{stack: "xgen", wantType: "LoadBalancer", wantPorts: map[int32]int32{80: 0, 443: 0, 15021: 0}},
		{stack: "lotteimall", edit: func(site map[string]any) {
			site["ingress"] = map[string]any{"gatewaySelector": map[string]any{"xgen.ai/gateway": "lotteimall"}}
			cl := site["cluster"].(map[string]any)
			cl["addons"] = map[string]any{"istio": map[string]any{"gateway": map[string]any{
				"serviceType": "NodePort", "httpNodePort": 30180, "httpsNodePort": 30543}}}
		}, wantType: "NodePort", wantPorts: map[int32]int32{80: 30180, 443: 30543, 15021: 0}},
	}
	for _, tc := range cases {
		t.Run(tc.stack, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			c, err := harness.Start(ctx, harness.Options{ToolsDir: livetest.ToolsDir(t), Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Stop() })
			rec, err := sitetest.RunStack("Pulumi."+tc.stack+".yaml", func(site map[string]any) {
				sitetest.WithRehearsalHost(site)
				if tc.edit != nil {
					tc.edit(site)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			objs, err := rec.KubernetesObjects()
			if err != nil {
				t.Fatal(err)
			}
			var namespaces, site []map[string]any
			for _, o := range objs {
				if o.Kind == "Namespace" {
					namespaces = append(namespaces, o.Body)
				} else {
					site = append(site, o.Body)
				}
			}
			if _, err := c.Apply(ctx, namespaces); err != nil {
				t.Fatal(err)
			}
			releases := helmrender.RecordedReleases(t, rec)
			if got := len(releases); got != 3 {
				t.Fatalf("%d chart releases, want base, istiod and the gateway", got)
			}
			for _, cr := range releases {
				applyRelease(ctx, t, c, cr)
			}
			if err := c.WaitAvailable(ctx, sites.DefaultIstioNamespace, []string{"istiod", "istio-ingressgateway"}, 90*time.Second); err != nil {
				t.Fatal(err)
			}

			// The site on top: its Gateway and VirtualService need the chart's CRDs.
			if _, err := c.Apply(ctx, site); err != nil {
				t.Fatal(err)
			}
			var selector map[string]string
			for _, o := range objs {
				if o.Kind == "Gateway" {
					for k, v := range inprocess.Get(o.Body, "spec", "selector").(map[string]any) {
						if selector == nil {
							selector = map[string]string{}
						}
						selector[k] = v.(string)
					}
				}
			}
			if len(selector) == 0 {
				t.Fatal("the site has no Gateway with a selector")
			}
			pods, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(selector).String()})
			if err != nil {
				t.Fatal(err)
			}
			if len(pods.Items) == 0 {
				t.Fatalf("the site's Gateway selects %v: no pod has those labels", selector)
			}
			for _, p := range pods.Items {
				if p.Namespace != sites.DefaultIstioNamespace || !strings.HasPrefix(p.Name, "istio-ingressgateway-") {
					t.Errorf("the site's Gateway selects %s/%s, which is not the ingress gateway", p.Namespace, p.Name)
				}
			}

			svc, err := c.Client.CoreV1().Services(sites.DefaultIstioNamespace).Get(ctx, "istio-ingressgateway", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if string(svc.Spec.Type) != tc.wantType {
				t.Errorf("gateway Service type %s, want %s", svc.Spec.Type, tc.wantType)
			}
			got := map[int32]int32{}
			for _, p := range svc.Spec.Ports {
				got[p.Port] = p.NodePort
			}
			for port, nodePort := range tc.wantPorts {
				np, ok := got[port]
				switch {
				case !ok:
					t.Errorf("gateway Service lacks port %d (has %v)", port, got)
				case nodePort != 0 && np != nodePort:
					t.Errorf("gateway Service port %d on node port %d, want %d", port, np, nodePort)
				}
			}
		})
	}
}

// applyRelease applies one release's objects in Helm's order: CRDs until Established,
// admission webhook configurations as a strict dry run only (no istiod process answers
// them here, and a webhook that fails closed would refuse every pod), the rest for real.
func applyRelease(ctx context.Context, t *testing.T, c *harness.Cluster, cr helmrender.ChartRelease) {
	t.Helper()
	var crds []byte
	var webhooks, rest []map[string]any
	for _, obj := range cr.Objects {
		switch obj["kind"] {
		case "CustomResourceDefinition":
			y, err := yaml.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			crds = append(append(crds, "---\n"...), y...)
		case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
			webhooks = append(webhooks, obj)
		default:
			rest = append(rest, obj)
		}
	}
	if len(crds) > 0 {
		if err := c.InstallCRDs(ctx, crds); err != nil {
			t.Fatalf("%s CRDs: %v", cr.Release, err)
		}
	}
	if _, err := c.DryRunApply(ctx, webhooks); err != nil {
		t.Fatalf("%s: %v", cr.Release, err)
	}
	if _, err := c.Apply(ctx, rest); err != nil {
		t.Fatalf("%s: %v", cr.Release, err)
	}
}

// TestRegistryAddonOnTheCluster: the site registry add-on applies with strict validation and
// becomes Available on its volume (a static volume here, standing in for K3s' local-path
// provisioner), on node port 30500; every node's registries.yaml lets it pull from there.
func TestRegistryAddonOnTheCluster(t *testing.T) {
	livetest.ToolsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := harness.Start(ctx, harness.Options{ToolsDir: livetest.ToolsDir(t), Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	rec, err := sitetest.RunStack("Pulumi.xgen.yaml", func(site map[string]any) {
		sitetest.WithRehearsalHost(site)
		site["cluster"].(map[string]any)["addons"] = map[string]any{"registry": map[string]any{"enabled": true}}
	})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := rec.KubernetesObjects()
	if err != nil {
		t.Fatal(err)
	}
	var registry []map[string]any
	for _, o := range objs {
		if o.Namespace == "xgen-registry" || (o.Kind == "Namespace" && o.Name == "xgen-registry") {
			registry = append(registry, o.Body)
		}
	}
	if len(registry) != 4 {
		t.Fatalf("%d registry objects, want the namespace, volume claim, Deployment and Service", len(registry))
	}
	pv := map[string]any{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": "local-path-registry"},
		"spec": map[string]any{"capacity": map[string]any{"storage": "50Gi"}, "accessModes": []any{"ReadWriteOnce"},
			"storageClassName": "local-path", "hostPath": map[string]any{"path": "/var/lib/rancher/k3s/storage/registry"}}}
	if _, err := c.Apply(ctx, append([]map[string]any{pv}, registry...)); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitAvailable(ctx, "xgen-registry", []string{"registry"}, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	svc, err := c.Client.CoreV1().Services("xgen-registry").Get(ctx, "registry", metav1.GetOptions{})
	if err != nil || svc.Spec.Ports[0].NodePort != 30500 {
		t.Fatalf("registry Service: %v %v", svc, err)
	}
	reg, ok := rec.Find("command:remote:Command", "registries-xgen-gpu-1")
	if !ok {
		t.Fatal("no registries.yaml command")
	}
	in, _ := reg.PlainInputs()
	if stdin, _ := in["stdin"].(string); !strings.Contains(stdin, "localhost:30500:\n        endpoint:\n            - http://localhost:30500\n") {
		t.Errorf("registries.yaml does not let the node pull from the add-on:\n%s", stdin)
	}
}
