package sites

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// ObservabilityConfig is the observability add-on (`cluster.addons.observability`): what the
// old system's observability/ stack gave every site. Metrics (Prometheus scraping the site's
// services, the nodes and kube-state), logs (every pod's, to Loki), traces (the services'
// OpenTelemetry spans, to Tempo) and Grafana with its data sources and dashboards as code.
type ObservabilityConfig struct {
	// Enabled runs it. Default false.
	Enabled bool `json:"enabled,omitempty"`
	// Namespace of its workloads. Default "xgen-observability".
	Namespace string `json:"namespace,omitempty"`
	// StorageClass of its volumes. Default "local-path" (K3s' local storage).
	StorageClass string `json:"storageClass,omitempty"`
	// Prometheus is the metrics store.
	Prometheus PrometheusConfig `json:"prometheus,omitempty"`
	// Logs ships every pod's log to Loki.
	Logs LogsConfig `json:"logs,omitempty"`
	// Traces receives the services' traces.
	Traces TracesConfig `json:"traces,omitempty"`
	// Grafana is the dashboards' server.
	Grafana GrafanaConfig `json:"grafana,omitempty"`
	// Alerting is where Alertmanager sends the alerts.
	Alerting AlertingConfig `json:"alerting,omitempty"`
	// Images of the add-on, each pinned. Defaults: DefaultObservabilityImages.
	Images ObservabilityImages `json:"images,omitempty"`
	// RemoveDataOnDestroy lets `pulumi destroy` delete the metrics volume and the namespace.
	// Default false: both are left in the cluster.
	RemoveDataOnDestroy bool `json:"removeDataOnDestroy,omitempty"`
}

// PrometheusConfig is the add-on's Prometheus.
type PrometheusConfig struct {
	// Retention of the metrics, a Prometheus duration ("15d", "12h"). Default "15d".
	Retention string `json:"retention,omitempty"`
	// VolumeSize of the metrics volume. Default "20Gi".
	VolumeSize string `json:"volumeSize,omitempty"`
	// RemoteWriteURL is a monitoring system of the customer's own (bring your own): every
	// sample is also sent there (Prometheus remote write, http or https). Default none.
	RemoteWriteURL string `json:"remoteWriteURL,omitempty"`
}

// LogsConfig is the add-on's log shipping: an OpenTelemetry Collector on every node reads
// the pods' log files and sends them to Loki.
type LogsConfig struct {
	// Enabled ships the logs. Default true.
	Enabled *bool `json:"enabled,omitempty"`
	// Retention of the logs in Loki, a Prometheus duration ("7d", "168h"). Default "7d".
	Retention string `json:"retention,omitempty"`
	// VolumeSize of Loki's volume. Default "10Gi".
	VolumeSize string `json:"volumeSize,omitempty"`
	// LokiURL is a Loki of the customer's own (bring your own): the logs go to its OTLP
	// endpoint (<LokiURL>/otlp) and no Loki runs here. Default none.
	LokiURL string `json:"lokiURL,omitempty"`
}

// TracesConfig is the add-on's tracing: the services get OTEL_EXPORTER_OTLP_ENDPOINT and
// OTEL_SERVICE_NAME, send their spans to the collector, which keeps them in Tempo.
type TracesConfig struct {
	// Enabled points the services at the collector and runs Tempo. Default false.
	Enabled bool `json:"enabled,omitempty"`
	// Retention of the traces, a Go duration ("72h"). Default "72h".
	Retention string `json:"retention,omitempty"`
	// VolumeSize of Tempo's volume. Default "5Gi".
	VolumeSize string `json:"volumeSize,omitempty"`
}

// GrafanaConfig is the add-on's Grafana: its admin password is the grafanaAdminPassword
// secret.
type GrafanaConfig struct {
	// Path on the site's domain where the ingress routes to Grafana, on a site routed by
	// Istio (ingress.type istio with a domain; own or shared gateway) over TLS (the
	// environment's tlsCredentialName): its admin password must not cross the network in
	// the clear. Default "/grafana/" there (or with ExposeOverHTTP), none elsewhere: Grafana
	// stays on its node port, on the site's own network.
	Path string `json:"path,omitempty"`
	// ExposeOverHTTP routes Path on a site whose gateway serves plain HTTP only, accepting
	// that logins cross the network in the clear. Default false.
	ExposeOverHTTP bool `json:"exposeOverHTTP,omitempty"`
	// NodePort it is reached on, on every node. Default 30300 on a site where no Path
	// routes to it; none otherwise (set it to have both).
	NodePort int `json:"nodePort,omitempty"`
}

