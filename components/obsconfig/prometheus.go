// Package observability builds the observability add-on's files: Prometheus' configuration
// (from Prometheus' own relabelling and duration types), its alert rules, Grafana's data
// source and dashboards (from Grafana's typed SDK). Pure functions, no Pulumi: the
// component (components/observability.go) mounts what they return.
package obsconfig

import (
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"
)

// Target is one of the site's services Prometheus scrapes: its pods in Namespace, selected
// by the app.kubernetes.io/name label, on Port at Path.
type Target struct {
	Service   string
	Namespace string
	Port      int
	Path      string
	// Job names the scrape job. Default Service; a service that also runs in another
	// environment of the site (another namespace) needs its own, e.g. "xgen-prd/xgen-core".
	Job string
}

// PrometheusArgs is what the configuration is generated from.
type PrometheusArgs struct {
	// Site names the site: the "site" label of every series (an external label too, for
	// remote write and alerts).
	Site string
	// Namespace is the add-on's own namespace (node-exporter, kube-state-metrics).
	Namespace string
	// Services are the site's scrape targets, one job each.
	Services []Target
	// RemoteWriteURL, if set, also receives every sample (bring your own monitoring).
	RemoteWriteURL string
	// Probes are the infra endpoints the blackbox exporter checks (one "infra" job).
	Probes []Probe
	// Exporters are the infra's own metrics exporters ("infra-exporters" job), each
	// labelled infra=<Name>: PostgreSQL's pg_* and Redis' redis_* series.
	Exporters []Probe
	// Certificates are TLS endpoints whose certificates the blackbox exporter reads ("certificates"
	// job), each labelled certificate=<Name>: probe_ssl_earliest_cert_expiry, what
	// CertificateExpiring watches. Default none.
	Certificates []Probe
	// GPU scrapes the NVIDIA DCGM exporter on the GPU nodes.
	GPU bool
	// Alertmanager is where the alerts go, "host:port". Default none.
	Alertmanager string
}

// Probe is an infra endpoint checked by a TCP connection ("redis" also by a PING).
type Probe struct {
	// Name is the infra endpoint (postgres, redis, qdrant, objectStorage): its "infra" label.
	Name string
	// Address is "host:port", as the applications reach it.
	Address string
}

// The in-cluster names the configuration points at.
const (
	// RulesDir is where the rules ConfigMap is mounted in the Prometheus container.
	RulesDir = "/etc/prometheus/rules"
	// KubeStateMetricsPort and NodeExporterPort are the exporters' metrics ports.
	KubeStateMetricsPort = 8080
	NodeExporterPort     = 9100
	BlackboxPort         = 9115
	DCGMExporterPort     = 9400
	// ScrapeInterval is how often every target is scraped.
	ScrapeInterval = 30 * time.Second
)

// Labels every series of a site's service carries (besides job and instance).
const (
	LabelSite    = "site"
	LabelService = "service"
	LabelNode    = "node"
	LabelPod     = "pod"
)

// promConfig is the top of Prometheus' configuration file; the parts with meaning
// (relabelling, durations) are Prometheus' own types. Only the fields we set are here:
// Prometheus' own loader reads the result in a test (prometheus_test.go).
type promConfig struct {
	Global        promGlobal     `yaml:"global"`
	RuleFiles     []string       `yaml:"rule_files"`
	ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
	RemoteWrite   []remoteWrite  `yaml:"remote_write,omitempty"`
	Alerting      *promAlerting  `yaml:"alerting,omitempty"`
}

type promAlerting struct {
	Alertmanagers []promAlertmanager `yaml:"alertmanagers"`
}

type promAlertmanager struct {
	StaticConfigs []staticConfig `yaml:"static_configs"`
}

type promGlobal struct {
	ScrapeInterval     model.Duration    `yaml:"scrape_interval"`
	EvaluationInterval model.Duration    `yaml:"evaluation_interval"`
	ExternalLabels     map[string]string `yaml:"external_labels"`
}

