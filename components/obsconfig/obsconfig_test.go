package obsconfig

import (
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/kubernetes" // registers kubernetes_sd_configs, as Prometheus does
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func siteArgs(remoteWrite string) PrometheusArgs {
	return PrometheusArgs{Site: "xgen", Namespace: "xgen-observability", RemoteWriteURL: remoteWrite, Probes: []Probe{
		{Name: "postgres", Address: "postgresql.xgen-system.svc.cluster.local:5432"},
		{Name: "redis", Address: "redis.xgen-system.svc.cluster.local:6379"},
	}, Services: []Target{
		{Service: "xgen-frontend", Namespace: "xgen", Port: 3000, Path: "/api/metrics"},
		{Service: "xgen-core", Namespace: "xgen", Port: 8000, Path: "/metrics"},
	}}
}

// The generated configuration is loaded by Prometheus' own loader (which validates every
// field and fills its defaults), and says what we meant.
func TestPrometheusConfigLoadsInPrometheus(t *testing.T) {
	for _, rw := range []string{"", "https://prom.example.com/api/v1/write"} {
		text, err := PrometheusConfig(siteArgs(rw))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(text, quiet)
		if err != nil {
			t.Fatalf("Prometheus refuses the config: %v\n%s", err, text)
		}
		if got := cfg.GlobalConfig.ExternalLabels.Get(LabelSite); got != "xgen" {
			t.Errorf("external label site = %q", got)
		}
		var jobs []string
		for _, sc := range cfg.ScrapeConfigs {
			jobs = append(jobs, sc.JobName)
		}
		want := "xgen-core xgen-frontend node-exporter kube-state-metrics kubelet-cadvisor infra infra-redis prometheus"
		if strings.Join(jobs, " ") != want {
			t.Errorf("jobs = %v, want %s", jobs, want)
		}
		paths := map[string]string{}
		for _, sc := range cfg.ScrapeConfigs {
			paths[sc.JobName] = sc.MetricsPath
		}
		if paths["xgen-frontend"] != "/api/metrics" || paths["xgen-core"] != "/metrics" {
			t.Errorf("metrics paths = %v", paths)
		}
		if len(cfg.RuleFiles) != 1 || cfg.RuleFiles[0] != RulesDir+"/*.yaml" {
			t.Errorf("rule files = %v", cfg.RuleFiles)
		}
		if (rw != "") != (len(cfg.RemoteWriteConfigs) == 1) || (rw != "" && cfg.RemoteWriteConfigs[0].URL.String() != rw) {
			t.Errorf("remote write %q: %v", rw, cfg.RemoteWriteConfigs)
		}
	}
}

// The relabelling, run by Prometheus' own relabel code on the labels Kubernetes discovery
// gives a pod, keeps exactly the service's pods on its metrics port and labels them with
// site, service, node and pod.
func TestServiceRelabellingGivesSiteAndServiceLabels(t *testing.T) {
	text, err := PrometheusConfig(siteArgs(""))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(text, quiet)
	if err != nil {
		t.Fatal(err)
	}
	var core *config.ScrapeConfig
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName == "xgen-core" {
			core = sc
		}
	}
	pod := func(name, port, phase string) labels.Labels {
		return labels.FromMap(map[string]string{
			model.AddressLabel: "10.42.0.7:" + port, model.JobLabel: "xgen-core",
			"__meta_kubernetes_namespace":                        "xgen",
			"__meta_kubernetes_pod_name":                         "xgen-core-7d9f-abcde",
			"__meta_kubernetes_pod_node_name":                    "node-1",
			"__meta_kubernetes_pod_phase":                        phase,
			"__meta_kubernetes_pod_label_app_kubernetes_io_name": name,
			"__meta_kubernetes_pod_container_port_number":        port,
		})
	}
	cases := []struct {
		name   string
		in     labels.Labels
		keep   bool
		labels map[string]string
	}{
		{"the service's pod on its port", pod("xgen-core", "8000", "Running"), true,
			map[string]string{"site": "xgen", "service": "xgen-core", "node": "node-1", "pod": "xgen-core-7d9f-abcde", "namespace": "xgen"}},
		{"another service's pod", pod("xgen-workflow", "8000", "Running"), false, nil},
		{"another port of the pod", pod("xgen-core", "9090", "Running"), false, nil},
		{"a pod not running", pod("xgen-core", "8000", "Pending"), false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lb := labels.NewBuilder(tc.in)
			keep := relabel.ProcessBuilder(lb, core.RelabelConfigs...)
			if keep != tc.keep {
				t.Fatalf("kept = %v, want %v", keep, tc.keep)
			}
			got := lb.Labels()
			for k, v := range tc.labels {
				if got.Get(k) != v {
					t.Errorf("label %s = %q, want %q (all: %v)", k, got.Get(k), v, got)
				}
			}
		})
	}
}

