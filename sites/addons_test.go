package sites

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// istioSite is a site with a domain on a one-server cluster, plus extra cluster lines.
func istioSite(clusterLines string) string {
	return "environment: prd\nenvironments: {prd: {domain: agent.example.com}}\n" + clusterSite(oneServer+clusterLines)
}

func TestIstioDefaults(t *testing.T) {
	cases := []struct {
		name, site string
		want       bool
	}{
		{"a domain on our cluster", istioSite(""), true},
		{"no domain: reached by IP", clusterSite(oneServer), false},
		{"traefik", "ingress: {type: traefik}\n" + istioSite(""), false},
		{"someone else's gateway", "ingress: {sharedGateway: istio-system/shared}\n" + istioSite(""), false},
		{"asked for without a domain", clusterSite(oneServer + "  addons: {istio: {enabled: true}}\n"), true},
		{"switched off", istioSite("  addons: {istio: {enabled: false}}\n"), false},
		{"no cluster of ours", "environment: prd\nenvironments: {prd: {domain: agent.example.com}}\n" + minimalSite, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			site := mustParse(t, tc.site)
			if got := site.Config.IstioEnabled(); got != tc.want {
				t.Errorf("Istio enabled = %v, want %v", got, tc.want)
			}
		})
	}
	is := mustParse(t, istioSite("")).Config.Cluster.Addons.Istio
	if is.Version != DefaultIstioVersion || is.Charts != DefaultIstioChartRepo || is.Hub != DefaultIstioHub ||
		is.Namespace != "istio-system" || is.Gateway.ServiceType != "LoadBalancer" || is.Gateway.Replicas != 1 ||
		is.Gateway.HTTPNodePort != 0 {
		t.Errorf("defaults: %+v", is)
	}
	np := mustParse(t, istioSite("  addons: {istio: {gateway: {serviceType: NodePort}}}\n")).Config.Cluster.Addons.Istio.Gateway
	if np.HTTPNodePort != DefaultIstioHTTPNodePort || np.HTTPSNodePort != DefaultIstioHTTPSNodePort {
		t.Errorf("node port defaults: %+v", np)
	}
}

func TestIstioChartSources(t *testing.T) {
	repo := &IstioConfig{Charts: DefaultIstioChartRepo, Version: "1.31.1"}
	if got := repo.IstioChart("istiod"); got != (IstioChartRef{Chart: "istiod", Repo: DefaultIstioChartRepo, Version: "1.31.1"}) {
		t.Errorf("repository chart: %+v", got)
	}
	local := &IstioConfig{Charts: "/opt/istio-1.31.1/manifests/charts", Version: "1.31.1"}
	if got := local.IstioChart("istiod"); got != (IstioChartRef{Chart: "/opt/istio-1.31.1/manifests/charts/istio-control/istio-discovery"}) {
		t.Errorf("local chart: %+v", got)
	}
}

