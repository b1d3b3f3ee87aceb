package stack

// Add-ons on a cluster the program made: the site registry (every node pulls
// localhost:<port>/...), Istio, whose gateway the site's Gateway binds to, and
// observability (Prometheus scraping the site's services, Grafana).

import (
	"fmt"
	"net"
	"strconv"

	"github.com/prometheus/common/model"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components"
	"xgen-infra/components/compose"
	"xgen-infra/components/obsconfig"
	"xgen-infra/sites"
)

// gpuAddon registers the GPU add-on on a site with GPU hosts and returns what a GPU workload
// waits for: its RuntimeClass (the API server refuses a pod naming a missing one) and the
// device plugin (no node advertises nvidia.com/gpu before it runs).
func gpuAddon(ctx *pulumi.Context, site *sites.Site, k8s pulumi.ResourceOption) ([]pulumi.Resource, error) {
	if !site.Config.GPUAddonEnabled() {
		return nil, nil
	}
	g := site.Config.Cluster.Addons.GPU
	args := components.NvidiaDevicePluginArgs{
		Image: g.DevicePluginImage, Namespace: "kube-system", RuntimeClass: sites.NvidiaRuntimeClass,
		NodeSelector: map[string]string{sites.GPULabelKey: sites.GPULabelValue},
	}
	if site.Config.GPUSharing() > 1 {
		args.TimeSlicingReplicas = site.Config.GPUSharing()
	}
	plugin, err := components.NewNvidiaDevicePlugin(ctx, "gpu", args, k8s)
	if err != nil {
		return nil, err
	}
	return []pulumi.Resource{plugin}, nil
}

// addonsLayer registers the site's add-ons, exports them, and returns what the ingress
// waits for (the mesh).
func addonsLayer(ctx *pulumi.Context, site *sites.Site, sec secretValues, gpu []pulumi.Resource, k8s pulumi.ResourceOption) ([]pulumi.Resource, error) {
	outputs := pulumi.Map{}
	var mesh []pulumi.Resource
	if site.Config.RegistryAddonEnabled() {
		r := site.Config.Cluster.Addons.Registry
		reg, err := components.NewSiteRegistry(ctx, "registry", components.SiteRegistryArgs{
			Image: r.Image, NodePort: r.NodePort, Storage: r.Storage, StorageClass: r.StorageClass,
			Namespace: r.Namespace, RemoveDataOnDestroy: r.RemoveDataOnDestroy,
		}, k8s)
		if err != nil {
			return nil, err
		}
		outputs["registry"] = pulumi.Map{"endpoint": reg.Endpoint}
	}
	if site.Config.IstioEnabled() {
		istio, err := components.NewIstio(ctx, "istio", istioArgs(site), k8s)
		if err != nil {
			return nil, err
		}
		mesh = append(mesh, istio)
		outputs["istio"] = pulumi.Map{
			"version": istio.Version, "namespace": istio.Namespace, "gatewayService": istio.GatewayService,
		}
	}
	if site.Config.ObservabilityEnabled() {
		// The DCGM exporter runs with the GPU add-on's RuntimeClass.
		args, err := observabilityArgs(site, sec)
		if err != nil {
			return nil, err
		}
		obs, err := components.NewObservability(ctx, "observability", args, k8s, pulumi.DependsOn(gpu))
		if err != nil {
			return nil, err
		}
		o := site.Config.Cluster.Addons.Observability
		outputs["observability"] = pulumi.Map{
			"namespace": pulumi.String(o.Namespace), "prometheusURL": obs.PrometheusURL,
			"grafanaURL": pulumi.String(grafanaURL(site)),
		}
	}
	if len(outputs) > 0 {
		ctx.Export("addons", outputs)
	}
	return mesh, nil
}

