package rendered

// The network-policy truth table: the policies the program generates for a site, judged by
// an evaluator we did not write (np-guard's netpol-analyzer, the engine behind IBM's
// network-policy tooling) against pods that stand where the site's pods, its ingress
// gateway, CoreDNS and an intruder would be.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/sitetest"

	"github.com/np-guard/netpol-analyzer/pkg/netpol/eval"
	corev1 "k8s.io/api/core/v1"
	netv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// flow is one (source, destination, port) pair and whether the policies must allow it.
// Pods are "namespace/name" (a site's pods are named after their Deployment); anything else
// is an IP address outside the cluster.
type flow struct {
	src, dst string
	proto    string
	port     int
	allowed  bool
}

// Pods around the site: the Istio gateway, Traefik, CoreDNS, and a pod of another tenant.
var (
	gatewayPod  = podAt("istio-system", "istio-ingressgateway", map[string]string{"istio": "ingressgateway", "app": "istio-ingressgateway"})
	traefikPod  = podAt("kube-system", "traefik", map[string]string{"app.kubernetes.io/name": "traefik"})
	corednsPod  = podAt("kube-system", "coredns", map[string]string{"k8s-app": "kube-dns"})
	intruderPod = podAt("intruder", "shell", map[string]string{"app": "shell"})
	// The customer's monitoring on a cluster that has its own (xgen-aww: externalMonitoring).
	customerPrometheusPod = podAt("monitoring", "prometheus", map[string]string{"app.kubernetes.io/name": "prometheus"})
	customerGrafanaPod    = podAt("monitoring", "grafana", map[string]string{"app.kubernetes.io/name": "grafana"})
)

const (
	gateway  = "istio-system/istio-ingressgateway"
	coredns  = "kube-system/coredns"
	intruder = "intruder/shell"
	outside  = "203.0.113.9" // a browser on the internet
	internet = "8.8.8.8"
)

