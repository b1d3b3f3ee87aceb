package components

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components/obsconfig"
)

// grafana: the data sources and the dashboard are files; the admin password a Secret.
func (b *obsBuilder) grafana(a ObservabilityArgs, datasources, dashboardProvider, dashboard string) {
	_, err := corev1.NewSecret(b.ctx, b.resourceName("grafana-admin"), &corev1.SecretArgs{
		Metadata: objectMeta("grafana-admin", b.ns, map[string]string{NameLabel: "grafana"}),
		Type:     pulumi.String("Opaque"),
		Data:     pulumi.StringMap{"user": base64Output(pulumi.String("admin")), "password": base64Output(a.GrafanaAdminPassword)},
	}, b.opts...)
	b.keep(err)
	dsVol, dsConfig := b.configMap("datasources", "grafana-datasources", map[string]string{"datasources.yaml": datasources})
	providerVol, providerConfig := b.configMap("dashboard-provider", "grafana-dashboard-provider", map[string]string{"xgen.yaml": dashboardProvider})
	dashVol, dashConfig := b.configMap("dashboards", "grafana-dashboards", map[string]string{"xgen-site-" + a.Site + ".json": dashboard})
	// Grafana sets the admin password from its environment when it makes the admin user, on a
	// fresh data directory: a new password takes a new pod (its data is an emptyDir).
	passwordChecksum := pulumi.ToSecret(a.GrafanaAdminPassword.ToStringOutput().ApplyT(func(pw string) string {
		return ConfigChecksum(map[string]string{"password": pw})
	})).(pulumi.StringOutput)
	secretEnv := func(env, key string) *corev1.EnvVarArgs {
		return &corev1.EnvVarArgs{Name: pulumi.String(env), ValueFrom: &corev1.EnvVarSourceArgs{
			SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: pulumi.String("grafana-admin"), Key: pulumi.String(key)}}}
	}
	env := func(name, value string) *corev1.EnvVarArgs {
		return &corev1.EnvVarArgs{Name: pulumi.String(name), Value: pulumi.String(value)}
	}
	grafanaEnv := corev1.EnvVarArray{}
	if a.GrafanaRootURL != "" {
		grafanaEnv = append(grafanaEnv, env("GF_SERVER_ROOT_URL", a.GrafanaRootURL), env("GF_SERVER_SERVE_FROM_SUB_PATH", "true"))
	}
	b.deployment("grafana", Hardening{UID: grafanaUID}, false, &corev1.ContainerArgs{
		Name:  pulumi.String("grafana"),
		Image: pulumi.String(a.GrafanaImage),
		Env: append(grafanaEnv,
			secretEnv("GF_SECURITY_ADMIN_USER", "user"),
			secretEnv("GF_SECURITY_ADMIN_PASSWORD", "password"),
			// A closed network: no update checks, no plugin downloads, no usage reports.
			env("GF_ANALYTICS_REPORTING_ENABLED", "false"),
			env("GF_ANALYTICS_CHECK_FOR_UPDATES", "false"),
			env("GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES", "false"),
			env("GF_PLUGINS_PREINSTALL_DISABLED", "true"),
			env("GF_USERS_ALLOW_SIGN_UP", "false"),
			env("GF_PATHS_DATA", "/var/lib/grafana/data"),
			// The root filesystem is read-only: its log goes to stdout only (the collector
			// ships it), not also to /var/log/grafana as its default "console file".
			env("GF_LOG_MODE", "console"),
		),
		Ports: containerPorts("http", GrafanaPort),
		// Ready when its API answers; alive while it accepts connections (a health check
		// that fails on a slow database must not restart it, as the apps' liveness).
		ReadinessProbe: httpGetProbe("/api/health", GrafanaPort, 10),
		LivenessProbe: &corev1.ProbeArgs{
			TcpSocket:     &corev1.TCPSocketActionArgs{Port: pulumi.Int(GrafanaPort)},
			PeriodSeconds: pulumi.Int(30), TimeoutSeconds: pulumi.Int(5), FailureThreshold: pulumi.Int(3),
		},
		Resources: addonResources("100m", "1", "256Mi", "1Gi"),
		VolumeMounts: corev1.VolumeMountArray{
			mount("datasources", "/etc/grafana/provisioning/datasources"),
			mount("dashboard-provider", "/etc/grafana/provisioning/dashboards"),
			mount("dashboards", obsconfig.DashboardsDir),
			// Grafana's sqlite and sessions: nothing in it that the files do not recreate.
			mount("data", "/var/lib/grafana/data"),
			mount("tmp", "/tmp"),
		},
	}, pulumi.StringMap{SecretChecksumAnnotation: passwordChecksum}, corev1.VolumeArray{
		dsVol, providerVol, dashVol, emptyDir("data"), emptyDir("tmp"),
	}, dsConfig, providerConfig, dashConfig)
	if a.GrafanaNodePort != 0 {
		b.service("grafana", "NodePort", GrafanaPort, a.GrafanaNodePort)
	} else {
		b.service("grafana", "ClusterIP", GrafanaPort, 0) // the site's ingress routes to it
	}
}
