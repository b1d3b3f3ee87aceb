package components

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components/k3s"
	"xgen-infra/components/observability"
)

// ObservabilityArgs runs a site's metrics, logs, traces and dashboards: Prometheus (scraping
// the site's services, kube-state-metrics, node-exporter on every node and the kubelets'
// cAdvisor), an OpenTelemetry Collector on every node shipping the pods' logs to Loki and
// the services' traces to Tempo, and Grafana with the data sources and the site's dashboard
// provisioned from files.
type ObservabilityArgs struct {
	// Site is the site's name: the "site" label of every series. Required.
	Site string
	// Namespace of the add-on. Required.
	Namespace string
	// SiteNamespace is the namespace of the site's services. Required.
	SiteNamespace string
	// Targets are the site's services Prometheus scrapes (port and path each). Required.
	Targets []observability.Target
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
	Probes []observability.Probe
	// Exporters are infra metrics exporters outside the cluster (the compose project's
	// PostgreSQL and Redis exporters), "host:port" as Prometheus reaches them. Default none.
	Exporters []observability.Probe
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
	// BlackboxExporterImage runs the probes. Required with Probes.
	BlackboxExporterImage string
	// GPUNodes runs the NVIDIA DCGM exporter on the GPU nodes (labelled and tainted as
	// K3sCluster marks them). Default false.
	GPUNodes bool
	// DCGMExporterImage is its image. Required with GPUNodes.
	DCGMExporterImage string
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

// The add-on's ports and user.
const (
	prometheusPort = 9090
	// GrafanaPort is Grafana's port, in its Service too (the site's ingress routes there).
	GrafanaPort = 3000
	// nobody: Prometheus', node-exporter's and kube-state-metrics' images run as it.
	observabilityUID = 65534
	// grafana's image user.
	grafanaUID = 472
)

func (a *ObservabilityArgs) check() error {
	var errs []error
	if a.Site == "" || a.Namespace == "" || a.SiteNamespace == "" {
		errs = append(errs, errors.New("Site, Namespace and SiteNamespace are required"))
	}
	if len(a.Targets) == 0 {
		errs = append(errs, errors.New("at least one target is required"))
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
	if a.GPUNodes && a.DCGMExporterImage == "" {
		errs = append(errs, errors.New("GPUNodes needs DCGMExporterImage"))
	}
	if len(a.Probes) > 0 && a.BlackboxExporterImage == "" {
		errs = append(errs, errors.New("Probes need BlackboxExporterImage"))
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
	var services []string
	for _, t := range args.Targets {
		services = append(services, t.Service)
	}
	promConfig, err := observability.PrometheusConfig(observability.PrometheusArgs{
		Site: args.Site, Namespace: args.Namespace, Services: args.Targets, RemoteWriteURL: args.RemoteWriteURL,
		Probes: args.Probes, Exporters: args.Exporters, GPU: args.GPUNodes,
	})
	if err != nil {
		return nil, fmt.Errorf("observability %s: %w", name, err)
	}
	dash, err := observability.SiteDashboard(observability.DashboardArgs{
		Site: args.Site, Namespace: args.SiteNamespace, Services: services, HPAs: args.HPAs,
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
			lokiURL = fmt.Sprintf("http://loki.%s.svc:%d", args.Namespace, observability.LokiPort)
		}
	}
	if args.Traces != nil {
		tempoURL = fmt.Sprintf("http://tempo.%s.svc:%d", args.Namespace, observability.TempoPort)
	}
	datasources, err := observability.GrafanaDatasources(promURL, lokiURL, tempoURL)
	if err != nil {
		return nil, fmt.Errorf("observability %s: %w", name, err)
	}
	provider, err := observability.GrafanaDashboardProvider()
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

	// Prometheus: reads pods and nodes (discovery) and the kubelets through the API server.
	b.serviceAccountWithRole("prometheus", []rbacv1.PolicyRuleArgs{
		rule("", []string{"pods", "nodes", "services", "endpoints"}, "get", "list", "watch"),
		rule("", []string{"nodes/proxy", "nodes/metrics"}, "get"),
	})
	configVol, config := b.configMap("config", "prometheus-config", map[string]string{"prometheus.yml": promConfig})
	rulesVol, rules := b.configMap("rules", "prometheus-rules", map[string]string{"xgen.yaml": observability.Rules})
	pvc := b.volume("prometheus", args.StorageClass, args.VolumeSize, keep)
	b.deployment("prometheus", observabilityUID, true, &corev1.ContainerArgs{
		Name:  pulumi.String("prometheus"),
		Image: pulumi.String(args.PrometheusImage),
		Args: pulumi.ToStringArray([]string{
			"--config.file=/etc/prometheus/prometheus.yml",
			"--storage.tsdb.path=/prometheus",
			"--storage.tsdb.retention.time=" + args.Retention,
			"--web.listen-address=:" + fmt.Sprint(prometheusPort),
		}),
		Ports:           containerPorts("http", prometheusPort),
		ReadinessProbe:  httpGetProbe("/-/ready", prometheusPort, 10),
		LivenessProbe:   httpGetProbe("/-/healthy", prometheusPort, 30),
		Resources:       resources("200m", "512Mi", "2Gi"),
		SecurityContext: containerSecurity(true),
		VolumeMounts: corev1.VolumeMountArray{
			mount("config", "/etc/prometheus"), mount("rules", observability.RulesDir), mount("data", "/prometheus"),
		},
	}, nil, corev1.VolumeArray{
		configVol, rulesVol,
		&corev1.VolumeArgs{Name: pulumi.String("data"), PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSourceArgs{ClaimName: pulumi.String("prometheus-data")}},
	}, pvc, config, rules)
	b.service("prometheus", "ClusterIP", prometheusPort, 0)

	// kube-state-metrics: the objects' state (replicas, restarts, requests, node conditions).
	b.serviceAccountWithRole("kube-state-metrics", []rbacv1.PolicyRuleArgs{
		rule("", []string{"pods", "nodes", "namespaces", "services", "persistentvolumeclaims", "persistentvolumes", "resourcequotas", "replicationcontrollers", "limitranges", "configmaps", "secrets", "endpoints"}, "list", "watch"),
		rule("apps", []string{"deployments", "daemonsets", "statefulsets", "replicasets"}, "list", "watch"),
		rule("batch", []string{"jobs", "cronjobs"}, "list", "watch"),
		rule("autoscaling", []string{"horizontalpodautoscalers"}, "list", "watch"),
		rule("policy", []string{"poddisruptionbudgets"}, "list", "watch"),
		rule("storage.k8s.io", []string{"storageclasses"}, "list", "watch"),
		rule("discovery.k8s.io", []string{"endpointslices"}, "list", "watch"),
		rule("networking.k8s.io", []string{"networkpolicies", "ingresses"}, "list", "watch"),
		rule("coordination.k8s.io", []string{"leases"}, "list", "watch"),
	})
	b.deployment("kube-state-metrics", observabilityUID, true, &corev1.ContainerArgs{
		Name:  pulumi.String("kube-state-metrics"),
		Image: pulumi.String(args.KubeStateMetricsImage),
		Args: pulumi.ToStringArray([]string{
			fmt.Sprintf("--port=%d", observability.KubeStateMetricsPort),
			// No Secret contents ever, and only the labels the dashboards use.
			"--metric-labels-allowlist=pods=[app.kubernetes.io/name],deployments=[app.kubernetes.io/name]",
		}),
		Ports:           containerPorts("http-metrics", observability.KubeStateMetricsPort),
		ReadinessProbe:  httpGetProbe("/readyz", observability.KubeStateMetricsPort, 10),
		LivenessProbe:   httpGetProbe("/livez", observability.KubeStateMetricsPort, 30),
		Resources:       resources("50m", "128Mi", "512Mi"),
		SecurityContext: containerSecurity(true),
	}, nil, nil)

	// The blackbox exporter: is each infra endpoint answering where the services reach it?
	if len(args.Probes) > 0 {
		bb, err := observability.BlackboxConfig()
		if err != nil {
			return nil, fmt.Errorf("observability %s: %w", name, err)
		}
		bbVol, bbConfig := b.configMap("config", "blackbox-exporter-config", map[string]string{"blackbox.yml": bb})
		b.deployment("blackbox-exporter", observabilityUID, false, &corev1.ContainerArgs{
			Name:            pulumi.String("blackbox-exporter"),
			Image:           pulumi.String(args.BlackboxExporterImage),
			Args:            pulumi.ToStringArray([]string{"--config.file=/etc/blackbox/blackbox.yml", fmt.Sprintf("--web.listen-address=:%d", observability.BlackboxPort)}),
			Ports:           containerPorts("http", observability.BlackboxPort),
			ReadinessProbe:  httpGetProbe("/-/healthy", observability.BlackboxPort, 10),
			Resources:       resources("20m", "32Mi", "128Mi"),
			SecurityContext: containerSecurity(true),
			VolumeMounts:    corev1.VolumeMountArray{mount("config", "/etc/blackbox")},
		}, nil, corev1.VolumeArray{bbVol}, bbConfig)
		b.service("blackbox-exporter", "ClusterIP", observability.BlackboxPort, 0)
	}

	if args.GPUNodes {
		b.dcgmExporter(args.DCGMExporterImage)
	}

	// node-exporter on every node (GPU nodes included): the hosts' disks, CPU and memory.
	b.nodeExporter(args.NodeExporterImage)

	// Grafana: the data source and the dashboard are files; the admin password a Secret.
	_, err = corev1.NewSecret(ctx, name+"-grafana-admin", &corev1.SecretArgs{
		Metadata: objectMeta("grafana-admin", args.Namespace, map[string]string{NameLabel: "grafana"}),
		Type:     pulumi.String("Opaque"),
		Data:     pulumi.StringMap{"user": base64Output(pulumi.String("admin")), "password": base64Output(args.GrafanaAdminPassword)},
	}, parent, inNS)
	if err != nil {
		return nil, err
	}
	dsVol, dsConfig := b.configMap("datasources", "grafana-datasources", map[string]string{"datasources.yaml": datasources})
	providerVol, providerConfig := b.configMap("dashboard-provider", "grafana-dashboard-provider", map[string]string{"xgen.yaml": provider})
	dashVol, dashConfig := b.configMap("dashboards", "grafana-dashboards", map[string]string{"xgen-site-" + args.Site + ".json": dash})
	// Grafana sets the admin password from its environment when it makes the admin user, on a
	// fresh data directory: a new password takes a new pod (its data is an emptyDir).
	passwordChecksum := pulumi.ToSecret(args.GrafanaAdminPassword.ToStringOutput().ApplyT(func(pw string) string {
		return ConfigChecksum(map[string]string{"password": pw})
	})).(pulumi.StringOutput)
	secretEnv := func(env, key string) *corev1.EnvVarArgs {
		return &corev1.EnvVarArgs{Name: pulumi.String(env), ValueFrom: &corev1.EnvVarSourceArgs{
			SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: pulumi.String("grafana-admin"), Key: pulumi.String(key)}}}
	}
	grafanaEnv := corev1.EnvVarArray{}
	if args.GrafanaRootURL != "" {
		grafanaEnv = append(grafanaEnv,
			&corev1.EnvVarArgs{Name: pulumi.String("GF_SERVER_ROOT_URL"), Value: pulumi.String(args.GrafanaRootURL)},
			&corev1.EnvVarArgs{Name: pulumi.String("GF_SERVER_SERVE_FROM_SUB_PATH"), Value: pulumi.String("true")})
	}
	b.deployment("grafana", grafanaUID, false, &corev1.ContainerArgs{
		Name:  pulumi.String("grafana"),
		Image: pulumi.String(args.GrafanaImage),
		Env: append(grafanaEnv,
			secretEnv("GF_SECURITY_ADMIN_USER", "user"),
			secretEnv("GF_SECURITY_ADMIN_PASSWORD", "password"),
			// A closed network: no update checks, no plugin downloads, no usage reports.
			&corev1.EnvVarArgs{Name: pulumi.String("GF_ANALYTICS_REPORTING_ENABLED"), Value: pulumi.String("false")},
			&corev1.EnvVarArgs{Name: pulumi.String("GF_ANALYTICS_CHECK_FOR_UPDATES"), Value: pulumi.String("false")},
			&corev1.EnvVarArgs{Name: pulumi.String("GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES"), Value: pulumi.String("false")},
			&corev1.EnvVarArgs{Name: pulumi.String("GF_PLUGINS_PREINSTALL_DISABLED"), Value: pulumi.String("true")},
			&corev1.EnvVarArgs{Name: pulumi.String("GF_USERS_ALLOW_SIGN_UP"), Value: pulumi.String("false")},
			&corev1.EnvVarArgs{Name: pulumi.String("GF_PATHS_DATA"), Value: pulumi.String("/var/lib/grafana/data")},
		),
		Ports:           containerPorts("http", GrafanaPort),
		ReadinessProbe:  httpGetProbe("/api/health", GrafanaPort, 10),
		LivenessProbe:   httpGetProbe("/api/health", GrafanaPort, 30),
		Resources:       resources("100m", "256Mi", "1Gi"),
		SecurityContext: containerSecurity(true),
		VolumeMounts: corev1.VolumeMountArray{
			mount("datasources", "/etc/grafana/provisioning/datasources"),
			mount("dashboard-provider", "/etc/grafana/provisioning/dashboards"),
			mount("dashboards", observability.DashboardsDir),
			// Grafana's sqlite and sessions: nothing in it that the files do not recreate.
			mount("data", "/var/lib/grafana/data"),
			mount("tmp", "/tmp"),
		},
	}, pulumi.StringMap{SecretChecksumAnnotation: passwordChecksum}, corev1.VolumeArray{
		dsVol, providerVol, dashVol,
		&corev1.VolumeArgs{Name: pulumi.String("data"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}},
		&corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}},
	}, dsConfig, providerConfig, dashConfig)
	if args.GrafanaNodePort != 0 {
		b.service("grafana", "NodePort", GrafanaPort, args.GrafanaNodePort)
	} else {
		b.service("grafana", "ClusterIP", GrafanaPort, 0) // the site's ingress routes to it
	}

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

// logsAndTraces runs Loki (unless the customer's is named) and Tempo (with traces), each on
// its own kept volume, and the collector on every node.
func (b *obsBuilder) logsAndTraces(a ObservabilityArgs, lokiURL string, keep pulumi.ResourceOption) error {
	const lokiUID = 10001 // Loki's, Tempo's and the collector's image user
	if l := a.Logs; l != nil && l.LokiURL == "" {
		conf, err := observability.LokiConfig(l.Retention)
		if err != nil {
			return err
		}
		configVol, config := b.configMap("config", "loki-config", map[string]string{"loki.yaml": conf})
		pvc := b.volume("loki", a.StorageClass, l.VolumeSize, keep)
		b.deployment("loki", lokiUID, false, &corev1.ContainerArgs{
			Name:            pulumi.String("loki"),
			Image:           pulumi.String(a.LokiImage),
			Args:            pulumi.ToStringArray([]string{"-config.file=/etc/loki/loki.yaml", "-target=all"}),
			Ports:           containerPorts("http", observability.LokiPort),
			ReadinessProbe:  httpGetProbe("/ready", observability.LokiPort, 10),
			Resources:       resources("100m", "256Mi", "1Gi"),
			SecurityContext: containerSecurity(true),
			VolumeMounts:    corev1.VolumeMountArray{mount("config", "/etc/loki"), mount("data", "/loki"), mount("tmp", "/tmp")},
		}, nil, corev1.VolumeArray{configVol, claimVolume("data", "loki-data"), emptyDir("tmp")}, pvc, config)
		b.service("loki", "ClusterIP", observability.LokiPort, 0)
	}
	var tempoEndpoint string
	if tr := a.Traces; tr != nil {
		conf, err := observability.TempoConfig(tr.Retention)
		if err != nil {
			return err
		}
		configVol, config := b.configMap("config", "tempo-config", map[string]string{"tempo.yaml": conf})
		pvc := b.volume("tempo", a.StorageClass, tr.VolumeSize, keep)
		b.deployment("tempo", lokiUID, false, &corev1.ContainerArgs{
			Name:  pulumi.String("tempo"),
			Image: pulumi.String(a.TempoImage),
			Args:  pulumi.ToStringArray([]string{"-config.file=/etc/tempo/tempo.yaml"}),
			Ports: corev1.ContainerPortArray{
				&corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(observability.TempoPort)},
				&corev1.ContainerPortArgs{Name: pulumi.String("otlp-grpc"), ContainerPort: pulumi.Int(observability.OTLPGRPCPort)},
			},
			ReadinessProbe:  httpGetProbe("/ready", observability.TempoPort, 10),
			Resources:       resources("100m", "256Mi", "1Gi"),
			SecurityContext: containerSecurity(true),
			VolumeMounts:    corev1.VolumeMountArray{mount("config", "/etc/tempo"), mount("data", "/var/tempo"), mount("tmp", "/tmp")},
		}, nil, corev1.VolumeArray{configVol, claimVolume("data", "tempo-data"), emptyDir("tmp")}, pvc, config)
		b.servicePorts("tempo", "ClusterIP", map[string]int{"http": observability.TempoPort, "otlp-grpc": observability.OTLPGRPCPort})
		tempoEndpoint = fmt.Sprintf("tempo.%s.svc:%d", a.Namespace, observability.OTLPGRPCPort)
	}
	var lokiOTLP, composeProject string
	if a.Logs != nil {
		lokiOTLP = lokiURL + "/otlp"
		composeProject = a.ComposeProject
	}
	conf, err := observability.CollectorConfig(observability.CollectorArgs{
		Site: a.Site, Namespace: a.Namespace, LokiOTLPURL: lokiOTLP, TempoEndpoint: tempoEndpoint, ComposeProject: composeProject,
	})
	if err != nil {
		return err
	}
	configVol, config := b.configMap("config", "otel-collector-config", map[string]string{"config.yaml": conf})
	b.collector(a.CollectorImage, configVol, config, a.Logs != nil, a.Traces != nil, composeProject != "")
	if a.Traces != nil {
		b.servicePorts("otel-collector", "ClusterIP", map[string]int{"otlp-grpc": observability.OTLPGRPCPort, "otlp-http": observability.OTLPHTTPPort})
	}
	return nil
}