// AlertingConfig is the add-on's Alertmanager: Prometheus' alerts, grouped by site and
// service, go to its receivers (every receiver gets every alert, and its resolution).
// Without a receiver the alerts are only on Alertmanager's own page.
type AlertingConfig struct {
	// Webhook posts the alerts (Alertmanager's webhook JSON) to the URL in the
	// alertWebhookURL secret: a Slack-, Teams- or Mattermost-compatible incoming webhook,
	// whose URL carries its token, so it is a secret. Default false.
	Webhook bool `json:"webhook,omitempty"`
	// Email sends them over SMTP. Default none.
	Email *EmailReceiver `json:"email,omitempty"`
	// GroupWait, GroupInterval and RepeatInterval are Alertmanager's route timers
	// (Prometheus durations): how long a new group waits for more alerts, how long before a
	// changed group is sent again, and how long before an unchanged one is repeated.
	// Defaults "30s", "5m", "4h".
	GroupWait      string `json:"groupWait,omitempty"`
	GroupInterval  string `json:"groupInterval,omitempty"`
	RepeatInterval string `json:"repeatInterval,omitempty"`
}

// EmailReceiver is an SMTP relay and who gets the alerts; its password is the
// alertSmtpPassword secret.
type EmailReceiver struct {
	// To are the recipients. Required.
	To []string `json:"to,omitempty"`
	// From is the sender address. Required.
	From string `json:"from,omitempty"`
	// Smarthost is the relay, "host:port" (587 for STARTTLS submission). Required.
	Smarthost string `json:"smarthost,omitempty"`
	// Username logs in to the relay. Default: From.
	Username string `json:"username,omitempty"`
	// RequireTLS refuses a relay that does not offer STARTTLS (the password would cross
	// the network in the clear). Default true.
	RequireTLS *bool `json:"requireTLS,omitempty"`
}

// Alerting defaults.
const (
	DefaultAlertGroupWait      = "30s"
	DefaultAlertGroupInterval  = "5m"
	DefaultAlertRepeatInterval = "4h"
	DefaultAlertmanagerVolume  = "1Gi"
)

// ObservabilityImages are the add-on's images.
type ObservabilityImages struct {
	Prometheus       string `json:"prometheus,omitempty"`
	Alertmanager     string `json:"alertmanager,omitempty"`
	Grafana          string `json:"grafana,omitempty"`
	KubeStateMetrics string `json:"kubeStateMetrics,omitempty"`
	NodeExporter     string `json:"nodeExporter,omitempty"`
	Loki             string `json:"loki,omitempty"`
	Tempo            string `json:"tempo,omitempty"`
	Collector        string `json:"collector,omitempty"`
	BlackboxExporter string `json:"blackboxExporter,omitempty"`
	DCGMExporter     string `json:"dcgmExporter,omitempty"`
	// PostgresExporter and RedisExporter run in the compose project (Docker on its host),
	// only on a site whose infra.compose runs PostgreSQL or Redis.
	PostgresExporter string `json:"postgresExporter,omitempty"`
	RedisExporter    string `json:"redisExporter,omitempty"`
}

// Observability add-on defaults.
const (
	DefaultObservabilityNamespace  = "xgen-observability"
	DefaultPrometheusRetention     = "15d"
	DefaultPrometheusVolumeSize    = "20Gi"
	DefaultGrafanaNodePort         = 30300
	DefaultGrafanaPath             = "/grafana/"
	DefaultObservabilityStorageCls = DefaultRegistryAddonClass // K3s' local-path
	DefaultLogsRetention           = "7d"
	DefaultLokiVolumeSize          = "10Gi"
	DefaultTracesRetention         = "72h"
	DefaultTempoVolumeSize         = "5Gi"
)

