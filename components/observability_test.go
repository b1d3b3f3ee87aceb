package components

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"xgen-infra/components/obsconfig"
	"xgen-infra/internal/inprocess"
)

func observabilityArgs() ObservabilityArgs {
	return ObservabilityArgs{
		Site: "xgen", Namespace: "xgen-observability", SiteNamespace: "xgen",
		// The frontend serves no metrics: on the dashboard, not scraped.
		Services: []string{"xgen-core", "xgen-frontend"},
		Targets: []obsconfig.Target{
			{Service: "xgen-core", Namespace: "xgen", Port: 8000, Path: "/metrics"},
		},
		HPAs:                  []string{"xgen-core"},
		Probes:                []obsconfig.Probe{{Name: "postgres", Address: "postgresql.xgen-system.svc.cluster.local:5432"}},
		BlackboxExporterImage: "quay.io/prometheus/blackbox-exporter:v0.27.0",
		Retention:             "15d", VolumeSize: "20Gi", StorageClass: "local-path", GrafanaNodePort: 30300,
		GrafanaAdminPassword: pulumi.ToSecret(pulumi.String("s3cret-grafana")).(pulumi.StringOutput),
		PrometheusImage:      "quay.io/prometheus/prometheus:v3.13.2", GrafanaImage: "docker.io/grafana/grafana:12.1.1",
		KubeStateMetricsImage: "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0",
		NodeExporterImage:     "quay.io/prometheus/node-exporter:v1.9.1",
		NetworkPolicies:       true,
		Logs:                  &ObservabilityLogs{Retention: "7d", VolumeSize: "10Gi"},
		Traces:                &ObservabilityTraces{Retention: "72h", VolumeSize: "5Gi"},
		LokiImage:             "docker.io/grafana/loki:3.5.3", TempoImage: "docker.io/grafana/tempo:2.8.2",
		CollectorImage:    "docker.io/otel/opentelemetry-collector-contrib:0.131.0",
		AlertmanagerImage: "quay.io/prometheus/alertmanager:v0.35.0",
		Alerting: &ObservabilityAlerting{
			Config:       alertmanagerConfig(),
			WebhookURL:   pulumi.ToSecret(pulumi.String("https://chat.example.com/hooks/s3cret-hook")).(pulumi.StringOutput),
			SMTPPassword: pulumi.ToSecret(pulumi.String("s3cret-smtp")).(pulumi.StringOutput),
			VolumeSize:   "1Gi",
		},
	}
}

func alertmanagerConfig() string {
	text, err := obsconfig.AlertmanagerConfig(obsconfig.AlertmanagerArgs{Webhook: true,
		Email:     &obsconfig.Email{To: []string{"ops@example.com"}, From: "xgen@example.com", Smarthost: "smtp.example.com:587", Username: "xgen@example.com", RequireTLS: true},
		GroupWait: model.Duration(30 * time.Second), GroupInterval: model.Duration(5 * time.Minute), RepeatInterval: model.Duration(4 * time.Hour)})
	if err != nil {
		panic(err)
	}
	return text
}

func runObservability(t *testing.T, args ObservabilityArgs) (*inprocess.Recorder, error) {
	t.Helper()
	return inprocess.Run(func(ctx *pulumi.Context) error {
		_, err := NewObservability(ctx, "observability", args)
		return err
	}, "test", "test", nil, nil)
}