// collector runs the OpenTelemetry Collector on every node. Reading the pods' log files
// (root's, 0640) takes root: it runs as UID 0 with every capability dropped, read-only,
// the log directory mounted read-only; without logs it runs as its image's user.
func (b *obsBuilder) collector(image string, configVol *corev1.VolumeArgs, config pulumi.Resource, logs, traces, composeLogs bool) {
	labels := map[string]string{NameLabel: "otel-collector"}
	uid := 10001
	if logs {
		uid = 0
	}
	sec := &corev1.PodSecurityContextArgs{
		RunAsUser: pulumi.Int(uid), RunAsGroup: pulumi.Int(uid), RunAsNonRoot: pulumi.Bool(uid != 0),
		SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
	ports := corev1.ContainerPortArray{&corev1.ContainerPortArgs{Name: pulumi.String("health"), ContainerPort: pulumi.Int(13133)}}
	if traces {
		ports = append(ports,
			&corev1.ContainerPortArgs{Name: pulumi.String("otlp-grpc"), ContainerPort: pulumi.Int(observability.OTLPGRPCPort)},
			&corev1.ContainerPortArgs{Name: pulumi.String("otlp-http"), ContainerPort: pulumi.Int(observability.OTLPHTTPPort)})
	}
	mounts := corev1.VolumeMountArray{mount("config", "/etc/otelcol")}
	volumes := corev1.VolumeArray{configVol}
	if logs {
		mounts = append(mounts, &corev1.VolumeMountArgs{Name: pulumi.String("pod-logs"), MountPath: pulumi.String(observability.PodLogsDir), ReadOnly: pulumi.Bool(true)})
		volumes = append(volumes, &corev1.VolumeArgs{Name: pulumi.String("pod-logs"),
			HostPath: &corev1.HostPathVolumeSourceArgs{Path: pulumi.String(observability.PodLogsDir)}})
	}
	if composeLogs {
		// Docker's directory exists on the compose host only; elsewhere an empty one is made
		// (DirectoryOrCreate) and the collector finds nothing there.
		mounts = append(mounts, &corev1.VolumeMountArgs{Name: pulumi.String("docker-logs"), MountPath: pulumi.String(observability.DockerLogsDir), ReadOnly: pulumi.Bool(true)})
		volumes = append(volumes, &corev1.VolumeArgs{Name: pulumi.String("docker-logs"),
			HostPath: &corev1.HostPathVolumeSourceArgs{Path: pulumi.String(observability.DockerLogsDir), Type: pulumi.String("DirectoryOrCreate")}})
	}
	_, err := appsv1.NewDaemonSet(b.ctx, b.resourceName("otel-collector"), &appsv1.DaemonSetArgs{
		Metadata: objectMeta("otel-collector", b.ns, labels),
		Spec: &appsv1.DaemonSetSpecArgs{
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(labels)},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: pulumi.ToStringMap(labels)},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext:              sec,
					// Every node's pods log, GPU nodes' too.
					Tolerations: corev1.TolerationArray{corev1.TolerationArgs{Operator: pulumi.String("Exists")}},
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:  pulumi.String("otel-collector"),
						Image: pulumi.String(image),
						Args:  pulumi.ToStringArray([]string{"--config=/etc/otelcol/config.yaml"}),
						Env: corev1.EnvVarArray{&corev1.EnvVarArgs{Name: pulumi.String("NODE_NAME"), ValueFrom: &corev1.EnvVarSourceArgs{
							FieldRef: &corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String("spec.nodeName")}}}},
						Ports:           ports,
						ReadinessProbe:  httpGetProbe("/", 13133, 10),
						Resources:       resources("50m", "128Mi", "512Mi"),
						SecurityContext: containerSecurity(true),
						VolumeMounts:    mounts,
					}},
					Volumes: volumes,
				},
			},
		},
	}, b.after(config)...)
	b.keep(err)
}