// DefaultObservabilityImages are the pinned images of the add-on.
var DefaultObservabilityImages = ObservabilityImages{
	// The release the tests run (tools/prometheus, PROMETHEUS_VERSION v0.313.2 = 3.13.2).
	Prometheus: "quay.io/prometheus/prometheus:v3.13.2",
	// The release the tests run (tools/alertmanager, ALERTMANAGER_VERSION).
	Alertmanager:     "quay.io/prometheus/alertmanager:v0.35.0",
	Grafana:          "docker.io/grafana/grafana:12.1.1",
	KubeStateMetrics: "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0",
	NodeExporter:     "quay.io/prometheus/node-exporter:v1.9.1",
	Loki:             "docker.io/grafana/loki:3.5.3",
	Tempo:            "docker.io/grafana/tempo:2.8.2",
	Collector:        "docker.io/otel/opentelemetry-collector-contrib:0.131.0",
	BlackboxExporter: "quay.io/prometheus/blackbox-exporter:v0.27.0",
	DCGMExporter:     "nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04",
	PostgresExporter: "quay.io/prometheuscommunity/postgres-exporter:v0.17.1",
	RedisExporter:    "docker.io/oliver006/redis_exporter:v1.74.0",
}

// promDuration is Prometheus' duration syntax (model.ParseDuration), e.g. "15d", "1w2d".
var promDuration = regexp.MustCompile(`^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$`)

// ObservabilityEnabled says whether the site runs the observability add-on.
func (c *Config) ObservabilityEnabled() bool {
	return c.Cluster != nil && c.Cluster.Addons.Observability != nil && c.Cluster.Addons.Observability.Enabled
}

// setObservabilityDefaults fills cluster.addons.observability; part of SetDefaults.
func setObservabilityDefaults(c *Config) {
	if !c.ObservabilityEnabled() {
		return
	}
	o := c.Cluster.Addons.Observability
	setString(&o.Namespace, DefaultObservabilityNamespace)
	setString(&o.StorageClass, DefaultObservabilityStorageCls)
	setString(&o.Prometheus.Retention, DefaultPrometheusRetention)
	setString(&o.Prometheus.VolumeSize, DefaultPrometheusVolumeSize)
	if c.grafanaRoutable() && (c.Environments[c.Environment].TLSCredentialName != "" || o.Grafana.ExposeOverHTTP) {
		setString(&o.Grafana.Path, DefaultGrafanaPath)
	}
	if o.Grafana.Path == "" {
		setInt(&o.Grafana.NodePort, DefaultGrafanaNodePort)
	}
	if o.Logs.Enabled == nil {
		on := true
		o.Logs.Enabled = &on
	}
	if *o.Logs.Enabled {
		setString(&o.Logs.Retention, DefaultLogsRetention)
		if o.Logs.LokiURL == "" {
			setString(&o.Logs.VolumeSize, DefaultLokiVolumeSize)
		}
	}
	if o.Traces.Enabled {
		setString(&o.Traces.Retention, DefaultTracesRetention)
		setString(&o.Traces.VolumeSize, DefaultTempoVolumeSize)
	}
	a := &o.Alerting
	setString(&a.GroupWait, DefaultAlertGroupWait)
	setString(&a.GroupInterval, DefaultAlertGroupInterval)
	setString(&a.RepeatInterval, DefaultAlertRepeatInterval)
	if e := a.Email; e != nil {
		setString(&e.Username, e.From)
		if e.RequireTLS == nil {
			on := true
			e.RequireTLS = &on
		}
	}
	d := DefaultObservabilityImages
	setString(&o.Images.Prometheus, d.Prometheus)
	setString(&o.Images.Alertmanager, d.Alertmanager)
	setString(&o.Images.Grafana, d.Grafana)
	setString(&o.Images.KubeStateMetrics, d.KubeStateMetrics)
	setString(&o.Images.NodeExporter, d.NodeExporter)
	setString(&o.Images.Loki, d.Loki)
	setString(&o.Images.Tempo, d.Tempo)
	setString(&o.Images.Collector, d.Collector)
	setString(&o.Images.BlackboxExporter, d.BlackboxExporter)
	setString(&o.Images.DCGMExporter, d.DCGMExporter)
	setString(&o.Images.PostgresExporter, d.PostgresExporter)
	setString(&o.Images.RedisExporter, d.RedisExporter)
}