type scrapeConfig struct {
	JobName              string              `yaml:"job_name"`
	MetricsPath          string              `yaml:"metrics_path,omitempty"`
	Scheme               string              `yaml:"scheme,omitempty"`
	KubernetesSDConfigs  []kubernetesSD      `yaml:"kubernetes_sd_configs,omitempty"`
	StaticConfigs        []staticConfig      `yaml:"static_configs,omitempty"`
	Authorization        *authorization      `yaml:"authorization,omitempty"`
	TLSConfig            *tlsConfig          `yaml:"tls_config,omitempty"`
	RelabelConfigs       []*relabel.Config   `yaml:"relabel_configs,omitempty"`
	MetricRelabelConfigs []*relabel.Config   `yaml:"metric_relabel_configs,omitempty"`
	HonorLabels          bool                `yaml:"honor_labels,omitempty"`
	Params               map[string][]string `yaml:"params,omitempty"`
}

type kubernetesSD struct {
	Role       string        `yaml:"role"`
	Namespaces *sdNamespaces `yaml:"namespaces,omitempty"`
	Selectors  []sdSelector  `yaml:"selectors,omitempty"`
}

type sdNamespaces struct {
	Names []string `yaml:"names"`
}

type sdSelector struct {
	Role  string `yaml:"role"`
	Label string `yaml:"label,omitempty"`
}

type staticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels,omitempty"`
}

type authorization struct {
	CredentialsFile string `yaml:"credentials_file"`
}

type tlsConfig struct {
	CAFile string `yaml:"ca_file"`
}

type remoteWrite struct {
	URL string `yaml:"url"`
}

// The pod's service account token and CA, which reach the API server.
const (
	serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"
	apiServer         = "kubernetes.default.svc:443"
)

// PrometheusConfig is the prometheus.yml of a site.
func PrometheusConfig(a PrometheusArgs) (string, error) {
	if a.Site == "" || a.Namespace == "" {
		return "", errors.New("prometheus config: Site and Namespace are required")
	}
	if a.RemoteWriteURL != "" {
		if u, err := url.Parse(a.RemoteWriteURL); err != nil || u.Host == "" {
			return "", fmt.Errorf("prometheus config: remote write URL %q is not a URL", a.RemoteWriteURL)
		}
	}
	c := promConfig{
		Global: promGlobal{
			ScrapeInterval:     model.Duration(ScrapeInterval),
			EvaluationInterval: model.Duration(ScrapeInterval),
			ExternalLabels:     map[string]string{LabelSite: a.Site},
		},
		RuleFiles: []string{RulesDir + "/*.yaml"},
	}
	services := append([]Target(nil), a.Services...)
	sort.Slice(services, func(i, j int) bool { return services[i].Service < services[j].Service })
	for _, t := range services {
		c.ScrapeConfigs = append(c.ScrapeConfigs, serviceJob(a.Site, t))
	}
	c.ScrapeConfigs = append(c.ScrapeConfigs,
		podJob("node-exporter", a.Site, a.Namespace, "node-exporter", NodeExporterPort),
		// kube-state-metrics reports other objects' labels: its own must not overwrite them.
		withHonorLabels(podJob("kube-state-metrics", a.Site, a.Namespace, "kube-state-metrics", KubeStateMetricsPort)),
		cadvisorJob(a.Site),
	)
	if len(a.Probes) > 0 {
		c.ScrapeConfigs = append(c.ScrapeConfigs, infraJob(a.Site, a.Namespace, a.Probes)...)
	}
	if len(a.Certificates) > 0 {
		c.ScrapeConfigs = append(c.ScrapeConfigs, certificatesJob(a.Site, a.Namespace, a.Certificates))
	}
	if len(a.Exporters) > 0 {
		c.ScrapeConfigs = append(c.ScrapeConfigs, exportersJob(a.Site, a.Exporters))
	}
	if a.GPU {
		c.ScrapeConfigs = append(c.ScrapeConfigs, podJob("dcgm-exporter", a.Site, a.Namespace, "dcgm-exporter", DCGMExporterPort))
	}
	c.ScrapeConfigs = append(c.ScrapeConfigs,
		scrapeConfig{JobName: "prometheus", StaticConfigs: []staticConfig{{Targets: []string{"localhost:9090"}}},
			RelabelConfigs: []*relabel.Config{setLabel(LabelSite, a.Site)}},
	)
	if a.RemoteWriteURL != "" {
		c.RemoteWrite = []remoteWrite{{URL: a.RemoteWriteURL}}
	}
	if a.Alertmanager != "" {
		c.Alerting = &promAlerting{Alertmanagers: []promAlertmanager{{StaticConfigs: []staticConfig{{Targets: []string{a.Alertmanager}}}}}}
	}
	for _, sc := range c.ScrapeConfigs {
		for _, rc := range append(sc.RelabelConfigs, sc.MetricRelabelConfigs...) {
			if err := rc.Validate(model.UTF8Validation); err != nil {
				return "", fmt.Errorf("prometheus config: job %s: %w", sc.JobName, err)
			}
		}
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("prometheus config: %w", err)
	}
	return "# Generated by xgen-infra (components/observability); do not edit.\n" + string(out), nil
}