// dcgmExporter runs NVIDIA's DCGM exporter on the GPU nodes only: GPU utilisation, memory,
// temperature and power per GPU. It reads the GPUs through the node's NVIDIA container
// runtime (as xgen-model does) and, as NVIDIA ships it, runs as root with SYS_ADMIN (DCGM's
// profiling counters need it) and a writable root; every other capability is dropped.
func (b *obsBuilder) dcgmExporter(image string) {
	labels := map[string]string{NameLabel: "dcgm-exporter"}
	_, err := appsv1.NewDaemonSet(b.ctx, b.resourceName("dcgm-exporter"), &appsv1.DaemonSetArgs{
		Metadata: objectMeta("dcgm-exporter", b.ns, labels),
		Spec: &appsv1.DaemonSetSpecArgs{
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(labels)},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: pulumi.ToStringMap(labels)},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false),
					NodeSelector:                 pulumi.StringMap{k3s.GPULabelKey: pulumi.String(k3s.GPULabelValue)},
					Tolerations: corev1.TolerationArray{corev1.TolerationArgs{
						Key: pulumi.String("nvidia.com/gpu"), Operator: pulumi.String("Exists"), Effect: pulumi.String("NoSchedule")}},
					SecurityContext: &corev1.PodSecurityContextArgs{
						RunAsUser: pulumi.Int(0), RunAsNonRoot: pulumi.Bool(false),
						SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
					},
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:  pulumi.String("dcgm-exporter"),
						Image: pulumi.String(image),
						Env: corev1.EnvVarArray{
							&corev1.EnvVarArgs{Name: pulumi.String("DCGM_EXPORTER_LISTEN"), Value: pulumi.String(fmt.Sprintf(":%d", observability.DCGMExporterPort))},
							&corev1.EnvVarArgs{Name: pulumi.String("NVIDIA_VISIBLE_DEVICES"), Value: pulumi.String("all")},
						},
						Ports:          containerPorts("metrics", observability.DCGMExporterPort),
						ReadinessProbe: httpGetProbe("/health", observability.DCGMExporterPort, 10),
						Resources:      resources("50m", "128Mi", "512Mi"),
						SecurityContext: &corev1.SecurityContextArgs{
							AllowPrivilegeEscalation: pulumi.Bool(false),
							Capabilities: &corev1.CapabilitiesArgs{
								Drop: pulumi.StringArray{pulumi.String("ALL")}, Add: pulumi.StringArray{pulumi.String("SYS_ADMIN")}},
						},
					}},
				},
			},
		},
	}, b.opts...)
	b.keep(err)
}

