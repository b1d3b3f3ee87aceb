package components

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components/obsconfig"
)

// ObservabilityArgs runs a site's metrics, alerts, logs, traces and dashboards: Prometheus
// (scraping the site's services, kube-state-metrics, node-exporter on every node and the
// kubelets' cAdvisor) sending its alerts to Alertmanager, an OpenTelemetry Collector on every node shipping the pods' logs to Loki and
// the services' traces to Tempo, and Grafana with the data sources and the site's dashboard
// provisioned from files.
type ObservabilityArgs struct {
	// Site is the site's name: the "site" label of every series. Required.
	Site string
	// Namespace of the add-on. Required.
	Namespace string
	// SiteNamespace is the namespace of the site's services. Required.
	SiteNamespace string
	// OtherNamespaces are those of the site's environments deployed beside SiteNamespace's:
	// their services' spans are taken too (their scrape targets are in Targets). Default
	// none.
	OtherNamespaces []string
	// Services are the site's services, scraped or not (the dashboard's rows: CPU, memory and
	// restarts come from the kubelet and kube-state-metrics). Required.
	Services []string
	// Targets are the services Prometheus scrapes (port and path each): those with a
	// metrics endpoint. Default none.
	Targets []obsconfig.Target
	// HPAs are the services that autoscale (the dashboard's HPA panel). Default none.
	HPAs []string
	// Retention of the metrics ("15d") and VolumeSize of their volume ("20Gi"). Required.
	Retention, VolumeSize string
	// StorageClass of the metrics volume. Required.
	StorageClass string
	// RemoteWriteURL also receives every sample. Default none.
	RemoteWriteURL string
	// GrafanaNodePort is where Grafana is reached, on every node. Default 0: no node port
	// (then GrafanaRootURL is required).
	GrafanaNodePort int
	// GrafanaRootURL is Grafana's public URL when the site's ingress routes a path to it
	// (e.g. "https://xgen.example.com/grafana/"): Grafana serves from that sub-path.
	// Default "": it is reached on GrafanaNodePort at "/".
	GrafanaRootURL string
	// GrafanaAdminPassword is the admin user's password (a secret). Required.
	GrafanaAdminPassword pulumi.StringInput
	// Probes are the infra endpoints (as the applications reach them) the blackbox exporter
	// checks. Default none: no exporter.
	Probes []obsconfig.Probe
	// Certificates are TLS endpoints (the API server, the site's domain over TLS) whose
	// certificates' expiry the blackbox exporter reads. Default none.
	Certificates []obsconfig.Probe
	// Exporters are infra metrics exporters outside the cluster (the compose project's
	// PostgreSQL and Redis exporters), "host:port" as Prometheus reaches them. Default none.
	Exporters []obsconfig.Probe
	// ComposeProject, with Logs, also ships that compose project's logs: Docker's json-file
	// logs, read by the collector of the node that is the compose host (on other nodes it
	// finds none). Default "": none.
	ComposeProject string
	// Logs ships every pod's log. Default nil: none.
	Logs *ObservabilityLogs
	// Traces runs Tempo and the collector's OTLP receiver. Default nil: none.
	Traces *ObservabilityTraces
	// Images, each pinned. Required; LokiImage with Logs (and no LokiURL), TempoImage with
	// Traces, CollectorImage with either.
	PrometheusImage, GrafanaImage, KubeStateMetricsImage, NodeExporterImage string
	LokiImage, TempoImage, CollectorImage                                   string
	// BlackboxExporterImage runs the probes. Required with Probes or Certificates.
	BlackboxExporterImage string
	// GPUNodes runs the NVIDIA DCGM exporter on the GPU nodes (labelled and tainted as
	// K3sCluster marks them). Default false.
	GPUNodes bool
	// DCGMExporterImage is its image. Required with GPUNodes.
	DCGMExporterImage string
	// GPURuntimeClass is the RuntimeClass of the NVIDIA container runtime the DCGM exporter
	// runs with (it reads the GPUs through it, as every GPU workload). Required with GPUNodes.
	GPURuntimeClass string
	// Alerting runs Alertmanager, which Prometheus sends its alerts to. Default nil: none.
	Alerting *ObservabilityAlerting
	// AlertmanagerImage is its image. Required with Alerting.
	AlertmanagerImage string
	// RemoveDataOnDestroy lets destroy delete the metrics volume and the namespace. Default
	// false: both are left in the cluster (retainOnDelete).
	RemoveDataOnDestroy bool
	// NetworkPolicies restricts who reaches the add-on (the site's networkPolicy.enabled).
	// Default false: no policies.
	NetworkPolicies bool
}