func TestNetworkPolicyTruthTable(t *testing.T) {
	const xgenHost = "192.0.2.11" // Pulumi.xgen.yaml: the compose host (xgen-gpu-1)
	app := func(ns, svc string) string { return ns + "/" + svc }
	x := func(svc string) string { return app("xgen", svc) }
	obs := func(name string) string { return app("xgen-observability", name) }
	// The observability add-on (xgen, xgen-jeju): Prometheus scrapes the services on their
	// metrics port and the exporters; Grafana asks Prometheus and is reached on its node port.
	observabilityFlows := []flow{
		{obs("prometheus"), x("xgen-core"), "TCP", 8000, true},
		{obs("prometheus"), x("xgen-core"), "TCP", 22, false},
		{obs("grafana"), x("xgen-core"), "TCP", 8000, false},
		{obs("kube-state-metrics"), x("xgen-core"), "TCP", 8000, false},
		{obs("prometheus"), obs("kube-state-metrics"), "TCP", 8080, true},
		{obs("prometheus"), obs("node-exporter"), "TCP", 9100, true},
		{obs("prometheus"), obs("blackbox-exporter"), "TCP", 9115, true},
		{intruder, obs("blackbox-exporter"), "TCP", 9115, false},
		{obs("grafana"), obs("blackbox-exporter"), "TCP", 9115, false},
		{obs("grafana"), obs("prometheus"), "TCP", 9090, true},
		{outside, obs("grafana"), "TCP", 3000, true},
		{outside, obs("prometheus"), "TCP", 9090, false},
		{intruder, obs("prometheus"), "TCP", 9090, false},
		{intruder, obs("kube-state-metrics"), "TCP", 8080, false},
		{intruder, obs("node-exporter"), "TCP", 9100, false},
		{obs("grafana"), obs("kube-state-metrics"), "TCP", 8080, false},
		{x("xgen-core"), obs("prometheus"), "TCP", 9090, false},
		// Logs: the collector to Loki; Grafana reads Loki; nobody else.
		{obs("otel-collector"), obs("loki"), "TCP", 3100, true},
		{obs("grafana"), obs("loki"), "TCP", 3100, true},
		{intruder, obs("loki"), "TCP", 3100, false},
		{x("xgen-core"), obs("loki"), "TCP", 3100, false},
	}
	// Traces (xgen): the services send spans to the collector, the collector to Tempo,
	// Grafana reads Tempo.
	traceFlows := []flow{
		// xgen's Grafana is behind the site's gateway, at /grafana/.
		{gateway, obs("grafana"), "TCP", 3000, true},
		// The compose project's exporters on xgen's compose host: Prometheus scrapes them; a
		// service that uses the database reaches its port, not its exporter's.
		{obs("prometheus"), xgenHost, "TCP", 9187, true},
		{obs("prometheus"), xgenHost, "TCP", 9121, true},
		{x("xgen-core"), xgenHost, "TCP", 9187, false},
		{x("xgen-core"), xgenHost, "TCP", 9121, false},
		// xgen has a GPU host: its DCGM exporter is scraped by Prometheus alone.
		{obs("prometheus"), obs("dcgm-exporter"), "TCP", 9400, true},
		{intruder, obs("dcgm-exporter"), "TCP", 9400, false},
		{x("xgen-core"), obs("otel-collector"), "TCP", 4318, true},
		{x("xgen-frontend"), obs("otel-collector"), "TCP", 4318, true},
		{x("xgen-core"), obs("otel-collector"), "TCP", 4317, false},
		{x("xgen-core"), obs("tempo"), "TCP", 4317, false},
		{intruder, obs("otel-collector"), "TCP", 4318, false},
		{obs("otel-collector"), obs("tempo"), "TCP", 4317, true},
		{obs("grafana"), obs("tempo"), "TCP", 3200, true},
		{obs("grafana"), obs("tempo"), "TCP", 4317, false},
		{intruder, obs("tempo"), "TCP", 3200, false},
	}
	// One flow opened for one service (docs/configuration.md "Outbound traffic"): the
	// customer's ERP API for xgen-workflow, nothing more, and the catalog's flow turned off.
	openERP := func(site map[string]any) {
		site["services"].(map[string]any)["xgen-workflow"] = map[string]any{"egress": map[string]any{
			"erp":        map[string]any{"cidrs": []any{"10.20.0.0/16"}, "ports": []any{8443}},
			"model-apis": map[string]any{"enabled": false},
		}}
	}
	cases := []struct {
		stackFile string
		edit      func(site map[string]any)
		flows     []flow
	}{
		{"Pulumi.xgen.yaml", nil, []flow{
			// The gateway reaches the entry points, on their ports only.
			{gateway, x("xgen-frontend"), "TCP", 3000, true},
			{gateway, x("xgen-backend-gateway"), "TCP", 8000, true},
			{gateway, x("xgen-frontend"), "TCP", 8000, false},
			{gateway, x("xgen-core"), "TCP", 8000, false},
			{gateway, x("xgen-model"), "TCP", 8000, false},
			// Who calls whom.
			{x("xgen-frontend"), x("xgen-backend-gateway"), "TCP", 8000, true},
			{x("xgen-backend-gateway"), x("xgen-core"), "TCP", 8000, true},
			{x("xgen-backend-gateway"), x("xgen-workflow"), "TCP", 8000, true},
			{x("xgen-backend-gateway"), x("xgen-documents"), "TCP", 8000, true},
			{x("xgen-backend-gateway"), x("xgen-mcp-station"), "TCP", 8000, true},
			{x("xgen-core"), x("xgen-model"), "TCP", 8000, true},
			{x("xgen-workflow"), x("xgen-core"), "TCP", 8000, true},
			{x("xgen-frontend"), x("xgen-core"), "TCP", 8000, false},        // past the API gateway
			{x("xgen-core"), x("xgen-backend-gateway"), "TCP", 8000, false}, // no call back
			{x("xgen-backend-gateway"), x("xgen-model"), "TCP", 8000, false},
			{x("xgen-mcp-station"), x("xgen-workflow"), "TCP", 8000, false},
			{x("xgen-backend-gateway"), x("xgen-core"), "TCP", 22, false},
			// The infra on the compose host, on its ports only, for the services that use it.
			{x("xgen-core"), xgenHost, "TCP", 5432, true},
			{x("xgen-core"), xgenHost, "TCP", 6379, true},
			{x("xgen-core"), xgenHost, "TCP", 6333, true},
			{x("xgen-core"), xgenHost, "TCP", 6334, true},
			{x("xgen-core"), xgenHost, "TCP", 9000, true},
			{x("xgen-backend-gateway"), xgenHost, "TCP", 5432, true},
			{x("xgen-backend-gateway"), xgenHost, "TCP", 6333, false},
			{x("xgen-mcp-station"), xgenHost, "TCP", 9000, false},
			{x("xgen-frontend"), xgenHost, "TCP", 5432, false},
			{x("xgen-core"), xgenHost, "TCP", 22, false}, // the host's SSH
			{x("xgen-core"), internet, "TCP", 443, false},
			// The catalog's flows to the internet (services.<name>.egress): on their ports
			// only, and "the internet" is not the private networks around the site.
			{x("xgen-workflow"), internet, "TCP", 443, true},
			{x("xgen-workflow"), internet, "TCP", 80, false},
			{x("xgen-workflow"), "10.30.0.5", "TCP", 443, false},
			{x("xgen-workflow"), "192.168.10.5", "TCP", 443, false},
			{x("xgen-workflow"), "172.20.0.5", "TCP", 443, false},
			{x("xgen-workflow"), "100.64.0.9", "TCP", 443, false},
			{x("xgen-workflow"), "169.254.169.254", "TCP", 80, false}, // a cloud's metadata service
			{x("xgen-mcp-station"), internet, "TCP", 80, true},
			{x("xgen-mcp-station"), internet, "TCP", 443, true},
			{x("xgen-mcp-station"), internet, "TCP", 22, false},
			{x("xgen-model"), internet, "TCP", 443, true},
			{x("xgen-model"), intruder, "TCP", 443, false}, // other pods are not the internet
			{x("xgen-frontend"), internet, "TCP", 443, false},
			{x("xgen-backend-gateway"), internet, "TCP", 443, false},
			{x("xgen-documents"), internet, "TCP", 443, false},
			// DNS for everyone, nothing else in kube-system.
			{x("xgen-frontend"), coredns, "UDP", 53, true},
			{x("xgen-core"), coredns, "TCP", 53, true},
			{x("xgen-core"), coredns, "TCP", 9153, false},
			// Nobody else gets in.
			{intruder, x("xgen-core"), "TCP", 8000, false},
			{intruder, x("xgen-frontend"), "TCP", 3000, false},
			{outside, x("xgen-frontend"), "TCP", 3000, false},
			{x("xgen-core"), intruder, "TCP", 8000, false},
		}},
		{"Pulumi.xgen.yaml", nil, append(observabilityFlows, append(traceFlows,
			// The frontend serves no metrics (catalog metrics.enabled: false): Prometheus is
			// not let in (on xgen-jeju its node port takes anyone, Prometheus too).
			flow{obs("prometheus"), x("xgen-frontend"), "TCP", 3000, false})...)},
		{"Pulumi.xgen-jeju.yaml", nil, append(observabilityFlows,
			flow{x("xgen-core"), obs("otel-collector"), "TCP", 4318, false})}, // no traces there
		// No domain: the frontend's node port takes clients from anywhere; nothing else does.
		{"Pulumi.xgen-jeju.yaml", nil, []flow{
			{outside, x("xgen-frontend"), "TCP", 3000, true},
			{outside, x("xgen-backend-gateway"), "TCP", 8000, false},
			{gateway, x("xgen-backend-gateway"), "TCP", 8000, false},
			{x("xgen-frontend"), x("xgen-backend-gateway"), "TCP", 8000, true},
			{intruder, x("xgen-frontend"), "TCP", 3000, true},        // the node port's clients come from anywhere
			{x("xgen-core"), x("xgen-frontend"), "TCP", 3000, false}, // but core's egress is its own
			{x("xgen-core"), x("xgen-backend-gateway"), "TCP", 8000, false},
		}},
		// External infra by IP; S3 known only by name: any address, on 443 only.
		{"Pulumi.xgen-aww.yaml", nil, []flow{
			{gateway, x("xgen-frontend"), "TCP", 3000, true},
			{x("xgen-core"), "10.100.1.70", "TCP", 5432, true},
			{x("xgen-core"), "10.100.1.70", "TCP", 6334, true},
			{x("xgen-core"), "10.100.1.71", "TCP", 5432, false},
			{x("xgen-documents"), "52.95.0.1", "TCP", 443, true},
			{x("xgen-documents"), "52.95.0.1", "TCP", 80, false},
			{x("xgen-backend-gateway"), "52.95.0.1", "TCP", 443, false}, // no object storage, no internet
			{x("xgen-mcp-station"), "52.95.0.1", "TCP", 443, true},      // its web flow: the internet on 443
			{gateway, x("xgen-core"), "TCP", 8000, false},
			// The cluster's own Prometheus (externalMonitoring) scrapes the services' metrics
			// port; its neighbours do not, nor does it reach anything else.
			{"monitoring/prometheus", x("xgen-core"), "TCP", 8000, true},
			{"monitoring/prometheus", x("xgen-frontend"), "TCP", 3000, false}, // it serves no metrics
			{"monitoring/grafana", x("xgen-core"), "TCP", 8000, false},
			{"monitoring/prometheus", x("xgen-core"), "TCP", 22, false},
			{intruder, x("xgen-core"), "TCP", 8000, false},
		}},
		// Its own namespace: the same flows there. A closed network: nothing to the internet.
		{"Pulumi.lotteimall.yaml", nil, []flow{
			{gateway, app("lotteimall", "xgen-frontend"), "TCP", 3000, true},
			{app("lotteimall", "xgen-backend-gateway"), app("lotteimall", "xgen-core"), "TCP", 8000, true},
			{intruder, app("lotteimall", "xgen-core"), "TCP", 8000, false},
			{app("lotteimall", "xgen-workflow"), internet, "TCP", 443, false},
			{app("lotteimall", "xgen-mcp-station"), internet, "TCP", 443, false},
			{app("lotteimall", "xgen-mcp-station"), internet, "TCP", 80, false},
		}},
		{"Pulumi.xgen-jeju.yaml", openERP, []flow{
			{x("xgen-workflow"), "10.20.3.4", "TCP", 8443, true},
			{x("xgen-workflow"), "10.20.3.4", "TCP", 443, false},
			{x("xgen-workflow"), "10.21.3.4", "TCP", 8443, false},
			{x("xgen-workflow"), internet, "TCP", 443, false}, // the catalog's flow, turned off
			{x("xgen-core"), "10.20.3.4", "TCP", 8443, false},
			{x("xgen-mcp-station"), internet, "TCP", 443, true}, // other services keep theirs
		}},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d-%s", i, tc.stackFile), func(t *testing.T) {
			objs, err := sitetest.SiteObjects(tc.stackFile, tc.edit)
			if err != nil {
				t.Fatal(err)
			}
			pe := policyEngine(t, sitetest.View{Objs: objs})
			for _, f := range tc.flows {
				got, err := pe.CheckIfAllowed(f.src, f.dst, f.proto, strconv.Itoa(f.port))
				if err != nil {
					t.Fatalf("%s -> %s %s/%d: %v", f.src, f.dst, f.proto, f.port, err)
				}
				if got != f.allowed {
					t.Errorf("%s -> %s %s/%d: allowed %v, want %v", f.src, f.dst, f.proto, f.port, got, f.allowed)
				}
			}
		})
	}
}