// volume is app's data volume ("<app>-data"), kept on destroy unless opted out.
func (b *obsBuilder) volume(app, storageClass, size string, keep pulumi.ResourceOption) pulumi.Resource {
	pvc, err := corev1.NewPersistentVolumeClaim(b.ctx, b.resourceName(app+"-data"), &corev1.PersistentVolumeClaimArgs{
		Metadata: objectMeta(app+"-data", b.ns, map[string]string{NameLabel: app}),
		Spec: &corev1.PersistentVolumeClaimSpecArgs{
			AccessModes:      pulumi.StringArray{pulumi.String("ReadWriteOnce")},
			StorageClassName: pulumi.String(storageClass),
			Resources: &corev1.VolumeResourceRequirementsArgs{
				Requests: pulumi.StringMap{"storage": pulumi.String(size)},
			},
		},
	}, append(append([]pulumi.ResourceOption{}, b.opts...), keep)...)
	b.keep(err)
	return pvc
}

// obsBuilder registers the add-on's objects in its namespace, keeping the first error.
type obsBuilder struct {
	ctx  *pulumi.Context
	name string
	ns   string
	opts []pulumi.ResourceOption
	err  error
}

func (b *obsBuilder) keep(err error) {
	if b.err == nil {
		b.err = err
	}
}