// ObservabilityLogs is where the logs go and how long they stay.
type ObservabilityLogs struct {
	// LokiURL is the customer's Loki (its base URL); "" runs ours.
	LokiURL string
	// Retention ("7d") and VolumeSize ("10Gi") of our Loki. Required without LokiURL.
	Retention, VolumeSize string
}

// ObservabilityTraces is how long traces stay.
type ObservabilityTraces struct {
	// Retention ("72h", a Go duration) and VolumeSize ("5Gi") of Tempo. Required.
	Retention, VolumeSize string
}

// Observability is the running add-on.
type Observability struct {
	pulumi.ResourceState

	// PrometheusURL is Prometheus' in-cluster address.
	PrometheusURL pulumi.StringOutput
	// GrafanaNodePort is the node port Grafana answers on (0: none, the ingress routes to it).
	GrafanaNodePort pulumi.IntOutput
}

// The add-on's ports and users.
const (
	prometheusPort = 9090
	// GrafanaPort is Grafana's port, in its Service too (the site's ingress routes there).
	GrafanaPort = 3000
	// nobody: Prometheus', node-exporter's, kube-state-metrics' and the blackbox exporter's
	// images run as it.
	observabilityUID = 65534
	// Grafana's image runs as any user (its writable paths are volumes or world-writable):
	// one above the hosts' users rather than the image's 472.
	grafanaUID = 10472
	// Loki's, Tempo's and the collector's image user.
	lokiUID = 10001
)

func (a *ObservabilityArgs) check() error {
	var errs []error
	if a.Site == "" || a.Namespace == "" || a.SiteNamespace == "" {
		errs = append(errs, errors.New("Site, Namespace and SiteNamespace are required"))
	}
	if len(a.Services) == 0 {
		errs = append(errs, errors.New("at least one service is required"))
	}
	if a.Retention == "" || a.VolumeSize == "" || a.StorageClass == "" {
		errs = append(errs, errors.New("Retention, VolumeSize and StorageClass are required"))
	}
	switch {
	case a.GrafanaNodePort == 0 && a.GrafanaRootURL == "":
		errs = append(errs, errors.New("Grafana needs a GrafanaNodePort or a GrafanaRootURL (it would be unreachable)"))
	case a.GrafanaNodePort != 0 && (a.GrafanaNodePort < 30000 || a.GrafanaNodePort > 32767):
		errs = append(errs, fmt.Errorf("GrafanaNodePort %d: a node port is from 30000 to 32767", a.GrafanaNodePort))
	}
	if a.GrafanaAdminPassword == nil {
		errs = append(errs, errors.New("GrafanaAdminPassword is required"))
	}
	if a.PrometheusImage == "" || a.GrafanaImage == "" || a.KubeStateMetricsImage == "" || a.NodeExporterImage == "" {
		errs = append(errs, errors.New("every image is required"))
	}
	if l := a.Logs; l != nil && l.LokiURL == "" && (l.Retention == "" || l.VolumeSize == "" || a.LokiImage == "") {
		errs = append(errs, errors.New("Logs without a LokiURL needs Retention, VolumeSize and LokiImage"))
	}
	if tr := a.Traces; tr != nil && (tr.Retention == "" || tr.VolumeSize == "" || a.TempoImage == "") {
		errs = append(errs, errors.New("Traces needs Retention, VolumeSize and TempoImage"))
	}
	if a.GPUNodes && (a.DCGMExporterImage == "" || a.GPURuntimeClass == "") {
		errs = append(errs, errors.New("GPUNodes needs DCGMExporterImage and GPURuntimeClass"))
	}
	if al := a.Alerting; al != nil && (al.Config == "" || al.VolumeSize == "" || a.AlertmanagerImage == "") {
		errs = append(errs, errors.New("Alerting needs Config, VolumeSize and AlertmanagerImage"))
	}
	if len(a.Probes)+len(a.Certificates) > 0 && a.BlackboxExporterImage == "" {
		errs = append(errs, errors.New("Probes and Certificates need BlackboxExporterImage"))
	}
	if (a.Logs != nil || a.Traces != nil) && a.CollectorImage == "" {
		errs = append(errs, errors.New("Logs or Traces need CollectorImage"))
	}
	return errors.Join(errs...)
}