// The add-on's objects: the metrics outlive destroy unless opted in; every container is
// hardened; the token is mounted only where the API is read; Grafana's password is a secret
// and only in its Secret; the Prometheus config in the ConfigMap is the generated one.
func TestObservabilityObjects(t *testing.T) {
	for _, removeData := range []bool{false, true} {
		args := observabilityArgs()
		args.RemoveDataOnDestroy = removeData
		rec, err := runObservability(t, args)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{"kubernetes:core/v1:Namespace", "kubernetes:core/v1:PersistentVolumeClaim"} {
			for _, res := range byType(rec, typ) {
				if res.RetainOnDelete == removeData {
					t.Errorf("removeDataOnDestroy %v: %s %s retainOnDelete %v", removeData, typ, res.Name, res.RetainOnDelete)
				}
			}
		}
		if n := len(byType(rec, "kubernetes:core/v1:PersistentVolumeClaim")); n != 4 {
			t.Errorf("%d volumes, want Prometheus', Alertmanager's, Loki's and Tempo's", n)
		}
	}
	rec, err := runObservability(t, observabilityArgs())
	if err != nil {
		t.Fatal(err)
	}
	apiReaders := map[string]bool{"prometheus": true, "kube-state-metrics": true}
	workloads := append(byType(rec, "kubernetes:apps/v1:Deployment"), byType(rec, "kubernetes:apps/v1:DaemonSet")...)
	if len(workloads) != 9 {
		t.Fatalf("%d workloads, want prometheus, alertmanager, kube-state-metrics, blackbox-exporter, grafana, loki, tempo, node-exporter, otel-collector", len(workloads))
	}
	for _, w := range workloads {
		in, _ := w.PlainInputs()
		name := fmt.Sprint(inprocess.Get(in, "metadata", "name"))
		pod := inprocess.Get(in, "spec", "template", "spec").(map[string]any)
		if fmt.Sprint(pod["automountServiceAccountToken"]) != fmt.Sprint(apiReaders[name]) {
			t.Errorf("%s: automountServiceAccountToken %v", name, pod["automountServiceAccountToken"])
		}
		// Only the collector reading the nodes' pod logs (root's files) runs as root.
		if nonRoot := inprocess.Get(pod, "securityContext", "runAsNonRoot"); nonRoot != (name != "otel-collector") {
			t.Errorf("%s: runAsNonRoot %v", name, nonRoot)
		}
		c := inprocess.Get(pod, "containers", 0).(map[string]any)
		sc := c["securityContext"].(map[string]any)
		if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false || inprocess.Get(sc, "capabilities", "drop", 0) != "ALL" {
			t.Errorf("%s: container security %v", name, sc)
		}
		if inprocess.Get(c, "resources", "limits", "memory") == nil || inprocess.Get(c, "resources", "requests", "cpu") == nil {
			t.Errorf("%s: resources %v", name, c["resources"])
		}
	}
	for _, res := range rec.Resources {
		plain, _ := res.PlainInputs()
		text, _ := yaml.Marshal(plain)
		for _, secret := range []string{"s3cret-grafana", "s3cret-hook", "s3cret-smtp"} {
			if strings.Contains(string(text), secret) {
				t.Errorf("%s %s shows a secret (%s) in plain inputs", res.Type, res.Name, secret)
			}
		}
	}
	for _, name := range []string{"observability-grafana-admin", "observability-alertmanager-receivers"} {
		if _, secrets := byName(rec, "kubernetes:core/v1:Secret", name).PlainInputs(); len(secrets) == 0 {
			t.Errorf("the Secret %s's data is not a Pulumi secret", name)
		}
	}
	amCM, _ := byName(rec, "kubernetes:core/v1:ConfigMap", "observability-alertmanager-config").PlainInputs()
	if inprocess.Get(amCM, "data", "alertmanager.yml") != alertmanagerConfig() {
		t.Error("the ConfigMap's alertmanager.yml is not the generated config")
	}
	if _, secrets := byName(rec, "kubernetes:apps/v1:Deployment", "observability-grafana").PlainInputs(); !containsPath(secrets, SecretChecksumAnnotation) {
		t.Errorf("Grafana's password checksum is not a Pulumi secret; secret paths: %v", secrets)
	}
	cm, _ := byName(rec, "kubernetes:core/v1:ConfigMap", "observability-prometheus-config").PlainInputs()
	want, _ := obsconfig.PrometheusConfig(obsconfig.PrometheusArgs{Site: "xgen", Namespace: "xgen-observability",
		Services: observabilityArgs().Targets, Probes: observabilityArgs().Probes, Alertmanager: "alertmanager.xgen-observability.svc:9093"})
	if inprocess.Get(cm, "data", "prometheus.yml") != want {
		t.Error("the ConfigMap's prometheus.yml is not the generated config")
	}
	if n := len(byType(rec, "kubernetes:networking.k8s.io/v1:NetworkPolicy")); n != 9 {
		t.Errorf("%d network policies, want 9", n)
	}
	ds, _ := byName(rec, "kubernetes:core/v1:ConfigMap", "observability-grafana-datasources").PlainInputs()
	for _, want := range []string{"uid: xgen-prometheus", "uid: xgen-loki", "uid: xgen-tempo", "http://loki.xgen-observability.svc:3100"} {
		if !strings.Contains(fmt.Sprint(inprocess.Get(ds, "data", "datasources.yaml")), want) {
			t.Errorf("datasources lack %q", want)
		}
	}
	// Without network policies the add-on is the same, policies aside: logs and traces too.
	args := observabilityArgs()
	args.NetworkPolicies = false
	off, err := runObservability(t, args)
	if err != nil {
		t.Fatal(err)
	}
	if len(byType(off, "kubernetes:networking.k8s.io/v1:NetworkPolicy")) != 0 {
		t.Error("network policies with NetworkPolicies false")
	}
	if got, want := workloadNames(off), workloadNames(rec); !slices.Equal(got, want) {
		t.Errorf("NetworkPolicies false: workloads %v, want %v", got, want)
	}
	svc, _ := byName(rec, "kubernetes:core/v1:Service", "observability-grafana").PlainInputs()
	if fmt.Sprint(inprocess.Get(svc, "spec", "ports", 0, "nodePort")) != "30300" {
		t.Errorf("grafana service: %v", svc["spec"])
	}
}