func (b *obsBuilder) resourceName(object string) string { return b.name + "-" + object }

func (b *obsBuilder) serviceAccountWithRole(app string, rules []rbacv1.PolicyRuleArgs) {
	meta := func(name, ns string) *metav1.ObjectMetaArgs {
		return objectMeta(name, ns, map[string]string{NameLabel: app})
	}
	_, err := corev1.NewServiceAccount(b.ctx, b.resourceName(app), &corev1.ServiceAccountArgs{
		Metadata: meta(app, b.ns), AutomountServiceAccountToken: pulumi.Bool(false),
	}, b.opts...)
	b.keep(err)
	// Cluster-wide names carry the namespace: two sites' add-ons must not share them.
	cluster := b.ns + "-" + app
	var ruleArgs rbacv1.PolicyRuleArray
	for _, r := range rules {
		ruleArgs = append(ruleArgs, r)
	}
	_, err = rbacv1.NewClusterRole(b.ctx, b.resourceName(app), &rbacv1.ClusterRoleArgs{
		Metadata: meta(cluster, ""), Rules: ruleArgs,
	}, b.opts...)
	b.keep(err)
	_, err = rbacv1.NewClusterRoleBinding(b.ctx, b.resourceName(app), &rbacv1.ClusterRoleBindingArgs{
		Metadata: meta(cluster, ""),
		RoleRef:  rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: pulumi.String(cluster)},
		Subjects: rbacv1.SubjectArray{rbacv1.SubjectArgs{Kind: pulumi.String("ServiceAccount"), Name: pulumi.String(app), Namespace: pulumi.String(b.ns)}},
	}, b.opts...)
	b.keep(err)
}