// NewObservability registers the add-on.
func NewObservability(ctx *pulumi.Context, name string, args ObservabilityArgs, opts ...pulumi.ResourceOption) (*Observability, error) {
	if err := args.check(); err != nil {
		return nil, fmt.Errorf("observability %s: %w", name, err)
	}
	var alertmanager string
	if args.Alerting != nil {
		alertmanager = fmt.Sprintf("alertmanager.%s.svc:%d", args.Namespace, obsconfig.AlertmanagerPort)
	}
	promConfig, err := obsconfig.PrometheusConfig(obsconfig.PrometheusArgs{
		Site: args.Site, Namespace: args.Namespace, Services: args.Targets, RemoteWriteURL: args.RemoteWriteURL,
		Probes: args.Probes, Certificates: args.Certificates, Exporters: args.Exporters, GPU: args.GPUNodes, Alertmanager: alertmanager,
	})
	if err != nil {
		return nil, fmt.Errorf("observability %s: %w", name, err)
	}
	dash, err := obsconfig.SiteDashboard(obsconfig.DashboardArgs{
		Site: args.Site, Namespace: args.SiteNamespace, Services: args.Services, HPAs: args.HPAs,
		Infra: len(args.Probes) > 0, GPU: args.GPUNodes,
	})
	if err != nil {
		return nil, fmt.Errorf("observability %s: %w", name, err)
	}
	promURL := fmt.Sprintf("http://prometheus.%s.svc:%d", args.Namespace, prometheusPort)
	var lokiURL, tempoURL string
	if l := args.Logs; l != nil {
		lokiURL = strings.TrimSuffix(l.LokiURL, "/")
		if lokiURL == "" {
			lokiURL = fmt.Sprintf("http://loki.%s.svc:%d", args.Namespace, obsconfig.LokiPort)
		}
	}
	if args.Traces != nil {
		tempoURL = fmt.Sprintf("http://tempo.%s.svc:%d", args.Namespace, obsconfig.TempoPort)
	}
	datasources, err := obsconfig.GrafanaDatasources(promURL, lokiURL, tempoURL)
	if err != nil {
		return nil, fmt.Errorf("observability %s: %w", name, err)
	}
	provider, err := obsconfig.GrafanaDashboardProvider()
	if err != nil {
		return nil, fmt.Errorf("observability %s: %w", name, err)
	}

	o := &Observability{}
	if err := ctx.RegisterComponentResource("xgen:index:Observability", name, o, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(o)
	keep := pulumi.RetainOnDelete(!args.RemoveDataOnDestroy) // the metrics are data
	ns, err := NewNamespace(ctx, args.Namespace, parent, keep)
	if err != nil {
		return nil, err
	}
	inNS := pulumi.DependsOn([]pulumi.Resource{ns})
	b := &obsBuilder{ctx: ctx, name: name, ns: args.Namespace, opts: []pulumi.ResourceOption{parent, inNS}}

	b.prometheus(args, promConfig, keep)
	if args.Alerting != nil {
		b.alertmanager(args, keep)
	}
	b.kubeStateMetrics(args.KubeStateMetricsImage)
	if len(args.Probes)+len(args.Certificates) > 0 {
		b.blackboxExporter(args.BlackboxExporterImage)
	}
	if args.GPUNodes {
		b.dcgmExporter(args.DCGMExporterImage, args.GPURuntimeClass)
	}
	b.nodeExporter(args.NodeExporterImage)
	b.grafana(args, datasources, provider, dash)
	if args.Logs != nil || args.Traces != nil {
		if err := b.logsAndTraces(args, lokiURL, keep); err != nil {
			return nil, err
		}
	}
	if args.NetworkPolicies {
		b.networkPolicies(args)
	}
	if b.err != nil {
		return nil, fmt.Errorf("observability %s: %w", name, b.err)
	}
	o.PrometheusURL = pulumi.String(promURL).ToStringOutput()
	o.GrafanaNodePort = pulumi.Int(args.GrafanaNodePort).ToIntOutput()
	if err := ctx.RegisterResourceOutputs(o, pulumi.Map{
		"prometheusURL": o.PrometheusURL, "grafanaNodePort": o.GrafanaNodePort,
	}); err != nil {
		return nil, err
	}
	return o, nil
}

// ObservabilityScraper is the add-on's Prometheus as the site's policies admit it.
func ObservabilityScraper(namespace string) *ScrapeSource {
	return &ScrapeSource{Namespace: namespace, PodLabels: map[string]string{NameLabel: "prometheus"}}
}
