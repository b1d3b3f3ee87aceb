package sites

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
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

func TestBadObservabilityConfigs(t *testing.T) {
	const k = "site.cluster.addons.observability"
	on := func(fields string) string {
		return istioSite("  addons: {observability: {enabled: true" + fields + "}}\n")
	}
	cases := []badConfig{
		{"namespace of the site", on(", namespace: xgen"), k + ".namespace", "its own"},
		{"namespace not a label", on(", namespace: Obs_NS"), k + ".namespace", "namespace name"},
		{"retention", on(", prometheus: {retention: 2 weeks}"), k + ".prometheus.retention", "Prometheus duration"},
		{"zero retention", on(", prometheus: {retention: 0s}"), k + ".prometheus.retention", "Prometheus duration"},
		{"volume size", on(", prometheus: {volumeSize: big}"), k + ".prometheus.volumeSize", "a size like"},
		{"remote write with credentials", on(", prometheus: {remoteWriteURL: 'https://user:pw@prom.example.com/api/v1/write'}"), k + ".prometheus.remoteWriteURL", "without credentials"},
		{"remote write not http", on(", prometheus: {remoteWriteURL: 'ftp://prom.example.com'}"), k + ".prometheus.remoteWriteURL", "http(s) URL"},
		{"node port range", on(", grafana: {nodePort: 3000}"), k + ".grafana.nodePort", "30000 to 32767"},
		{"node port of the frontend", clusterSite(oneServer + "  addons: {observability: {enabled: true, grafana: {nodePort: 30080}}}\n"), k + ".grafana.nodePort", "is also ingress.nodePort"},
		{"node port of the registry", on(", grafana: {nodePort: 30500}}, registry: {enabled: true"), k + ".grafana.nodePort", "is also cluster.addons.registry.nodePort"},
		{"registry on grafana's port", on(", grafana: {nodePort: 30300}}, registry: {enabled: true, nodePort: 30300"), "site.cluster.addons.registry.nodePort", "is also cluster.addons.observability.grafana.nodePort"},
		{"grafana path over plain HTTP", on(", grafana: {path: /grafana/}"), k + ".grafana.path", "in the clear"},
		{"exposeOverHTTP without a route", clusterSite(oneServer + "  addons: {observability: {enabled: true, grafana: {exposeOverHTTP: true}}}\n"), k + ".grafana.exposeOverHTTP", "has no effect"},
		{"grafana path malformed", on(", grafana: {path: /grafana, exposeOverHTTP: true}"), k + ".grafana.path", "starts and ends"},
		{"grafana path at the root", on(", grafana: {path: /, exposeOverHTTP: true}"), k + ".grafana.path", "starts and ends"},
		{"grafana path without a domain", clusterSite(oneServer + "  addons: {observability: {enabled: true, grafana: {path: /grafana/}}}\n"), k + ".grafana.path", "has no effect"},
		{"latest image", on(", images: {grafana: 'grafana/grafana:latest'}"), k + ".images.grafana", "pinned tag"},
		{"untagged image", on(", images: {prometheus: prom/prometheus}"), k + ".images.prometheus", "pinned tag"},
		{"local storage disabled", istioSite("  disable: [local-storage]\n  addons: {observability: {enabled: true}}\n"), k + ".storageClass", "cluster.disable removes"},
		{"a key with the add-on off", istioSite("  addons: {observability: {enabled: false, prometheus: {retention: 7d}}}\n"), k + ".prometheus.retention", "has no effect"},
		{"metrics path without the add-on", withCore(istioSite(""), "{metrics: {path: /prom}}"), "site.services.xgen-core.metrics.path", "has no effect"},
		{"metrics path not a path", withCore(on(""), "{metrics: {path: metrics}}"), "site.services.xgen-core.metrics.path", "URL path"},
		{"metrics port", withCore(on(""), "{metrics: {port: 70000}}"), "site.services.xgen-core.metrics.port", ""},
		{"metrics port of a service without metrics", withCore(on(""), "{metrics: {enabled: false, port: 9100}}"), "site.services.xgen-core.metrics", "metrics.enabled is false"},
		{"logs retention", on(", logs: {retention: a week}"), k + ".logs.retention", "a duration"},
		{"loki url", on(", logs: {lokiURL: 'loki:3100'}"), k + ".logs.lokiURL", "http(s) base URL"},
		{"loki url and a volume", on(", logs: {lokiURL: 'http://loki.monitoring:3100', volumeSize: 10Gi}"), k + ".logs.volumeSize", "none runs here"},
		{"logs key with logs off", on(", logs: {enabled: false, retention: 7d}"), k + ".logs.retention", "has no effect"},
		{"traces retention", on(", traces: {enabled: true, retention: 3d}"), k + ".traces.retention", "Go duration"},
		{"traces volume", on(", traces: {enabled: true, volumeSize: lots}"), k + ".traces.volumeSize", "a size like"},
		{"traces key with traces off", on(", traces: {retention: 72h}"), k + ".traces.retention", "has no effect"},
		{"tempo image with traces off", on(", images: {tempo: 'grafana/tempo:2.8.2'}"), k + ".images.tempo", "has no effect"},
		{"loki image with the customer's Loki", on(", logs: {lokiURL: 'http://loki.monitoring:3100'}, images: {loki: 'grafana/loki:3.5.3'}"), k + ".images.loki", "has no effect"},
		{"alert timer", on(", alerting: {groupWait: half a minute}"), k + ".alerting.groupWait", "Prometheus duration"},
		{"zero repeat", on(", alerting: {repeatInterval: 0s}"), k + ".alerting.repeatInterval", "Prometheus duration"},
		{"email without recipients", on(", alerting: {email: {from: a@example.com, smarthost: 'smtp.example.com:587'}}"), k + ".alerting.email.to", "is required"},
		{"email recipient with a name", on(", alerting: {email: {to: ['Ops <ops@example.com>'], from: a@example.com, smarthost: 'smtp.example.com:587'}}"), k + ".alerting.email.to[0]", "e-mail address"},
		{"email without sender", on(", alerting: {email: {to: [ops@example.com], smarthost: 'smtp.example.com:587'}}"), k + ".alerting.email.from", "sender"},
		{"smarthost without port", on(", alerting: {email: {to: [ops@example.com], from: a@example.com, smarthost: smtp.example.com}}"), k + ".alerting.email.smarthost", "host:port"},
		{"smarthost port", on(", alerting: {email: {to: [ops@example.com], from: a@example.com, smarthost: 'smtp.example.com:99999'}}"), k + ".alerting.email.smarthost", "host:port"},
		{"alerting with the add-on off", istioSite("  addons: {observability: {enabled: false, alerting: {webhook: true}}}\n"), k + ".alerting.webhook", "has no effect"},
		{"alertmanager image", on(", images: {alertmanager: 'prom/alertmanager:latest'}"), k + ".images.alertmanager", "pinned tag"},
	}
	checkBadConfigs(t, cases)
}