// configMap makes the ConfigMap named by its contents (ContentName, as the services' are)
// and returns the volume vol that mounts it and the ConfigMap for the workload to depend on.
// Prometheus, Loki, Tempo, Grafana and the collector read their files only when they start:
// a new name for new contents rolls the pods that mount it, and the workload is updated only
// once its new ConfigMap exists.
func (b *obsBuilder) configMap(vol, name string, data map[string]string) (*corev1.VolumeArgs, pulumi.Resource) {
	object := ContentName(name, data)
	volume := configMapVolume(vol, object)
	cm, err := corev1.NewConfigMap(b.ctx, b.resourceName(name), &corev1.ConfigMapArgs{
		Metadata: objectMeta(object, b.ns), Data: pulumi.ToStringMap(data),
	}, b.opts...)
	if err != nil {
		b.keep(err)
		return volume, nil
	}
	return volume, cm
}

// after is the builder's options with a dependency on the resources that exist (a failed
// registration leaves nil: the builder keeps its error).
func (b *obsBuilder) after(rs ...pulumi.Resource) []pulumi.ResourceOption {
	var deps []pulumi.Resource
	for _, r := range rs {
		if r != nil {
			deps = append(deps, r)
		}
	}
	return append(append([]pulumi.ResourceOption{}, b.opts...), pulumi.DependsOn(deps))
}

// deployment runs one replica of app. api says whether it reads the Kubernetes API (its
// service account's token is mounted only then); annotations go on its pods.
func (b *obsBuilder) deployment(app string, uid int, api bool, c *corev1.ContainerArgs, annotations pulumi.StringMap, volumes corev1.VolumeArray, after ...pulumi.Resource) {
	labels := map[string]string{NameLabel: app}
	spec := &corev1.PodSpecArgs{
		AutomountServiceAccountToken: pulumi.Bool(api),
		SecurityContext:              podSecurity(uid),
		Containers:                   corev1.ContainerArray{c},
		Volumes:                      volumes,
	}
	if api {
		spec.ServiceAccountName = pulumi.String(app)
	}
	opts := b.after(after...)
	meta := &metav1.ObjectMetaArgs{Labels: pulumi.ToStringMap(labels)}
	if len(annotations) > 0 {
		meta.Annotations = annotations
	}
	_, err := appsv1.NewDeployment(b.ctx, b.resourceName(app), &appsv1.DeploymentArgs{
		Metadata: objectMeta(app, b.ns, labels),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(1),
			// One volume, one writer: the old pod goes before the new one starts.
			Strategy: &appsv1.DeploymentStrategyArgs{Type: pulumi.String("Recreate")},
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(labels)},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: meta,
				Spec:     spec,
			},
		},
	}, opts...)
	b.keep(err)
}

// servicePorts is a ClusterIP-style Service of app with several named ports.
func (b *obsBuilder) servicePorts(app, typ string, ports map[string]int) {
	var ps corev1.ServicePortArray
	for _, name := range sortedKeys(ports) {
		ps = append(ps, &corev1.ServicePortArgs{Name: pulumi.String(name), Port: pulumi.Int(ports[name]), TargetPort: pulumi.Int(ports[name])})
	}
	_, err := corev1.NewService(b.ctx, b.resourceName(app), &corev1.ServiceArgs{
		Metadata: objectMeta(app, b.ns, map[string]string{NameLabel: app}),
		Spec: &corev1.ServiceSpecArgs{
			Type: pulumi.String(typ), Selector: pulumi.StringMap{NameLabel: pulumi.String(app)}, Ports: ps,
		},
	}, b.opts...)
	b.keep(err)
}