// serviceJob scrapes one service's pods on its metrics port; the relabelling gives every
// series the site, service, node and pod labels (what the dashboards group by).
func serviceJob(site string, t Target) scrapeConfig {
	job := t.Job
	if job == "" {
		job = t.Service
	}
	j := podJob(job, site, t.Namespace, t.Service, t.Port)
	j.MetricsPath = t.Path
	return j
}

// podJob scrapes the pods labelled app.kubernetes.io/name=name in namespace on port.
func podJob(job, site, namespace, name string, port int) scrapeConfig {
	return scrapeConfig{
		JobName: job,
		KubernetesSDConfigs: []kubernetesSD{{
			Role: "pod", Namespaces: &sdNamespaces{Names: []string{namespace}},
			// Only these pods are watched: the selector is applied by the API server.
			Selectors: []sdSelector{{Role: "pod", Label: "app.kubernetes.io/name=" + name}},
		}},
		RelabelConfigs: []*relabel.Config{
			keep("__meta_kubernetes_pod_label_app_kubernetes_io_name", name),
			keep("__meta_kubernetes_pod_container_port_number", strconv.Itoa(port)),
			// A pod that is not running has no metrics: no target, no false "down".
			keep("__meta_kubernetes_pod_phase", "Running"),
			setLabel(LabelSite, site),
			setLabel(LabelService, name),
			copyLabel("__meta_kubernetes_pod_node_name", LabelNode),
			copyLabel("__meta_kubernetes_pod_name", LabelPod),
			copyLabel("__meta_kubernetes_namespace", "namespace"),
		},
	}
}

// infraJob asks the blackbox exporter to probe each infra endpoint (the multi-target
// exporter pattern: the target becomes the exporter's ?target=, the exporter the address).
// Redis gets its own job: its module speaks the protocol.
func infraJob(site, namespace string, probes []Probe) []scrapeConfig {
	tcp, redis := blackboxJob(site, namespace, "infra", "tcp_connect"), blackboxJob(site, namespace, "infra-redis", "redis_ping")
	for _, p := range probes {
		sc := staticConfig{Targets: []string{p.Address}, Labels: map[string]string{"infra": p.Name}}
		if strings.HasPrefix(p.Name, "redis") { // redis, and redis-<env> of an environment beside
			redis.StaticConfigs = append(redis.StaticConfigs, sc)
		} else {
			tcp.StaticConfigs = append(tcp.StaticConfigs, sc)
		}
	}
	var out []scrapeConfig
	for _, j := range []scrapeConfig{tcp, redis} {
		if len(j.StaticConfigs) > 0 {
			out = append(out, j)
		}
	}
	return out
}

// blackboxJob asks the blackbox exporter to probe each of the job's targets with module (the
// multi-target exporter pattern: the target becomes the exporter's ?target=, the exporter the
// address).
func blackboxJob(site, namespace, name, module string) scrapeConfig {
	exporter := fmt.Sprintf("blackbox-exporter.%s.svc:%d", namespace, BlackboxPort)
	return scrapeConfig{
		JobName: name, MetricsPath: "/probe", Params: map[string][]string{"module": {module}},
		RelabelConfigs: []*relabel.Config{
			copyLabel(model.AddressLabel, model.ParamLabelPrefix+"target"),
			copyLabel(model.ParamLabelPrefix+"target", model.InstanceLabel),
			setLabel(model.AddressLabel, exporter),
			setLabel(LabelSite, site),
		},
	}
}

// CertificateJob is the job of the certificate probes; the rule CertificateExpiring reads it.
const CertificateJob = "certificates"

// certificatesJob reads each endpoint's certificate chain in a TLS handshake (tls_connect):
// probe_ssl_earliest_cert_expiry, labelled certificate=<Name>.
func certificatesJob(site, namespace string, certs []Probe) scrapeConfig {
	j := blackboxJob(site, namespace, CertificateJob, "tls_connect")
	for _, c := range certs {
		j.StaticConfigs = append(j.StaticConfigs, staticConfig{Targets: []string{c.Address}, Labels: map[string]string{"certificate": c.Name}})
	}
	return j
}