// ComposeExporters says whether the compose project runs the metrics exporters of its
// PostgreSQL and Redis: the observability add-on is on and the project runs either.
func (c *Config) ComposeExporters() (postgres, redis bool) {
	if !c.ObservabilityEnabled() || c.Infra.Compose == nil || c.Infra.Compose.Services == nil {
		return false, false
	}
	return c.Infra.Compose.Services.Postgres != nil, c.Infra.Compose.Services.Redis != nil
}

// LogsEnabled and TracesEnabled say whether the site ships logs and traces (after
// SetDefaults); RunsLoki whether Loki runs here (not when the customer's is named).
func (c *Config) LogsEnabled() bool {
	return c.ObservabilityEnabled() && *c.Cluster.Addons.Observability.Logs.Enabled
}

func (c *Config) TracesEnabled() bool {
	return c.ObservabilityEnabled() && c.Cluster.Addons.Observability.Traces.Enabled
}

func (c *Config) RunsLoki() bool {
	return c.LogsEnabled() && c.Cluster.Addons.Observability.Logs.LokiURL == ""
}

// validateObservability reports every problem of cluster.addons.observability.
func validateObservability(p *problemList, c *Config) {
	if !c.ObservabilityEnabled() {
		return
	}
	o := c.Cluster.Addons.Observability
	const k = "cluster.addons.observability"
	if !dnsLabel.MatchString(o.Namespace) {
		p.add(k+".namespace", o.Namespace, "must be a namespace name (a lowercase DNS label)")
	} else if slices.Contains([]string{c.Namespace, c.Infra.Namespace}, o.Namespace) {
		p.add(k+".namespace", o.Namespace, "is also the site's or the infra's namespace; give the add-on its own (default %q)", DefaultObservabilityNamespace)
	}
	if !dnsSubdomain.MatchString(o.StorageClass) {
		p.add(k+".storageClass", o.StorageClass, "must be a StorageClass name")
	} else if o.StorageClass == DefaultObservabilityStorageCls && slices.Contains(c.Cluster.Disable, "local-storage") {
		p.add(k+".storageClass", o.StorageClass, "is K3s' local storage, which cluster.disable removes; name another StorageClass or keep local-storage")
	}
	if o.Prometheus.Retention == "" || o.Prometheus.Retention == "0s" || !promDuration.MatchString(o.Prometheus.Retention) {
		p.add(k+".prometheus.retention", o.Prometheus.Retention, "must be a Prometheus duration like %q or \"72h\"", DefaultPrometheusRetention)
	}
	if q, err := resource.ParseQuantity(o.Prometheus.VolumeSize); err != nil || q.Sign() <= 0 {
		p.add(k+".prometheus.volumeSize", o.Prometheus.VolumeSize, "must be a size like %q", DefaultPrometheusVolumeSize)
	}
	if u := o.Prometheus.RemoteWriteURL; u != "" {
		if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" || parsed.User != nil {
			p.add(k+".prometheus.remoteWriteURL", u, "must be an http(s) URL of a remote-write endpoint without credentials, e.g. \"https://prometheus.example.com/api/v1/write\"")
		}
	}
	if l := o.Logs; *l.Enabled {
		if !promDuration.MatchString(l.Retention) || l.Retention == "" {
			p.add(k+".logs.retention", l.Retention, "must be a duration like %q or \"168h\"", DefaultLogsRetention)
		}
		if l.LokiURL != "" {
			if u, err := url.Parse(l.LokiURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
				p.add(k+".logs.lokiURL", l.LokiURL, "must be the http(s) base URL of a Loki without credentials, e.g. \"http://loki.monitoring:3100\" (the logs go to <lokiURL>/otlp)")
			}
			if l.VolumeSize != "" {
				p.add(k+".logs.volumeSize", l.VolumeSize, "has no effect: logs.lokiURL names the customer's Loki, so none runs here; remove it")
			}
		} else if q, err := resource.ParseQuantity(l.VolumeSize); err != nil || q.Sign() <= 0 {
			p.add(k+".logs.volumeSize", l.VolumeSize, "must be a size like %q", DefaultLokiVolumeSize)
		}
	}
	if tr := o.Traces; tr.Enabled {
		if d, err := time.ParseDuration(tr.Retention); err != nil || d < time.Hour {
			p.add(k+".traces.retention", tr.Retention, "must be a Go duration of at least an hour, like %q", DefaultTracesRetention)
		}
		if q, err := resource.ParseQuantity(tr.VolumeSize); err != nil || q.Sign() <= 0 {
			p.add(k+".traces.volumeSize", tr.VolumeSize, "must be a size like %q", DefaultTempoVolumeSize)
		}
	}
	if tls := c.Environments[c.Environment].TLSCredentialName; o.Grafana.Path != "" && c.grafanaRoutable() && tls == "" && !o.Grafana.ExposeOverHTTP {
		p.add(k+".grafana.path", o.Grafana.Path, "would route Grafana on %s over plain HTTP: its admin password would cross the network in the clear; give the environment a tlsCredentialName, or set grafana.exposeOverHTTP: true to accept it, or remove the path (Grafana stays on its node port, or kubectl port-forward)", c.Environments[c.Environment].Domain)
	} else if tls != "" && o.Grafana.ExposeOverHTTP {
		p.add(k+".grafana.exposeOverHTTP", true, "has no effect: the environment's gateway serves TLS (%s); remove it", tls)
	}
	if pth := o.Grafana.Path; pth != "" && (!strings.HasPrefix(pth, "/") || !strings.HasSuffix(pth, "/") || pth == "/" || strings.ContainsAny(pth, " ?#*")) {
		p.add(k+".grafana.path", pth, "must be a path prefix that starts and ends with \"/\", e.g. %q", DefaultGrafanaPath)
	} else if pth != "" && slices.Contains(c.Ingress.StreamingPaths, pth) {
		p.add(k+".grafana.path", pth, "is also one of ingress.streamingPaths; give Grafana its own")
	}
	if n := o.Grafana.NodePort; n == 0 && o.Grafana.Path != "" {
		// reached through the ingress only
	} else if n < 30000 || n > 32767 {
		p.add(k+".grafana.nodePort", n, "must be a node port from 30000 to 32767")
	} else if other, ok := takenNodePorts(c)[n]; ok || (c.RegistryAddonEnabled() && c.Cluster.Addons.Registry.NodePort == n) {
		if !ok {
			other = "cluster.addons.registry.nodePort"
		}
		p.add(k+".grafana.nodePort", n, "is also %s; give Grafana its own node port", other)
	}
	validateAlerting(p, k+".alerting", o.Alerting)
	for key, ref := range imagesByKey(o.Images) {
		if !pinnedImage.MatchString(ref) || strings.HasSuffix(ref, ":latest") {
			p.add(k+".images."+key, ref, "must be an image with a pinned tag or digest, e.g. %q", imageOf(DefaultObservabilityImages, key))
		}
	}
}