func (b *obsBuilder) service(app, typ string, port, nodePort int) {
	p := &corev1.ServicePortArgs{Name: pulumi.String("http"), Port: pulumi.Int(port), TargetPort: pulumi.Int(port)}
	if nodePort != 0 {
		p.NodePort = pulumi.Int(nodePort)
	}
	_, err := corev1.NewService(b.ctx, b.resourceName(app), &corev1.ServiceArgs{
		Metadata: objectMeta(app, b.ns, map[string]string{NameLabel: app}),
		Spec: &corev1.ServiceSpecArgs{
			Type: pulumi.String(typ), Selector: pulumi.StringMap{NameLabel: pulumi.String(app)},
			Ports: corev1.ServicePortArray{p},
		},
	}, b.opts...)
	b.keep(err)
}

// nodeExporter runs on every node, GPU nodes included, reading the host's /proc, /sys and
// root filesystem read-only; the pod network's own address is scraped (no host network).
func (b *obsBuilder) nodeExporter(image string) {
	labels := map[string]string{NameLabel: "node-exporter"}
	hostPath := func(name, path string) *corev1.VolumeArgs {
		return &corev1.VolumeArgs{Name: pulumi.String(name), HostPath: &corev1.HostPathVolumeSourceArgs{Path: pulumi.String(path)}}
	}
	roMount := func(name, path string) *corev1.VolumeMountArgs {
		return &corev1.VolumeMountArgs{Name: pulumi.String(name), MountPath: pulumi.String(path), ReadOnly: pulumi.Bool(true),
			MountPropagation: pulumi.String("HostToContainer")}
	}
	_, err := appsv1.NewDaemonSet(b.ctx, b.resourceName("node-exporter"), &appsv1.DaemonSetArgs{
		Metadata: objectMeta("node-exporter", b.ns, labels),
		Spec: &appsv1.DaemonSetSpecArgs{
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(labels)},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: pulumi.ToStringMap(labels)},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext:              podSecurity(observabilityUID),
					// Every node: GPU nodes are tainted and are hosts like the others.
					Tolerations: corev1.TolerationArray{corev1.TolerationArgs{Operator: pulumi.String("Exists")}},
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:  pulumi.String("node-exporter"),
						Image: pulumi.String(image),
						Args: pulumi.ToStringArray([]string{
							"--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/host/root",
							fmt.Sprintf("--web.listen-address=:%d", observability.NodeExporterPort),
							"--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/k3s|var/lib/kubelet/pods|var/lib/rancher/k3s/agent/containerd)($|/)",
						}),
						Ports:           containerPorts("http-metrics", observability.NodeExporterPort),
						ReadinessProbe:  httpGetProbe("/", observability.NodeExporterPort, 10),
						Resources:       resources("20m", "32Mi", "128Mi"),
						SecurityContext: containerSecurity(true),
						VolumeMounts: corev1.VolumeMountArray{
							roMount("proc", "/host/proc"), roMount("sys", "/host/sys"), roMount("root", "/host/root"),
						},
					}},
					Volumes: corev1.VolumeArray{hostPath("proc", "/proc"), hostPath("sys", "/sys"), hostPath("root", "/")},
				},
			},
		},
	}, b.opts...)
	b.keep(err)
}