// The rules are Prometheus rules: its own parser loads them and every expression parses.
func TestRulesLoadInPrometheus(t *testing.T) {
	groups, errs := rulefmt.Parse([]byte(Rules), false, model.UTF8Validation, parser.NewParser(parser.Options{}), quiet)
	if len(errs) > 0 {
		t.Fatalf("rules: %v", errs)
	}
	alerts := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			if r.Annotations["summary"] == "" || r.Annotations["action"] == "" || r.Labels["severity"] == "" {
				t.Errorf("%s: needs a summary, an action and a severity", r.Alert)
			}
		}
	}
	for _, want := range []string{"PodCrashLooping", "DeploymentUnavailable", "NodeNotReady", "DiskFilling", "DiskAlmostFull", "TargetDown", "InfraDown", "PostgresDown", "RedisDown", "ContainerOOMKilled", "MemoryNearLimit", "BackupStale", "CertificateExpiring"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

// The dashboard is built by Grafana's typed SDK; every query in it is PromQL that
// Prometheus' parser accepts, and it covers each service and the HPAs.
func TestSiteDashboard(t *testing.T) {
	for _, tc := range []struct {
		name string
		hpas []string
		want int // panels
	}{
		{"with HPAs", []string{"xgen-core"}, 14},
		{"without HPAs", nil, 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, err := SiteDashboard(DashboardArgs{Site: "xgen", Namespace: "xgen", Services: []string{"xgen-core", "xgen-frontend"}, HPAs: tc.hpas, Infra: true, GPU: true})
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				UID    string `json:"uid"`
				Panels []struct {
					Type    string `json:"type"`
					Title   string `json:"title"`
					Targets []struct {
						Expr string `json:"expr"`
					} `json:"targets"`
				} `json:"panels"`
			}
			if err := json.Unmarshal([]byte(text), &d); err != nil {
				t.Fatal(err)
			}
			if d.UID != "xgen-site-xgen" || len(d.Panels) != tc.want {
				t.Fatalf("uid %q, %d panels, want %d", d.UID, len(d.Panels), tc.want)
			}
			p := parser.NewParser(parser.Options{})
			exprs := 0
			for _, panel := range d.Panels {
				for _, target := range panel.Targets {
					exprs++
					if _, err := p.ParseExpr(target.Expr); err != nil {
						t.Errorf("%s: %q: %v", panel.Title, target.Expr, err)
					}
					if !strings.Contains(target.Expr, `namespace="xgen"`) && !strings.Contains(target.Expr, `site="xgen"`) {
						t.Errorf("%s: %q is not limited to the site", panel.Title, target.Expr)
					}
				}
			}
			if exprs == 0 || !strings.Contains(text, "xgen-core|xgen-frontend") {
				t.Errorf("the queries do not select the services")
			}
			hasHPA := strings.Contains(text, "kube_horizontalpodautoscaler_status_desired_replicas")
			if hasHPA != (len(tc.hpas) > 0) {
				t.Errorf("HPA panel present = %v with HPAs %v", hasHPA, tc.hpas)
			}
		})
	}
	if _, err := SiteDashboard(DashboardArgs{Site: "xgen"}); err == nil {
		t.Error("a dashboard without services was built")
	}
}