// grafanaRoutable says whether the site's ingress can route a path to Grafana: an Istio
// VirtualService on the site's domain (Traefik's Ingress reaches only its own namespace).
func (c *Config) grafanaRoutable() bool {
	return c.Ingress.Type == "istio" && c.Environments[c.Environment].Domain != ""
}

// takenNodePorts are the node ports of the site's ingress and Istio gateway, by the key that
// sets them: what an add-on's node port must not be.
func takenNodePorts(c *Config) map[int]string {
	taken := map[int]string{}
	if c.Environments[c.Environment].Domain == "" && c.Ingress.Type != "none" && c.Ingress.ExposeType == "NodePort" && c.Ingress.NodePort != nil {
		taken[*c.Ingress.NodePort] = "ingress.nodePort"
	}
	if c.Cluster == nil {
		return taken
	}
	if is := c.Cluster.Addons.Istio; is != nil && is.Enabled != nil && *is.Enabled && is.Gateway.ServiceType == "NodePort" {
		taken[is.Gateway.HTTPNodePort] = "cluster.addons.istio.gateway.httpNodePort"
		taken[is.Gateway.HTTPSNodePort] = "cluster.addons.istio.gateway.httpsNodePort"
	}
	return taken
}

func imageOf(im ObservabilityImages, key string) string { return imagesByKey(im)[key] }