// observabilityArgs: the site's services as scrape targets (their metrics port and path from
// the catalog) and the add-on's settings.
func observabilityArgs(site *sites.Site, sec secretValues) (components.ObservabilityArgs, error) {
	o := site.Config.Cluster.Addons.Observability
	args := components.ObservabilityArgs{
		Site: site.Name, Namespace: o.Namespace, SiteNamespace: site.Config.Namespace,
		Retention: o.Prometheus.Retention, VolumeSize: o.Prometheus.VolumeSize, StorageClass: o.StorageClass,
		RemoteWriteURL: o.Prometheus.RemoteWriteURL, GrafanaNodePort: o.Grafana.NodePort,
		GrafanaAdminPassword: sec[sites.SecretGrafanaAdminPassword],
		PrometheusImage:      o.Images.Prometheus, GrafanaImage: o.Images.Grafana, AlertmanagerImage: o.Images.Alertmanager,
		KubeStateMetricsImage: o.Images.KubeStateMetrics, NodeExporterImage: o.Images.NodeExporter,
		RemoveDataOnDestroy: o.RemoveDataOnDestroy, NetworkPolicies: *site.Config.NetworkPolicy.Enabled,
		LokiImage: o.Images.Loki, TempoImage: o.Images.Tempo, CollectorImage: o.Images.Collector,
		BlackboxExporterImage: o.Images.BlackboxExporter,
		GPUNodes:              site.Config.HasGPUHosts(), DCGMExporterImage: o.Images.DCGMExporter,
	}
	if args.GPUNodes {
		args.GPURuntimeClass = sites.NvidiaRuntimeClass
	}
	if grafanaPath(site) != "" {
		args.GrafanaRootURL = grafanaURL(site)
	}
	for _, p := range site.InfraProbes() {
		args.Probes = append(args.Probes, obsconfig.Probe{Name: p.Name, Address: p.Address})
	}
	args.Certificates = certificateProbes(site)
	for _, e := range site.InfraExporters() {
		args.Exporters = append(args.Exporters, obsconfig.Probe{Name: e.Name, Address: e.Address})
	}
	if site.Config.LogsEnabled() {
		args.Logs = &components.ObservabilityLogs{LokiURL: o.Logs.LokiURL, Retention: o.Logs.Retention, VolumeSize: o.Logs.VolumeSize}
		// The compose project's logs, when its host is one of the cluster's nodes.
		if cc := site.Config.Infra.Compose; cc != nil && cc.Host != "" {
			args.ComposeProject = compose.DefaultProject
		}
	}
	if site.Config.TracesEnabled() {
		args.Traces = &components.ObservabilityTraces{Retention: o.Traces.Retention, VolumeSize: o.Traces.VolumeSize}
	}
	alerting, err := alertingArgs(o.Alerting, sec)
	if err != nil {
		return args, fmt.Errorf("site %s: cluster.addons.observability.alerting: %w", site.Name, err)
	}
	args.Alerting = alerting
	for _, svc := range site.Services {
		args.Services = append(args.Services, svc.Name)
		if svc.Scraped() { // without a metrics endpoint, not a target: no TargetDown for it
			args.Targets = append(args.Targets, obsconfig.Target{
				Service: svc.Name, Namespace: site.Config.Namespace, Port: svc.MetricsPort(), Path: *svc.Spec.Metrics.Path,
			})
		}
		if *svc.Spec.Autoscaling.Enabled {
			args.HPAs = append(args.HPAs, svc.Name)
		}
	}
	// The environments deployed beside: their services are scraped (a job each, named by
	// namespace), their own Redis and Qdrant probed, their spans taken.
	for _, other := range site.Others {
		ns := other.Config.Namespace
		args.OtherNamespaces = append(args.OtherNamespaces, ns)
		for _, svc := range other.Services {
			if svc.Scraped() {
				args.Targets = append(args.Targets, obsconfig.Target{Service: svc.Name, Namespace: ns, Port: svc.MetricsPort(),
					Path: *svc.Spec.Metrics.Path, Job: ns + "/" + svc.Name})
			}
		}
		for _, p := range other.OwnInfraProbes() {
			args.Probes = append(args.Probes, obsconfig.Probe{Name: p.Name, Address: p.Address})
		}
	}
	return args, nil
}

// alertingArgs: Alertmanager's configuration from the site's receivers, and their secrets.
func alertingArgs(a sites.AlertingConfig, sec secretValues) (*components.ObservabilityAlerting, error) {
	am := obsconfig.AlertmanagerArgs{Webhook: a.Webhook}
	for _, d := range []struct {
		value string
		to    *model.Duration
	}{{a.GroupWait, &am.GroupWait}, {a.GroupInterval, &am.GroupInterval}, {a.RepeatInterval, &am.RepeatInterval}} {
		parsed, err := model.ParseDuration(d.value) // validated by the site model
		if err != nil {
			return nil, err
		}
		*d.to = parsed
	}
	out := &components.ObservabilityAlerting{VolumeSize: sites.DefaultAlertmanagerVolume}
	if a.Webhook {
		out.WebhookURL = sec[sites.SecretAlertWebhookURL]
	}
	if e := a.Email; e != nil {
		am.Email = &obsconfig.Email{To: e.To, From: e.From, Smarthost: e.Smarthost, Username: e.Username, RequireTLS: *e.RequireTLS}
		out.SMTPPassword = sec[sites.SecretAlertSMTPPassword]
	}
	config, err := obsconfig.AlertmanagerConfig(am)
	if err != nil {
		return nil, err
	}
	out.Config = config
	return out, nil
}

// grafanaURL is where an operator opens Grafana: the site's domain and its path when the
// ingress routes to it, else its node port on the first server (every node answers).
func grafanaURL(site *sites.Site) string {
	o := site.Config.Cluster.Addons.Observability
	if path := grafanaPath(site); path != "" {
		scheme := "http"
		if site.TLSCredentialName != "" {
			scheme = "https"
		}
		return scheme + "://" + site.Domain + path
	}
	return fmt.Sprintf("http://%s/", net.JoinHostPort(site.Config.Cluster.Servers[0].Address, strconv.Itoa(o.Grafana.NodePort)))
}

// certificateProbes are the TLS endpoints whose certificates are watched (CertificateExpiring):
// the API server of a K3s cluster (K3s' certificates last a year and are renewed only when
// K3s restarts), and the site's domain where it is served over TLS.
func certificateProbes(site *sites.Site) []obsconfig.Probe {
	var out []obsconfig.Probe
	if site.Config.Cluster != nil {
		out = append(out, obsconfig.Probe{Name: "kubernetes-api", Address: "kubernetes.default.svc:443"})
	}
	if site.Domain != "" && site.TLSCredentialName != "" {
		out = append(out, obsconfig.Probe{Name: "site-domain", Address: net.JoinHostPort(site.Domain, "443")})
	}
	return out
}