// The infra probes: Prometheus asks the blackbox exporter to probe each endpoint at the
// address the applications use, labelled by infra, with Redis spoken to in its protocol.
func TestInfraProbesRelabelling(t *testing.T) {
	text, err := PrometheusConfig(siteArgs(""))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(text, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName != "infra" && sc.JobName != "infra-redis" {
			continue
		}
		module := map[string]string{"infra": "tcp_connect", "infra-redis": "redis_ping"}[sc.JobName]
		if sc.MetricsPath != "/probe" || sc.Params.Get("module") != module {
			t.Errorf("%s: path %s, params %v", sc.JobName, sc.MetricsPath, sc.Params)
		}
		group := sc.ServiceDiscoveryConfigs
		if len(group) != 1 {
			t.Fatalf("%s: %d discovery configs", sc.JobName, len(group))
		}
		lb := labels.NewBuilder(labels.FromStrings(model.AddressLabel, "postgresql.xgen-system.svc.cluster.local:5432", "infra", "postgres"))
		if !relabel.ProcessBuilder(lb, sc.RelabelConfigs...) {
			t.Fatalf("%s: target dropped", sc.JobName)
		}
		got := lb.Labels()
		if got.Get(model.AddressLabel) != "blackbox-exporter.xgen-observability.svc:9115" ||
			got.Get("__param_target") != "postgresql.xgen-system.svc.cluster.local:5432" ||
			got.Get(model.InstanceLabel) != "postgresql.xgen-system.svc.cluster.local:5432" || got.Get("site") != "xgen" {
			t.Errorf("%s: %v", sc.JobName, got)
		}
	}
	bb, err := BlackboxConfig()
	if err != nil || !strings.Contains(bb, "tcp_connect") || !strings.Contains(bb, `expect: ^(\+PONG|-NOAUTH)`) {
		t.Errorf("blackbox config: %v\n%s", err, bb)
	}
}

// A service that runs in two environments of the site (prd beside dev) is two jobs, one per
// namespace, which Prometheus accepts (a job name twice it refuses); an environment's own
// Redis is probed with the Redis module.
func TestServiceInTwoEnvironments(t *testing.T) {
	args := siteArgs("")
	args.Services = append(args.Services, Target{Service: "xgen-core", Namespace: "xgen-prd", Port: 8000, Path: "/metrics", Job: "xgen-prd/xgen-core"})
	args.Probes = append(args.Probes, Probe{Name: "redis-prd", Address: "redis-prd.xgen-system.svc.cluster.local:6380"})
	text, err := PrometheusConfig(args)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(text, quiet)
	if err != nil {
		t.Fatalf("Prometheus refuses the config: %v\n%s", err, text)
	}
	namespaces := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, sd := range sc.ServiceDiscoveryConfigs {
			if k, ok := sd.(*kubernetes.SDConfig); ok {
				namespaces[sc.JobName] = k.NamespaceDiscovery.Names
			}
		}
	}
	_, redisJob, _ := strings.Cut(text, "job_name: infra-redis")
	redisJob, _, _ = strings.Cut(redisJob, "job_name:")
	if !strings.Contains(redisJob, "redis-prd.xgen-system.svc.cluster.local:6380") {
		t.Errorf("infra-redis does not probe redis-prd:\n%s", redisJob)
	}
	if !slices.Equal(namespaces["xgen-core"], []string{"xgen"}) || !slices.Equal(namespaces["xgen-prd/xgen-core"], []string{"xgen-prd"}) {
		t.Errorf("xgen-core's jobs watch %v and %v", namespaces["xgen-core"], namespaces["xgen-prd/xgen-core"])
	}
	// Without its own job name the second one is refused by Prometheus: the name matters.
	args.Services[len(args.Services)-1].Job = ""
	text, _ = PrometheusConfig(args)
	if _, err := config.Load(text, quiet); err == nil {
		t.Error("Prometheus accepted two jobs named xgen-core")
	}
}