// imagesByKey are the add-on's images by their key under images.
func imagesByKey(im ObservabilityImages) map[string]string {
	return map[string]string{"prometheus": im.Prometheus, "alertmanager": im.Alertmanager, "grafana": im.Grafana, "kubeStateMetrics": im.KubeStateMetrics,
		"nodeExporter": im.NodeExporter, "loki": im.Loki, "tempo": im.Tempo, "collector": im.Collector,
		"blackboxExporter": im.BlackboxExporter, "dcgmExporter": im.DCGMExporter,
		"postgresExporter": im.PostgresExporter, "redisExporter": im.RedisExporter}
}

// validateExternalMonitoring reports every problem of externalMonitoring.
func validateExternalMonitoring(p *problemList, c *Config) {
	em := c.ExternalMonitoring
	if em == nil {
		return
	}
	const k = "externalMonitoring"
	if c.ObservabilityEnabled() {
		p.add(k, nil, "and cluster.addons.observability both say who scrapes the site; keep the add-on (it runs on this cluster) or the cluster's own monitoring")
	}
	if em.Prometheus == nil {
		p.add(k+".prometheus", nil, "is required: the namespace and pod labels of the cluster's Prometheus, e.g. {namespace: monitoring, podLabels: {app.kubernetes.io/name: prometheus}}")
		return
	}
	if ns := em.Prometheus.Namespace; !dnsLabel.MatchString(ns) {
		p.add(k+".prometheus.namespace", ns, "must be the namespace the cluster's Prometheus runs in (a lowercase DNS label), e.g. \"monitoring\"")
	}
	if len(em.Prometheus.PodLabels) == 0 {
		p.add(k+".prometheus.podLabels", nil, "is required: the labels of the Prometheus pods (kubectl -n <namespace> get pods --show-labels), e.g. {app.kubernetes.io/name: prometheus}")
	}
	validateLabels(p, k+".prometheus.podLabels", em.Prometheus.PodLabels)
}

// ExternalScraper is the cluster's own Prometheus that scrapes the site (externalMonitoring),
// nil without one: its scrape job finds the pods by their prometheus.io annotations.
func (c *Config) ExternalScraper() *ScraperConfig {
	if c.ExternalMonitoring == nil {
		return nil
	}
	return c.ExternalMonitoring.Prometheus
}

// HasGPUHosts says whether a host of site.cluster is a GPU host (gpu: true).
func (c *Config) HasGPUHosts() bool {
	if c.Cluster == nil {
		return false
	}
	for _, n := range append(append([]NodeConfig(nil), c.Cluster.Servers...), c.Cluster.Agents...) {
		if n.GPU {
			return true
		}
	}
	return false
}

// Images are the add-on's images the site runs: Loki only without the customer's, Tempo
// only with traces, the collector with logs or traces, the GPU exporter with GPU hosts.
func (o *ObservabilityConfig) RunImages(gpu bool) []SiteImage {
	im := o.Images
	out := []SiteImage{
		{Ref: im.Prometheus, For: "prometheus", Runtime: RuntimeCluster},
		{Ref: im.Alertmanager, For: "alertmanager", Runtime: RuntimeCluster},
		{Ref: im.Grafana, For: "grafana", Runtime: RuntimeCluster},
		{Ref: im.KubeStateMetrics, For: "kube-state-metrics", Runtime: RuntimeCluster},
		{Ref: im.NodeExporter, For: "node-exporter", Runtime: RuntimeCluster},
		{Ref: im.BlackboxExporter, For: "blackbox-exporter", Runtime: RuntimeCluster},
	}
	if *o.Logs.Enabled && o.Logs.LokiURL == "" {
		out = append(out, SiteImage{Ref: im.Loki, For: "loki", Runtime: RuntimeCluster})
	}
	if o.Traces.Enabled {
		out = append(out, SiteImage{Ref: im.Tempo, For: "tempo", Runtime: RuntimeCluster})
	}
	if *o.Logs.Enabled || o.Traces.Enabled {
		out = append(out, SiteImage{Ref: im.Collector, For: "otel-collector", Runtime: RuntimeCluster})
	}
	if gpu {
		out = append(out, SiteImage{Ref: im.DCGMExporter, For: "dcgm-exporter", Runtime: RuntimeCluster})
	}
	return out
}