func TestObservabilityArgsReportEveryProblem(t *testing.T) {
	err := (&ObservabilityArgs{GrafanaNodePort: 80, GPUNodes: true, Probes: []obsconfig.Probe{{Name: "redis", Address: "redis:6379"}}}).check()
	for _, want := range []string{"Site, Namespace and SiteNamespace", "at least one service", "Retention, VolumeSize and StorageClass",
		"GrafanaNodePort 80", "GrafanaAdminPassword is required", "every image", "Probes and Certificates need BlackboxExporterImage", "GPUNodes needs DCGMExporterImage"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
}

// byName is the recorded resource of that type and name (it panics without one).
func byName(rec *inprocess.Recorder, typ, name string) inprocess.Resource {
	for _, r := range rec.Resources {
		if r.Type == typ && r.Name == name {
			return r
		}
	}
	panic("no resource " + name)
}

// Logs to the customer's Loki: no Loki runs, the collector sends to theirs; no logs and no
// traces: no collector either; logs without traces: the collector runs without OTLP ports.
func TestObservabilityLogsAndTracesShapes(t *testing.T) {
	cases := []struct {
		name      string
		edit      func(*ObservabilityArgs)
		workloads []string
		lokiOTLP  string
		// dockerLogs: the collector reads the compose host's Docker logs.
		dockerLogs bool
	}{
		{"the compose project's logs", func(a *ObservabilityArgs) { a.ComposeProject = "xgen-infra" },
			[]string{"alertmanager", "blackbox-exporter", "grafana", "kube-state-metrics", "loki", "node-exporter", "otel-collector", "prometheus", "tempo"},
			"http://loki.xgen-observability.svc:3100/otlp", true},
		{"the compose project without logs", func(a *ObservabilityArgs) { a.ComposeProject, a.Logs = "xgen-infra", nil },
			[]string{"alertmanager", "blackbox-exporter", "grafana", "kube-state-metrics", "node-exporter", "otel-collector", "prometheus", "tempo"}, "", false},
		{"customer's Loki", func(a *ObservabilityArgs) {
			a.Logs = &ObservabilityLogs{LokiURL: "http://loki.monitoring:3100/"}
			a.Traces = nil
		}, []string{"alertmanager", "blackbox-exporter", "grafana", "kube-state-metrics", "node-exporter", "otel-collector", "prometheus"}, "http://loki.monitoring:3100/otlp", false},
		{"a GPU site", func(a *ObservabilityArgs) {
			a.Logs, a.Traces, a.Probes = nil, nil, nil
			a.GPUNodes, a.DCGMExporterImage, a.GPURuntimeClass = true, "nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04", "nvidia"
		}, []string{"alertmanager", "dcgm-exporter", "grafana", "kube-state-metrics", "node-exporter", "prometheus"}, "", false},
		{"metrics only, no infra to probe", func(a *ObservabilityArgs) { a.Logs, a.Traces, a.Probes = nil, nil, nil },
			[]string{"alertmanager", "grafana", "kube-state-metrics", "node-exporter", "prometheus"}, "", false},
		{"no Alertmanager", func(a *ObservabilityArgs) { a.Logs, a.Traces, a.Probes, a.Alerting = nil, nil, nil, nil },
			[]string{"grafana", "kube-state-metrics", "node-exporter", "prometheus"}, "", false},
		{"traces only", func(a *ObservabilityArgs) { a.Logs = nil },
			[]string{"alertmanager", "blackbox-exporter", "grafana", "kube-state-metrics", "node-exporter", "otel-collector", "prometheus", "tempo"}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := observabilityArgs()
			tc.edit(&args)
			rec, err := runObservability(t, args)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, w := range append(byType(rec, "kubernetes:apps/v1:Deployment"), byType(rec, "kubernetes:apps/v1:DaemonSet")...) {
				in, _ := w.PlainInputs()
				names = append(names, fmt.Sprint(inprocess.Get(in, "metadata", "name")))
			}
			sort.Strings(names)
			if strings.Join(names, " ") != strings.Join(tc.workloads, " ") {
				t.Errorf("workloads %v, want %v", names, tc.workloads)
			}
			for _, w := range byType(rec, "kubernetes:apps/v1:DaemonSet") {
				in, _ := w.PlainInputs()
				if name := inprocess.Get(in, "metadata", "name"); name == "dcgm-exporter" {
					if rc := inprocess.Get(in, "spec", "template", "spec", "runtimeClassName"); rc != "nvidia" {
						t.Errorf("dcgm-exporter runs with runtimeClassName %v, want the NVIDIA runtime's", rc)
					}
				}
				if inprocess.Get(in, "metadata", "name") != "otel-collector" {
					continue
				}
				volumes := fmt.Sprint(inprocess.Get(in, "spec", "template", "spec", "volumes"))
				if got := strings.Contains(volumes, "/var/lib/docker/containers"); got != tc.dockerLogs {
					t.Errorf("collector mounts Docker's logs: %v, want %v (%s)", got, tc.dockerLogs, volumes)
				}
			}
			for _, r := range byType(rec, "kubernetes:core/v1:ConfigMap") {
				in, _ := r.PlainInputs()
				if text := fmt.Sprint(inprocess.Get(in, "data", "config.yaml")); r.Name == "observability-otel-collector-config" {
					if tc.lokiOTLP != "" && !strings.Contains(text, "endpoint: "+tc.lokiOTLP) {
						t.Errorf("collector does not send to %s:\n%s", tc.lokiOTLP, text)
					}
					if tc.lokiOTLP == "" && strings.Contains(text, "filelog") {
						t.Errorf("collector reads logs without logs:\n%s", text)
					}
				}
			}
		})
	}
}