// TestAlertingSecrets: each receiver requires its secret and no other; a webhook URL that is
// not http(s) is refused without echoing it.
func TestAlertingSecrets(t *testing.T) {
	const email = "email: {to: [ops@example.com], from: xgen@example.com, smarthost: 'smtp.example.com:587'}"
	for _, tc := range []struct {
		alerting   string
		need, skip []string
	}{
		{"{}", nil, []string{SecretAlertWebhookURL, SecretAlertSMTPPassword}},
		{"{webhook: true}", []string{SecretAlertWebhookURL}, []string{SecretAlertSMTPPassword}},
		{"{" + email + "}", []string{SecretAlertSMTPPassword}, []string{SecretAlertWebhookURL}},
		{"{webhook: true, " + email + "}", []string{SecretAlertWebhookURL, SecretAlertSMTPPassword}, nil},
	} {
		need, _ := RequiredSecrets(map[string]string{SiteKey: mustJSON(t, istioSite("  addons: {observability: {enabled: true, alerting: "+tc.alerting+"}}\n"))})
		for _, k := range tc.need {
			if !slices.Contains(need, k) {
				t.Errorf("alerting %s: required secrets %v lack %s", tc.alerting, need, k)
			}
		}
		for _, k := range tc.skip {
			if slices.Contains(need, k) {
				t.Errorf("alerting %s: %s required without its receiver", tc.alerting, k)
			}
		}
	}

	js := mustJSON(t, istioSite("  addons: {observability: {enabled: true, alerting: {webhook: true}}}\n"))
	for _, tc := range []struct{ value, want string }{
		{"hooks.example.com/T0K3N", "xgen-infra:alertWebhookURL: is not an http(s) URL"},
		{"ftp://hooks.example.com/T0K3N", "xgen-infra:alertWebhookURL: is not an http(s) URL"},
		{"https://hooks.example.com/T0K3N", ""},
	} {
		cfg, keys := requiredSecrets(js)
		cfg[SiteKey] = js
		cfg[ConfigNamespace+":"+SecretAlertWebhookURL] = tc.value
		_, err := Parse("acme", cfg, keys)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s refused: %v", tc.value, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want %q, got %v", tc.value, tc.want, err)
		} else if strings.Contains(err.Error(), "T0K3N") {
			t.Errorf("the message echoes the webhook's token: %v", err)
		}
	}

	// Defaults: the e-mail login is the sender, STARTTLS required.
	site := mustParse(t, istioSite("  addons: {observability: {enabled: true, alerting: {"+email+"}}}\n"))
	a := site.Config.Cluster.Addons.Observability.Alerting
	if a.Email.Username != "xgen@example.com" || !*a.Email.RequireTLS || a.GroupWait != "30s" || a.GroupInterval != "5m" || a.RepeatInterval != "4h" {
		t.Errorf("alerting defaults: %+v %+v", a, *a.Email)
	}
}