// checkIgnoredObservability: the add-on's keys with the add-on off.
func checkIgnoredObservability(p *problemList, raw *AddonsConfig, c *Config) {
	o := raw.Observability
	if o == nil {
		return
	}
	if o.Enabled {
		if o.Grafana.Path != "" && !c.grafanaRoutable() {
			p.add("cluster.addons.observability.grafana.path", o.Grafana.Path, "has no effect: only a site routed by Istio on a domain routes a path to Grafana (this one: ingress.type %s, domain %q); remove it and use grafana.nodePort", c.Ingress.Type, c.Environments[c.Environment].Domain)
		}
		if o.Grafana.ExposeOverHTTP && !c.grafanaRoutable() {
			p.add("cluster.addons.observability.grafana.exposeOverHTTP", true, "has no effect: only a site routed by Istio on a domain routes a path to Grafana; remove it")
		}
		if o.Images.DCGMExporter != "" && !c.HasGPUHosts() {
			p.add("cluster.addons.observability.images.dcgmExporter", nil, "has no effect: no host of site.cluster is a GPU host (gpu: true); remove it")
		}
		postgres, redis := c.ComposeExporters()
		if o.Images.PostgresExporter != "" && !postgres {
			p.add("cluster.addons.observability.images.postgresExporter", nil, "has no effect: the exporter runs in the compose project, and infra.compose runs no PostgreSQL here; remove it")
		}
		if o.Images.RedisExporter != "" && !redis {
			p.add("cluster.addons.observability.images.redisExporter", nil, "has no effect: the exporter runs in the compose project, and infra.compose runs no Redis here; remove it")
		}
		// Keys of a part that is off.
		const k = "cluster.addons.observability."
		if l := o.Logs; l.Enabled != nil && !*l.Enabled {
			for key, set := range map[string]bool{"retention": l.Retention != "", "volumeSize": l.VolumeSize != "", "lokiURL": l.LokiURL != ""} {
				if set {
					p.add(k+"logs."+key, nil, "has no effect: logs.enabled is false; remove it or ship the logs")
				}
			}
		}
		if tr := o.Traces; !tr.Enabled {
			for key, set := range map[string]bool{"retention": tr.Retention != "", "volumeSize": tr.VolumeSize != ""} {
				if set {
					p.add(k+"traces."+key, nil, "has no effect: traces.enabled is false; remove it or enable traces")
				}
			}
		}
		logs := o.Logs.Enabled == nil || *o.Logs.Enabled
		for key, unused := range map[string]bool{
			"loki":      o.Images.Loki != "" && (!logs || o.Logs.LokiURL != ""),
			"tempo":     o.Images.Tempo != "" && !o.Traces.Enabled,
			"collector": o.Images.Collector != "" && !logs && !o.Traces.Enabled,
		} {
			if unused {
				p.add(k+"images."+key, nil, "has no effect: the add-on runs no %s here (logs off, logs.lokiURL, or traces off); remove it", key)
			}
		}
		return
	}
	for key, set := range map[string]bool{"namespace": o.Namespace != "", "storageClass": o.StorageClass != "",
		"prometheus.retention": o.Prometheus.Retention != "", "prometheus.volumeSize": o.Prometheus.VolumeSize != "",
		"prometheus.remoteWriteURL": o.Prometheus.RemoteWriteURL != "", "grafana.nodePort": o.Grafana.NodePort != 0, "grafana.path": o.Grafana.Path != "",
		"images.prometheus": o.Images.Prometheus != "", "images.alertmanager": o.Images.Alertmanager != "", "images.grafana": o.Images.Grafana != "",
		"alerting.webhook": o.Alerting.Webhook, "alerting.email": o.Alerting.Email != nil, "alerting.groupWait": o.Alerting.GroupWait != "",
		"alerting.groupInterval": o.Alerting.GroupInterval != "", "alerting.repeatInterval": o.Alerting.RepeatInterval != "",
		"images.kubeStateMetrics": o.Images.KubeStateMetrics != "", "images.nodeExporter": o.Images.NodeExporter != "",
		"images.loki": o.Images.Loki != "", "images.blackboxExporter": o.Images.BlackboxExporter != "", "images.tempo": o.Images.Tempo != "", "images.collector": o.Images.Collector != "",
		"images.dcgmExporter": o.Images.DCGMExporter != "", "images.postgresExporter": o.Images.PostgresExporter != "", "images.redisExporter": o.Images.RedisExporter != "",
		"logs.enabled": o.Logs.Enabled != nil, "logs.retention": o.Logs.Retention != "", "logs.volumeSize": o.Logs.VolumeSize != "",
		"logs.lokiURL": o.Logs.LokiURL != "", "traces.enabled": o.Traces.Enabled, "traces.retention": o.Traces.Retention != "",
		"traces.volumeSize":   o.Traces.VolumeSize != "",
		"removeDataOnDestroy": o.RemoveDataOnDestroy} {
		if set {
			p.add("cluster.addons.observability."+key, nil, "has no effect: cluster.addons.observability.enabled is false; remove it or enable the add-on")
		}
	}
}