// Routed by the site's ingress: Grafana serves from its path, behind a ClusterIP Service;
// with neither a node port nor a root URL it would be unreachable, and is refused.
func TestObservabilityGrafanaBehindTheIngress(t *testing.T) {
	args := observabilityArgs()
	args.GrafanaNodePort, args.GrafanaRootURL = 0, "https://xgen.example.com/grafana/"
	rec, err := runObservability(t, args)
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := byName(rec, "kubernetes:core/v1:Service", "observability-grafana").PlainInputs()
	if inprocess.Get(svc, "spec", "type") != "ClusterIP" || inprocess.Get(svc, "spec", "ports", 0, "nodePort") != nil {
		t.Errorf("grafana service: %v", svc["spec"])
	}
	dep, _ := byName(rec, "kubernetes:apps/v1:Deployment", "observability-grafana").PlainInputs()
	env := fmt.Sprint(inprocess.Get(dep, "spec", "template", "spec", "containers", 0, "env"))
	if !strings.Contains(env, "GF_SERVER_ROOT_URL value:https://xgen.example.com/grafana/") || !strings.Contains(env, "GF_SERVER_SERVE_FROM_SUB_PATH value:true") {
		t.Errorf("grafana env: %s", env)
	}
	args.GrafanaRootURL = ""
	if _, err := runObservability(t, args); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("no node port, no root URL: %v", err)
	}
}

