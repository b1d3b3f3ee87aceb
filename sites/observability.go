package sites

import (
	"net/url"
	"regexp"
	"slices"

	"k8s.io/apimachinery/pkg/api/resource"
)

// ObservabilityConfig is the observability add-on (`cluster.addons.observability`): what the
// old system's observability/ stack gave every site. Metrics (Prometheus scraping the site's
// services, the nodes and kube-state) and Grafana with its dashboards as code.
type ObservabilityConfig struct {
	// Enabled runs it. Default false.
	Enabled bool `json:"enabled,omitempty"`
	// Namespace of its workloads. Default "xgen-observability".
	Namespace string `json:"namespace,omitempty"`
	// StorageClass of its volumes. Default "local-path" (K3s' local storage).
	StorageClass string `json:"storageClass,omitempty"`
	// Prometheus is the metrics store.
	Prometheus PrometheusConfig `json:"prometheus,omitempty"`
	// Grafana is the dashboards' server.
	Grafana GrafanaConfig `json:"grafana,omitempty"`
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

// GrafanaConfig is the add-on's Grafana: its admin password is the grafanaAdminPassword
// secret.
type GrafanaConfig struct {
	// NodePort it is reached on, on every node. Default 30300.
	NodePort int `json:"nodePort,omitempty"`
}

// ObservabilityImages are the add-on's images.
type ObservabilityImages struct {
	Prometheus       string `json:"prometheus,omitempty"`
	Grafana          string `json:"grafana,omitempty"`
	KubeStateMetrics string `json:"kubeStateMetrics,omitempty"`
	NodeExporter     string `json:"nodeExporter,omitempty"`
}

// Observability add-on defaults.
const (
	DefaultObservabilityNamespace  = "xgen-observability"
	DefaultPrometheusRetention     = "15d"
	DefaultPrometheusVolumeSize    = "20Gi"
	DefaultGrafanaNodePort         = 30300
	DefaultObservabilityStorageCls = "local-path"
)

// DefaultObservabilityImages are the pinned images of the add-on.
var DefaultObservabilityImages = ObservabilityImages{
	Prometheus:       "quay.io/prometheus/prometheus:v3.5.0",
	Grafana:          "docker.io/grafana/grafana:12.1.1",
	KubeStateMetrics: "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0",
	NodeExporter:     "quay.io/prometheus/node-exporter:v1.9.1",
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
	setInt(&o.Grafana.NodePort, DefaultGrafanaNodePort)
	d := DefaultObservabilityImages
	setString(&o.Images.Prometheus, d.Prometheus)
	setString(&o.Images.Grafana, d.Grafana)
	setString(&o.Images.KubeStateMetrics, d.KubeStateMetrics)
	setString(&o.Images.NodeExporter, d.NodeExporter)
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
	if n := o.Grafana.NodePort; n < 30000 || n > 32767 {
		p.add(k+".grafana.nodePort", n, "must be a node port from 30000 to 32767")
	} else if other, ok := takenNodePorts(c)[n]; ok || (c.RegistryAddonEnabled() && c.Cluster.Addons.Registry.NodePort == n) {
		if !ok {
			other = "cluster.addons.registry.nodePort"
		}
		p.add(k+".grafana.nodePort", n, "is also %s; give Grafana its own node port", other)
	}
	for key, ref := range map[string]string{"prometheus": o.Images.Prometheus, "grafana": o.Images.Grafana,
		"kubeStateMetrics": o.Images.KubeStateMetrics, "nodeExporter": o.Images.NodeExporter} {
		if !pinnedImage.MatchString(ref) || hasLatestTag(ref) {
			p.add(k+".images."+key, ref, "must be an image with a pinned tag or digest, e.g. %q", imageOf(DefaultObservabilityImages, key))
		}
	}
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

func hasLatestTag(ref string) bool {
	return len(ref) > 7 && ref[len(ref)-7:] == ":latest"
}

func imageOf(im ObservabilityImages, key string) string {
	return map[string]string{"prometheus": im.Prometheus, "grafana": im.Grafana,
		"kubeStateMetrics": im.KubeStateMetrics, "nodeExporter": im.NodeExporter}[key]
}

// checkIgnoredObservability: the add-on's keys with the add-on off.
func checkIgnoredObservability(p *problemList, raw *AddonsConfig) {
	o := raw.Observability
	if o == nil || o.Enabled {
		return
	}
	for key, set := range map[string]bool{"namespace": o.Namespace != "", "storageClass": o.StorageClass != "",
		"prometheus.retention": o.Prometheus.Retention != "", "prometheus.volumeSize": o.Prometheus.VolumeSize != "",
		"prometheus.remoteWriteURL": o.Prometheus.RemoteWriteURL != "", "grafana.nodePort": o.Grafana.NodePort != 0,
		"images.prometheus": o.Images.Prometheus != "", "images.grafana": o.Images.Grafana != "",
		"images.kubeStateMetrics": o.Images.KubeStateMetrics != "", "images.nodeExporter": o.Images.NodeExporter != "",
		"removeDataOnDestroy": o.RemoveDataOnDestroy} {
		if set {
			p.add("cluster.addons.observability."+key, nil, "has no effect: cluster.addons.observability.enabled is false; remove it or enable the add-on")
		}
	}
}

// MetricsPort is the port Prometheus scrapes a service on.
func (s Service) MetricsPort() int {
	if p := *s.Spec.Metrics.Port; p != 0 {
		return p
	}
	return *s.Spec.Port
}