// networkPolicies allow exactly the add-on's flows into its namespace: Prometheus scrapes
// the exporters; Grafana asks Prometheus, Loki and Tempo; the collector sends to Loki and
// Tempo; the site's services send spans to the collector; Grafana is reached on its port
// from anywhere (its node port). Everything else into the add-on is denied. Prometheus' scrape of the site's
// services is allowed by the site's own policies (NetworkPoliciesArgs.Scraper,
// ObservabilityScraper).
func (b *obsBuilder) networkPolicies(a ObservabilityArgs) {
	fromPrometheus := networkingv1.NetworkPolicyPeerArgs{
		NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(a.Namespace)}},
		PodSelector:       &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{NameLabel: pulumi.String("prometheus")}},
	}
	policy := func(resource, name, ns string, podApps []string, from []networkingv1.NetworkPolicyPeerArgs, ports []int) {
		sel := &metav1.LabelSelectorArgs{}
		if len(podApps) > 0 {
			sel.MatchExpressions = metav1.LabelSelectorRequirementArray{metav1.LabelSelectorRequirementArgs{
				Key: pulumi.String(NameLabel), Operator: pulumi.String("In"), Values: pulumi.ToStringArray(podApps)}}
		}
		var rules networkingv1.NetworkPolicyIngressRuleArray
		if ports != nil {
			portArgs := networkingv1.NetworkPolicyPortArray{}
			for _, p := range ports {
				portArgs = append(portArgs, networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(p)})
			}
			rule := networkingv1.NetworkPolicyIngressRuleArgs{Ports: portArgs}
			if from != nil {
				peers := networkingv1.NetworkPolicyPeerArray{}
				for _, f := range from {
					peers = append(peers, f)
				}
				rule.From = peers
			}
			rules = append(rules, rule)
		}
		_, err := networkingv1.NewNetworkPolicy(b.ctx, b.resourceName(resource), &networkingv1.NetworkPolicyArgs{
			Metadata: objectMeta(name, ns),
			Spec: &networkingv1.NetworkPolicySpecArgs{
				PodSelector: sel, PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")}, Ingress: rules,
			},
		}, b.opts...)
		b.keep(err)
	}
	policy("deny-ingress", "observability-default-deny-ingress", a.Namespace, nil, nil, nil)
	policy("allow-scrape-exporters", "allow-prometheus-scrape", a.Namespace, []string{"node-exporter", "kube-state-metrics", "blackbox-exporter", "dcgm-exporter"},
		[]networkingv1.NetworkPolicyPeerArgs{fromPrometheus},
		[]int{observability.NodeExporterPort, observability.KubeStateMetricsPort, observability.BlackboxPort, observability.DCGMExporterPort})
	policy("allow-grafana-to-prometheus", "allow-grafana-to-prometheus", a.Namespace, []string{"prometheus"},
		[]networkingv1.NetworkPolicyPeerArgs{{PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{NameLabel: pulumi.String("grafana")}}}},
		[]int{prometheusPort})
	// Grafana's node port: from anywhere the node port is reachable (no from: every source).
	policy("allow-grafana", "allow-grafana-ui", a.Namespace, []string{"grafana"}, nil, []int{GrafanaPort})
	pods := func(app string) networkingv1.NetworkPolicyPeerArgs {
		return networkingv1.NetworkPolicyPeerArgs{PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{NameLabel: pulumi.String(app)}}}
	}
	if a.Logs != nil && a.Logs.LokiURL == "" {
		policy("allow-to-loki", "allow-to-loki", a.Namespace, []string{"loki"},
			[]networkingv1.NetworkPolicyPeerArgs{pods("otel-collector"), pods("grafana")}, []int{observability.LokiPort})
	}
	if a.Traces != nil {
		policy("allow-collector-to-tempo", "allow-collector-to-tempo", a.Namespace, []string{"tempo"},
			[]networkingv1.NetworkPolicyPeerArgs{pods("otel-collector")}, []int{observability.OTLPGRPCPort})
		policy("allow-grafana-to-tempo", "allow-grafana-to-tempo", a.Namespace, []string{"tempo"},
			[]networkingv1.NetworkPolicyPeerArgs{pods("grafana")}, []int{observability.TempoPort})
		// The site's services send their spans (their own policies allow the egress).
		policy("allow-traces", "allow-site-traces", a.Namespace, []string{"otel-collector"},
			[]networkingv1.NetworkPolicyPeerArgs{{NamespaceSelector: &metav1.LabelSelectorArgs{
				MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(a.SiteNamespace)}}}},
			[]int{observability.OTLPHTTPPort})
	}
}

// ObservabilityScraper is the add-on's Prometheus as the site's policies admit it.
func ObservabilityScraper(namespace string) *ScrapeSource {
	return &ScrapeSource{Namespace: namespace, PodLabels: map[string]string{NameLabel: "prometheus"}}
}

func rule(group string, resources []string, verbs ...string) rbacv1.PolicyRuleArgs {
	return rbacv1.PolicyRuleArgs{ApiGroups: pulumi.ToStringArray([]string{group}), Resources: pulumi.ToStringArray(resources), Verbs: pulumi.ToStringArray(verbs)}
}

func podSecurity(uid int) *corev1.PodSecurityContextArgs {
	return &corev1.PodSecurityContextArgs{
		RunAsNonRoot: pulumi.Bool(true), RunAsUser: pulumi.Int(uid), RunAsGroup: pulumi.Int(uid), FsGroup: pulumi.Int(uid),
		SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

func containerSecurity(readOnlyRoot bool) *corev1.SecurityContextArgs {
	return &corev1.SecurityContextArgs{
		AllowPrivilegeEscalation: pulumi.Bool(false),
		ReadOnlyRootFilesystem:   pulumi.Bool(readOnlyRoot),
		Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
	}
}

func containerPorts(name string, port int) corev1.ContainerPortArray {
	return corev1.ContainerPortArray{&corev1.ContainerPortArgs{Name: pulumi.String(name), ContainerPort: pulumi.Int(port)}}
}

func httpGetProbe(path string, port, period int) *corev1.ProbeArgs {
	return &corev1.ProbeArgs{
		HttpGet:       &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.Int(port)},
		PeriodSeconds: pulumi.Int(period), TimeoutSeconds: pulumi.Int(5), FailureThreshold: pulumi.Int(3),
	}
}

func resources(cpu, memory, memoryLimit string) *corev1.ResourceRequirementsArgs {
	return &corev1.ResourceRequirementsArgs{
		Requests: pulumi.StringMap{"cpu": pulumi.String(cpu), "memory": pulumi.String(memory)},
		Limits:   pulumi.StringMap{"memory": pulumi.String(memoryLimit)},
	}
}

func mount(name, path string) *corev1.VolumeMountArgs {
	return &corev1.VolumeMountArgs{Name: pulumi.String(name), MountPath: pulumi.String(path)}
}

func claimVolume(name, claim string) *corev1.VolumeArgs {
	return &corev1.VolumeArgs{Name: pulumi.String(name), PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSourceArgs{ClaimName: pulumi.String(claim)}}
}

func emptyDir(name string) *corev1.VolumeArgs {
	return &corev1.VolumeArgs{Name: pulumi.String(name), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func configMapVolume(name, configMap string) *corev1.VolumeArgs {
	return &corev1.VolumeArgs{Name: pulumi.String(name), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: pulumi.String(configMap)}}
}