func workloadNames(rec *inprocess.Recorder) []string {
	var names []string
	for _, w := range append(byType(rec, "kubernetes:apps/v1:Deployment"), byType(rec, "kubernetes:apps/v1:DaemonSet")...) {
		in, _ := w.PlainInputs()
		names = append(names, fmt.Sprint(inprocess.Get(in, "metadata", "name")))
	}
	sort.Strings(names)
	return names
}

// podTemplates are the add-on's workloads' pod templates, by workload name.
func podTemplates(t *testing.T, args ObservabilityArgs) map[string]string {
	t.Helper()
	rec, err := runObservability(t, args)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, w := range append(byType(rec, "kubernetes:apps/v1:Deployment"), byType(rec, "kubernetes:apps/v1:DaemonSet")...) {
		in, _ := w.PlainInputs()
		text, err := yaml.Marshal(inprocess.Get(in, "spec", "template"))
		if err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprint(inprocess.Get(in, "metadata", "name"))] = string(text)
	}
	return out
}

// Prometheus, Loki, Tempo, Grafana and the collector read their files and Grafana its
// password only when they start: a change to one of them gives the pods that read it a new
// pod template (a rollout), and only those; the same inputs give the same templates.
func TestObservabilityChangesRollExactlyTheirPods(t *testing.T) {
	base := podTemplates(t, observabilityArgs())
	if again := podTemplates(t, observabilityArgs()); !maps.Equal(base, again) {
		t.Fatal("the same inputs give other pod templates: every up would roll the pods")
	}
	for _, tc := range []struct {
		name   string
		change func(*ObservabilityArgs)
		rolls  []string
	}{
		{"a new service to scrape", func(a *ObservabilityArgs) {
			a.Services = append(a.Services, "xgen-workflow")
			a.Targets = append(a.Targets, obsconfig.Target{Service: "xgen-workflow", Namespace: "xgen", Port: 8000, Path: "/metrics"})
		}, []string{"grafana", "prometheus"}},
		{"a service that starts serving metrics", func(a *ObservabilityArgs) {
			a.Targets = append(a.Targets, obsconfig.Target{Service: "xgen-frontend", Namespace: "xgen", Port: 3000, Path: "/metrics"})
		}, []string{"prometheus"}},
		{"an autoscaled service (the dashboard)", func(a *ObservabilityArgs) { a.HPAs = append(a.HPAs, "xgen-frontend") }, []string{"grafana"}},
		{"a remote-write URL", func(a *ObservabilityArgs) { a.RemoteWriteURL = "https://metrics.example.com/api/v1/write" }, []string{"prometheus"}},
		{"Loki's retention", func(a *ObservabilityArgs) { a.Logs.Retention = "14d" }, []string{"loki"}},
		{"Tempo's retention", func(a *ObservabilityArgs) { a.Traces.Retention = "96h" }, []string{"tempo"}},
		{"Grafana's admin password", func(a *ObservabilityArgs) {
			a.GrafanaAdminPassword = pulumi.ToSecret(pulumi.String("rotated-grafana")).(pulumi.StringOutput)
		}, []string{"grafana"}},
		{"the compose project whose logs are read", func(a *ObservabilityArgs) { a.ComposeProject = "xgen-infra" }, []string{"otel-collector"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := observabilityArgs()
			tc.change(&args)
			got := podTemplates(t, args)
			var rolled []string
			for name, tmpl := range got {
				if base[name] != tmpl {
					rolled = append(rolled, name)
				}
			}
			sort.Strings(rolled)
			if !slices.Equal(rolled, tc.rolls) {
				t.Errorf("rolls %v, want %v", rolled, tc.rolls)
			}
		})
	}
}