// TestNetworkPolicyOffLeavesNoPolicy: networkPolicy.enabled false registers no policy.
func TestNetworkPolicyOffLeavesNoPolicy(t *testing.T) {
	rec, err := sitetest.RunStack("Pulumi.xgen-jeju.yaml", func(site map[string]any) {
		site["networkPolicy"] = map[string]any{"enabled": false}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.Resources {
		if r.Type == "kubernetes:networking.k8s.io/v1:NetworkPolicy" {
			t.Errorf("policy %s registered with networkPolicy.enabled false", r.Name)
		}
	}
}

// policyEngine loads the site's NetworkPolicies, one pod per Deployment (its template's
// labels) and the pods around the site into the evaluator.
func policyEngine(t *testing.T, v sitetest.View) *eval.PolicyEngine {
	t.Helper()
	var policies []*netv1.NetworkPolicy
	pods := []*corev1.Pod{gatewayPod, traefikPod, corednsPod, intruderPod, customerPrometheusPod, customerGrafanaPod}
	namespaces := map[string]bool{"istio-system": true, "kube-system": true, "intruder": true, "monitoring": true}
	for i, o := range v.Objs {
		switch o.Kind {
		case "NetworkPolicy":
			var np netv1.NetworkPolicy
			if err := convert(o.Body, &np); err != nil {
				t.Fatalf("NetworkPolicy %s: %v", o.Name, err)
			}
			policies = append(policies, &np)
			namespaces[o.Namespace] = true
		case "Deployment", "DaemonSet":
			labels := map[string]string{}
			if err := convert(inprocess.Get(o.Body, "spec", "template", "metadata", "labels"), &labels); err != nil {
				t.Fatal(err)
			}
			p := podAt(o.Namespace, o.Name, labels)
			p.Status.PodIPs = []corev1.PodIP{{IP: fmt.Sprintf("10.42.1.%d", i%250+1)}}
			p.Status.PodIP = p.Status.PodIPs[0].IP
			pods = append(pods, p)
			namespaces[o.Namespace] = true
		}
	}
	if len(policies) == 0 {
		t.Fatal("the site has no NetworkPolicy")
	}
	var nsObjs []*corev1.Namespace
	for ns := range namespaces {
		nsObjs = append(nsObjs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"kubernetes.io/metadata.name": ns}}})
	}
	pe := eval.NewPolicyEngine()
	if err := pe.SetResources(policies, pods, nsObjs); err != nil {
		t.Fatal(err)
	}
	return pe
}

var podIP = 0

// podAt is a running pod on a node that hosts none of the infra (a pod may always reach
// its own node, which would hide the infra rules).
func podAt(ns, name string, labels map[string]string) *corev1.Pod {
	podIP++
	ip := fmt.Sprintf("10.42.9.%d", podIP)
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, HostIP: "172.31.0.1", PodIP: ip,
			PodIPs: []corev1.PodIP{{IP: ip}}},
	}
}

func convert(in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}