// exportersJob scrapes the infra's exporters at their addresses.
func exportersJob(site string, exporters []Probe) scrapeConfig {
	j := scrapeConfig{JobName: "infra-exporters", RelabelConfigs: []*relabel.Config{setLabel(LabelSite, site)}}
	for _, e := range exporters {
		j.StaticConfigs = append(j.StaticConfigs, staticConfig{Targets: []string{e.Address}, Labels: map[string]string{"infra": e.Name}})
	}
	return j
}

// BlackboxConfig is the blackbox exporter's modules: a TCP connection, for Redis a PING
// answered by PONG or by the demand to authenticate (the server speaks Redis; no password
// is given to the exporter), and a TLS handshake whose certificates' expiry is read. The
// handshake does not verify the chain: it measures when a certificate expires, not whom it
// trusts (the API server's is signed by the cluster's own CA, which the exporter lacks).
func BlackboxConfig() (string, error) {
	return marshal("blackbox config", map[string]any{"modules": map[string]any{
		"tcp_connect": map[string]any{"prober": "tcp", "timeout": "5s"},
		"tls_connect": map[string]any{"prober": "tcp", "timeout": "5s", "tcp": map[string]any{
			"tls": true, "tls_config": map[string]any{"insecure_skip_verify": true}}},
		"redis_ping": map[string]any{"prober": "tcp", "timeout": "5s", "tcp": map[string]any{"query_response": []any{
			map[string]any{"send": "PING"},
			map[string]any{"expect": `^(\+PONG|-NOAUTH)`},
		}}},
	}})
}

func withHonorLabels(j scrapeConfig) scrapeConfig {
	j.HonorLabels = true
	return j
}

// cadvisorJob scrapes every kubelet's container metrics through the API server's node proxy
// (the kubelets' own certificates are not signed for their IPs): the CPU and memory each
// container actually uses, against which the dashboards set its requests.
func cadvisorJob(site string) scrapeConfig {
	return scrapeConfig{
		JobName:             "kubelet-cadvisor",
		Scheme:              "https",
		KubernetesSDConfigs: []kubernetesSD{{Role: "node"}},
		Authorization:       &authorization{CredentialsFile: serviceAccountDir + "/token"},
		TLSConfig:           &tlsConfig{CAFile: serviceAccountDir + "/ca.crt"},
		RelabelConfigs: []*relabel.Config{
			{Action: relabel.Replace, Regex: relabel.MustNewRegexp("(.*)"), Replacement: apiServer, TargetLabel: model.AddressLabel, Separator: ";"},
			{Action: relabel.Replace, SourceLabels: model.LabelNames{"__meta_kubernetes_node_name"}, Regex: relabel.MustNewRegexp("(.+)"),
				Replacement: "/api/v1/nodes/${1}/proxy/metrics/cadvisor", TargetLabel: model.MetricsPathLabel, Separator: ";"},
			setLabel(LabelSite, site),
			copyLabel("__meta_kubernetes_node_name", LabelNode),
		},
		// Only the containers' CPU, memory and restarts: cAdvisor's other series are many.
		MetricRelabelConfigs: []*relabel.Config{
			keep("__name__", "container_cpu_usage_seconds_total|container_memory_working_set_bytes|container_cpu_cfs_throttled_periods_total|container_cpu_cfs_periods_total|container_fs_usage_bytes"),
		},
	}
}

func keep(label, regex string) *relabel.Config {
	return &relabel.Config{Action: relabel.Keep, SourceLabels: model.LabelNames{model.LabelName(label)},
		Regex: relabel.MustNewRegexp(regex), Separator: ";", Replacement: "$1"}
}

func setLabel(label, value string) *relabel.Config {
	return &relabel.Config{Action: relabel.Replace, TargetLabel: label, Replacement: value,
		Regex: relabel.MustNewRegexp("(.*)"), Separator: ";"}
}

func copyLabel(from, to string) *relabel.Config {
	return &relabel.Config{Action: relabel.Replace, SourceLabels: model.LabelNames{model.LabelName(from)},
		TargetLabel: to, Regex: relabel.MustNewRegexp("(.*)"), Replacement: "$1", Separator: ";"}
}

// Rules are the alert rules every site gets (Prometheus' rule file format): what an operator
// must know. Static: the site label comes from the external labels.
//
//go:embed rules.yaml
var Rules string