// The add-on's defaults, its secret and its images.
func TestObservabilityDefaults(t *testing.T) {
	site, err := parseSite(t, istioSite("  addons: {observability: {enabled: true}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	o := site.Config.Cluster.Addons.Observability
	// A site routed by Istio on a domain over plain HTTP: Grafana is not put on the domain
	// (its admin password would cross the network in the clear), it stays on its node port.
	if o.Namespace != DefaultObservabilityNamespace || o.Prometheus.Retention != "15d" || o.Prometheus.VolumeSize != "20Gi" ||
		o.Grafana.Path != "" || o.Grafana.NodePort != 30300 || o.StorageClass != "local-path" || o.Images != DefaultObservabilityImages {
		t.Errorf("defaults: %+v", o)
	}
	// Over TLS, or when the operator accepts plain HTTP: on a path of the domain, no node port.
	withTLS := "environment: prd\nenvironments: {prd: {domain: agent.example.com, tlsCredentialName: agent-tls}}\n" +
		clusterSite(oneServer+"  addons: {observability: {enabled: true}}\n")
	for name, text := range map[string]string{
		"tls":            withTLS,
		"exposeOverHTTP": istioSite("  addons: {observability: {enabled: true, grafana: {exposeOverHTTP: true}}}\n"),
	} {
		s, err := parseSite(t, text)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if g := s.Config.Cluster.Addons.Observability.Grafana; g.Path != "/grafana/" || g.NodePort != 0 {
			t.Errorf("grafana with %s: %+v", name, g)
		}
	}
	// A site without a domain: on a node port.
	byIP, err := parseSite(t, clusterSite(oneServer+"  addons: {observability: {enabled: true}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if g := byIP.Config.Cluster.Addons.Observability.Grafana; g.Path != "" || g.NodePort != 30300 {
		t.Errorf("grafana without a domain: %+v", g)
	}
	need, _ := RequiredSecrets(map[string]string{SiteKey: mustJSON(t, istioSite("  addons: {observability: {enabled: true}}\n"))})
	if !slices.Contains(need, SecretGrafanaAdminPassword) {
		t.Errorf("required secrets %v lack %s", need, SecretGrafanaAdminPassword)
	}
	images, err := site.Images()
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, im := range images {
		refs = append(refs, im.Ref)
	}
	for _, want := range []string{o.Images.Prometheus, o.Images.Grafana, o.Images.KubeStateMetrics, o.Images.NodeExporter} {
		if !slices.Contains(refs, want) {
			t.Errorf("image list lacks %s", want)
		}
	}
	for _, svc := range site.Services {
		if *svc.Spec.Metrics.Path != "/metrics" || svc.MetricsPort() != *svc.Spec.Port {
			t.Errorf("%s: metrics %s:%d", svc.Name, *svc.Spec.Metrics.Path, svc.MetricsPort())
		}
		// Next.js serves no metrics by default: the catalog says so, every other service has them.
		if want := svc.Name != "xgen-frontend"; svc.Scraped() != want {
			t.Errorf("%s: scraped %v, want %v", svc.Name, svc.Scraped(), want)
		}
		if _, set := svc.Config["OTEL_EXPORTER_OTLP_ENDPOINT"]; set {
			t.Errorf("%s is pointed at a collector without traces", svc.Name)
		}
	}
	if !*o.Logs.Enabled || o.Logs.Retention != "7d" || o.Logs.VolumeSize != "10Gi" || o.Traces.Enabled || o.Traces.Retention != "" {
		t.Errorf("logs and traces defaults: %+v %+v", o.Logs, o.Traces)
	}
}

// With traces, every service gets the OpenTelemetry variables (as whom: its own name); the
// images follow what runs.
func TestObservabilityTraces(t *testing.T) {
	site, err := parseSite(t, istioSite("  addons: {observability: {enabled: true, traces: {enabled: true}, logs: {lokiURL: 'http://loki.monitoring:3100'}}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range site.Services {
		if svc.Config["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://otel-collector.xgen-observability.svc.cluster.local:4318" ||
			svc.Config["OTEL_SERVICE_NAME"] != svc.Name || svc.ConfigSource["OTEL_SERVICE_NAME"] != LayerGlobal {
			t.Errorf("%s: %v", svc.Name, svc.Config)
		}
	}
	images, _ := site.Images()
	var fors []string
	for _, im := range images {
		fors = append(fors, im.For)
	}
	if !slices.Contains(fors, "tempo") || !slices.Contains(fors, "otel-collector") || slices.Contains(fors, "loki") {
		t.Errorf("images for %v: want tempo and the collector, no loki (the customer's)", fors)
	}
	if site.Config.RunsLoki() || !site.Config.LogsEnabled() {
		t.Error("the customer's Loki: logs shipped, none run")
	}
}

// withCore sets the site's xgen-core entry.
func withCore(site, spec string) string {
	return strings.Replace(site, "  xgen-core: {}", "  xgen-core: "+spec, 1)
}

func mustJSON(t *testing.T, siteYAML string) string {
	t.Helper()
	js, err := yamlToJSON([]byte(siteYAML))
	if err != nil {
		t.Fatal(err)
	}
	return string(js)
}

// The infra is probed where the services reach it: the host Services' names on a compose
// site, the external address otherwise.
func TestInfraProbes(t *testing.T) {
	site, err := parseSite(t, istioSite("  addons: {observability: {enabled: true}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range site.InfraProbes() {
		got[p.Name] = p.Address
	}
	want := map[string]string{
		"postgres": "postgresql.xgen-system.svc.cluster.local:5432", "redis": "redis.xgen-system.svc.cluster.local:6379",
		"qdrant": "qdrant.xgen-system.svc.cluster.local:6333", "objectStorage": "minio.xgen-system.svc.cluster.local:9000",
	}
	if !maps.Equal(got, want) {
		t.Errorf("probes %v, want %v", got, want)
	}
	external, err := parseSite(t, strings.Replace(istioSite("  addons: {observability: {enabled: true}}\n"), "services:", "infra: {postgres: {host: 10.100.1.70}}\nservices:", 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range external.InfraProbes() {
		if p.Name == "postgres" && p.Address != "10.100.1.70:5432" {
			t.Errorf("external postgres probed at %s", p.Address)
		}
	}
}

// Bring your own monitoring: the cluster's Prometheus, named by namespace and pod labels.
func TestExternalMonitoring(t *testing.T) {
	const em = "externalMonitoring: {prometheus: {namespace: monitoring, podLabels: {app.kubernetes.io/name: prometheus}}}\n"
	site := mustParse(t, minimalSite+em)
	sc := site.Config.ExternalScraper()
	if sc == nil || sc.Namespace != "monitoring" || sc.PodLabels["app.kubernetes.io/name"] != "prometheus" {
		t.Errorf("scraper %+v", sc)
	}
	if mustParse(t, minimalSite).Config.ExternalScraper() != nil {
		t.Error("a scraper without externalMonitoring")
	}
	const k = "site.externalMonitoring"
	checkBadConfigs(t, []badConfig{
		{"no prometheus", minimalSite + "externalMonitoring: {}\n", k + ".prometheus", "is required"},
		{"namespace", minimalSite + "externalMonitoring: {prometheus: {namespace: Monitoring, podLabels: {app: prometheus}}}\n", k + ".prometheus.namespace", "lowercase DNS label"},
		{"no pod labels", minimalSite + "externalMonitoring: {prometheus: {namespace: monitoring}}\n", k + ".prometheus.podLabels", "is required"},
		{"bad label value", minimalSite + "externalMonitoring: {prometheus: {namespace: monitoring, podLabels: {app: 'prom etheus'}}}\n", k + ".prometheus.podLabels.app", "label value"},
		{"with the add-on", istioSite("  addons: {observability: {enabled: true}}\n") + em, k, "keep the add-on"},
	})
}

// gpuServer is a one-server cluster whose server is a GPU host.
const gpuServer = "  servers: [{name: s1, address: 10.0.0.11, gpu: true, hostKey: '" + hostKey + "'}]\n"

// The GPU add-on follows the hosts: on with a GPU host (K3s' own RuntimeClasses disabled,
// the device plugin among the site's images), off without one.
func TestGPUAddonDefaults(t *testing.T) {
	plain := mustParse(t, clusterSite(oneServer))
	if plain.Config.GPUAddonEnabled() || plain.Config.Cluster.Addons.GPU != nil || slices.Contains(plain.ClusterDisable(), K3sRuntimesComponent) {
		t.Errorf("a site without GPU hosts runs the GPU add-on: %+v, disable %v", plain.Config.Cluster.Addons.GPU, plain.ClusterDisable())
	}
	gpu := mustParse(t, clusterSite(gpuServer))
	g := gpu.Config.Cluster.Addons.GPU
	if !gpu.Config.GPUAddonEnabled() || g == nil || g.DevicePluginImage != DefaultDevicePluginImage || g.TimeSlicing != nil || gpu.Config.GPUSharing() != 1 {
		t.Fatalf("GPU add-on defaults: %+v", g)
	}
	if !slices.Contains(gpu.ClusterDisable(), K3sRuntimesComponent) {
		t.Errorf("K3s' runtimes component is not disabled on a GPU site: %v", gpu.ClusterDisable())
	}
	images, err := gpu.Images()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(images, func(im SiteImage) bool {
		return im.Ref == DefaultDevicePluginImage && im.For == "nvidia-device-plugin" && im.Runtime == RuntimeCluster
	}) {
		t.Errorf("the device plugin is not among the site's images: %+v", images)
	}
	shared := mustParse(t, clusterSite(gpuServer+"  addons: {gpu: {timeSlicing: {replicas: 4}}}\n"))
	if shared.Config.GPUSharing() != 4 {
		t.Errorf("time-slicing: %d pods per GPU, want 4", shared.Config.GPUSharing())
	}
}

func TestBadGPUAddonConfigs(t *testing.T) {
	const k = "site.cluster.addons.gpu"
	gpu := func(fields string) string { return clusterSite(gpuServer + "  addons: {gpu: {" + fields + "}}\n") }
	cases := []badConfig{
		{"time-slicing without GPU hosts", clusterSite(oneServer + "  addons: {gpu: {timeSlicing: {replicas: 2}}}\n"), k, "no host of site.cluster is a GPU host"},
		{"time-slicing of one", gpu("timeSlicing: {replicas: 1}"), k + ".timeSlicing.replicas", "from 2 to 16"},
		{"time-slicing without replicas", gpu("timeSlicing: {}"), k + ".timeSlicing.replicas", "from 2 to 16"},
		{"time-slicing too far", gpu("timeSlicing: {replicas: 100}"), k + ".timeSlicing.replicas", "from 2 to 16"},
		{"latest image", gpu("devicePluginImage: 'nvcr.io/nvidia/k8s-device-plugin:latest'"), k + ".devicePluginImage", "pinned tag"},
		{"untagged image", gpu("devicePluginImage: nvcr.io/nvidia/k8s-device-plugin"), k + ".devicePluginImage", "pinned tag"},
		{"unknown key", gpu("sharing: 2"), "site.cluster.addons.gpu.sharing", ""},
	}
	checkBadConfigs(t, cases)
}