// Scraped says whether the service serves metrics that a Prometheus scrapes.
func (s Service) Scraped() bool { return *s.Spec.Metrics.Enabled }

// MetricsPort is the port Prometheus scrapes a service on.
func (s Service) MetricsPort() int {
	if p := *s.Spec.Metrics.Port; p != 0 {
		return p
	}
	return *s.Spec.Port
}

// The collector's in-cluster OTLP/HTTP endpoint, what the services send their traces to.
const collectorOTLPPort = 4318

// TracesEndpoint is the OTLP/HTTP endpoint the services send their traces to ("" without
// traces).
func (c *Config) TracesEndpoint() string {
	if !c.TracesEnabled() {
		return ""
	}
	return fmt.Sprintf("http://otel-collector.%s.svc.cluster.local:%d", c.Cluster.Addons.Observability.Namespace, collectorOTLPPort)
}

// validateAlerting reports every problem of cluster.addons.observability.alerting.
func validateAlerting(p *problemList, k string, a AlertingConfig) {
	for key, d := range map[string]string{"groupWait": a.GroupWait, "groupInterval": a.GroupInterval, "repeatInterval": a.RepeatInterval} {
		if d == "" || d == "0s" || !promDuration.MatchString(d) {
			p.add(k+"."+key, d, "must be a Prometheus duration like \"30s\", \"5m\" or \"4h\"")
		}
	}
	e := a.Email
	if e == nil {
		return
	}
	if len(e.To) == 0 {
		p.add(k+".email.to", nil, "is required: the recipients, e.g. [ops@example.com]")
	}
	for i, to := range e.To {
		if !plainAddress(to) {
			p.add(fmt.Sprintf("%s.email.to[%d]", k, i), to, "must be an e-mail address like ops@example.com")
		}
	}
	if !plainAddress(e.From) {
		p.add(k+".email.from", e.From, "is required: the sender's e-mail address, e.g. xgen-alerts@example.com")
	}
	host, port, err := net.SplitHostPort(e.Smarthost)
	if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		p.add(k+".email.smarthost", e.Smarthost, "must be the SMTP relay as host:port, e.g. \"smtp.example.com:587\"")
	}
	if strings.ContainsAny(e.Username, " \t\n") {
		p.add(k+".email.username", e.Username, "must be a login name without spaces (default: email.from)")
	}
}

// plainAddress says whether s is one bare e-mail address (no display name).
func plainAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// checkAlertWebhookURL: an http(s) URL with a host. The value (it carries a token) is never echoed.
func checkAlertWebhookURL(stack, value string) string {
	u, err := url.Parse(strings.TrimSpace(value))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "is not an http(s) URL; store the receiver's incoming-webhook URL, e.g. https://chat.example.com/hooks/<token>: pulumi config set --secret " + SecretAlertWebhookURL + " --stack " + stack
	}
	return ""
}