// A closed network's local charts directory is accepted only when it holds all three charts.
func TestIstioLocalCharts(t *testing.T) {
	dir := t.TempDir()
	for _, rel := range IstioChartDirs {
		if err := os.MkdirAll(filepath.Join(dir, rel), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel, "Chart.yaml"), []byte("name: x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustParse(t, istioSite("  addons: {istio: {charts: '"+dir+"', hub: '10.0.0.11:30500/istio'}}\n"))
	if err := os.Remove(filepath.Join(dir, "gateway", "Chart.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err := parseSite(t, istioSite("  addons: {istio: {charts: '"+dir+"'}}\n"))
	if err == nil || !strings.Contains(err.Error(), "xgen-infra:site.cluster.addons.istio.charts") || !strings.Contains(err.Error(), "gateway/Chart.yaml is missing") {
		t.Errorf("a charts directory without the gateway chart: %v", err)
	}
}

func TestBadIstioConfigs(t *testing.T) {
	cases := []badConfig{
		{"with traefik", "ingress: {type: traefik}\n" + istioSite("  addons: {istio: {enabled: true}}\n"), "site.cluster.addons.istio.enabled", "ingress.type is \"traefik\""},
		{"with a shared gateway", "ingress: {sharedGateway: istio-system/shared}\n" + istioSite("  addons: {istio: {enabled: true}}\n"), "site.cluster.addons.istio.enabled", "someone else's"},
		{"version", istioSite("  addons: {istio: {version: latest}}\n"), "site.cluster.addons.istio.version", "Istio release like \"1.31.1\""},
		{"version with v", istioSite("  addons: {istio: {version: v1.31.1}}\n"), "site.cluster.addons.istio.version", "Istio release"},
		{"charts url", istioSite("  addons: {istio: {charts: 'ftp://charts.example.com'}}\n"), "site.cluster.addons.istio.charts", "Helm repository URL"},
		{"charts in an OCI registry", istioSite("  addons: {istio: {charts: 'oci://registry.example.com/istio'}}\n"), "site.cluster.addons.istio.charts", "https:// or http://"},
		{"charts dir", istioSite("  addons: {istio: {charts: /nonexistent/charts}}\n"), "site.cluster.addons.istio.charts", "base/Chart.yaml is missing"},
		{"hub with tag", istioSite("  addons: {istio: {hub: 'docker.io/istio:1.31.1'}}\n"), "site.cluster.addons.istio.hub", "without tag"},
		{"namespace", istioSite("  addons: {istio: {namespace: Istio}}\n"), "site.cluster.addons.istio.namespace", "lowercase DNS label"},
		{"namespace of the apps", istioSite("  addons: {istio: {namespace: xgen}}\n"), "site.cluster.addons.istio.namespace", "its own"},
		{"service type", istioSite("  addons: {istio: {gateway: {serviceType: ClusterIP}}}\n"), "site.cluster.addons.istio.gateway.serviceType", "LoadBalancer or NodePort"},
		{"load balancer without servicelb", istioSite("  disable: [servicelb]\n  addons: {istio: {}}\n"), "site.cluster.addons.istio.gateway.serviceType", "ServiceLB"},
		{"node port with load balancer", istioSite("  addons: {istio: {gateway: {httpNodePort: 30080}}}\n"), "site.cluster.addons.istio.gateway.httpNodePort", "only used with serviceType: NodePort"},
		{"node port range", istioSite("  addons: {istio: {gateway: {serviceType: NodePort, httpNodePort: 8080}}}\n"), "site.cluster.addons.istio.gateway.httpNodePort", "30000 to 32767"},
		{"same node ports", istioSite("  addons: {istio: {gateway: {serviceType: NodePort, httpNodePort: 30100, httpsNodePort: 30100}}}\n"), "site.cluster.addons.istio.gateway.httpsNodePort", "their own node ports"},
		{"replicas", istioSite("  addons: {istio: {gateway: {replicas: 50}}}\n"), "site.cluster.addons.istio.gateway.replicas", "1 to 10"},
	}
	checkBadConfigs(t, cases)
}

func TestAddonsBogusFieldFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/addons-bogus-field.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = parseSite(t, string(data))
	if err == nil || !strings.Contains(err.Error(), "xgen-infra:site.cluster.addons.istio.gateway.servicetype") || !strings.Contains(err.Error(), `did you mean "serviceType"`) {
		t.Errorf("a misspelt add-on field: %v", err)
	}
}

func TestRegistryAddonDefaults(t *testing.T) {
	off := mustParse(t, istioSite(""))
	if off.Config.RegistryAddonEnabled() {
		t.Error("the registry add-on runs without being asked for")
	}
	r := mustParse(t, istioSite("  addons: {registry: {enabled: true}}\n")).Config.Cluster.Addons.Registry
	if r.Image != DefaultRegistryAddonImage || r.NodePort != 30500 || r.Storage != "50Gi" || r.StorageClass != "local-path" ||
		r.Namespace != "xgen-registry" || r.RemoveDataOnDestroy {
		t.Errorf("defaults: %+v", r)
	}
}

func TestBadRegistryAddonConfigs(t *testing.T) {
	on := func(fields string) string { return istioSite("  addons: {registry: {enabled: true" + fields + "}}\n") }
	cases := []badConfig{
		{"latest image", on(", image: 'registry:latest'"), "site.cluster.addons.registry.image", "pinned tag"},
		{"untagged image", on(", image: registry"), "site.cluster.addons.registry.image", "pinned tag"},
		{"node port range", on(", nodePort: 5000"), "site.cluster.addons.registry.nodePort", "30000 to 32767"},
		{"node port of the frontend", clusterSite(oneServer + "  addons: {registry: {enabled: true, nodePort: 30080}}\n"), "site.cluster.addons.registry.nodePort", "is also ingress.nodePort"},
		{"node port of the gateway", istioSite("  addons: {registry: {enabled: true, nodePort: 31080}, istio: {gateway: {serviceType: NodePort}}}\n"), "site.cluster.addons.registry.nodePort", "httpNodePort"},
		{"storage", on(", storage: fifty"), "site.cluster.addons.registry.storage", "a size like"},
		{"local storage disabled", istioSite("  disable: [local-storage]\n  addons: {registry: {enabled: true}}\n"), "site.cluster.addons.registry.storageClass", "cluster.disable removes"},
		{"namespace of the infra", on(", namespace: xgen-system"), "site.cluster.addons.registry.namespace", "its own"},
	}
	checkBadConfigs(t, cases)
}
