package components

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components/obsconfig"
)

// logsAndTraces runs Loki (unless the customer's is named) and Tempo (with traces), each on
// its own kept volume, and the collector on every node.
func (b *obsBuilder) logsAndTraces(a ObservabilityArgs, lokiURL string, keep pulumi.ResourceOption) error {
	if l := a.Logs; l != nil && l.LokiURL == "" {
		conf, err := obsconfig.LokiConfig(l.Retention)
		if err != nil {
			return err
		}
		configVol, config := b.configMap("config", "loki-config", map[string]string{"loki.yaml": conf})
		pvc := b.volume("loki", a.StorageClass, l.VolumeSize, keep)
		b.deployment("loki", Hardening{UID: lokiUID}, false, &corev1.ContainerArgs{
			Name:           pulumi.String("loki"),
			Image:          pulumi.String(a.LokiImage),
			Args:           pulumi.ToStringArray([]string{"-config.file=/etc/loki/loki.yaml", "-target=all"}),
			Ports:          containerPorts("http", obsconfig.LokiPort),
			ReadinessProbe: httpGetProbe("/ready", obsconfig.LokiPort, 10),
			Resources:      addonResources("100m", "1", "256Mi", "1Gi"),
			VolumeMounts:   corev1.VolumeMountArray{mount("config", "/etc/loki"), mount("data", "/loki"), mount("tmp", "/tmp")},
		}, nil, corev1.VolumeArray{configVol, claimVolume("data", "loki-data"), emptyDir("tmp")}, pvc, config)
		b.service("loki", "ClusterIP", obsconfig.LokiPort, 0)
	}
	var tempoEndpoint string
	if tr := a.Traces; tr != nil {
		conf, err := obsconfig.TempoConfig(tr.Retention)
		if err != nil {
			return err
		}
		configVol, config := b.configMap("config", "tempo-config", map[string]string{"tempo.yaml": conf})
		pvc := b.volume("tempo", a.StorageClass, tr.VolumeSize, keep)
		b.deployment("tempo", Hardening{UID: lokiUID}, false, &corev1.ContainerArgs{
			Name:  pulumi.String("tempo"),
			Image: pulumi.String(a.TempoImage),
			Args:  pulumi.ToStringArray([]string{"-config.file=/etc/tempo/tempo.yaml"}),
			Ports: corev1.ContainerPortArray{
				&corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(obsconfig.TempoPort)},
				&corev1.ContainerPortArgs{Name: pulumi.String("otlp-grpc"), ContainerPort: pulumi.Int(obsconfig.OTLPGRPCPort)},
			},
			ReadinessProbe: httpGetProbe("/ready", obsconfig.TempoPort, 10),
			Resources:      addonResources("100m", "1", "256Mi", "1Gi"),
			VolumeMounts:   corev1.VolumeMountArray{mount("config", "/etc/tempo"), mount("data", "/var/tempo"), mount("tmp", "/tmp")},
		}, nil, corev1.VolumeArray{configVol, claimVolume("data", "tempo-data"), emptyDir("tmp")}, pvc, config)
		b.servicePorts("tempo", "ClusterIP", map[string]int{"http": obsconfig.TempoPort, "otlp-grpc": obsconfig.OTLPGRPCPort})
		tempoEndpoint = fmt.Sprintf("tempo.%s.svc:%d", a.Namespace, obsconfig.OTLPGRPCPort)
	}
	var lokiOTLP, composeProject string
	if a.Logs != nil {
		lokiOTLP = lokiURL + "/otlp"
		composeProject = a.ComposeProject
	}
	conf, err := obsconfig.CollectorConfig(obsconfig.CollectorArgs{
		Site: a.Site, Namespace: a.Namespace, LokiOTLPURL: lokiOTLP, TempoEndpoint: tempoEndpoint, ComposeProject: composeProject,
	})
	if err != nil {
		return err
	}
	configVol, config := b.configMap("config", "otel-collector-config", map[string]string{"config.yaml": conf})
	b.collector(a.CollectorImage, configVol, config, a.Logs != nil, a.Traces != nil, composeProject != "")
	if a.Traces != nil {
		b.servicePorts("otel-collector", "ClusterIP", map[string]int{"otlp-grpc": obsconfig.OTLPGRPCPort, "otlp-http": obsconfig.OTLPHTTPPort})
	}
	return nil
}

// collector runs the OpenTelemetry Collector on every node. Reading the pods' log files
// (root's, 0640) takes root: with logs it runs as UID 0 with every capability dropped,
// read-only, the log directories mounted read-only (host access is its purpose); without
// logs it runs as its image's user.
func (b *obsBuilder) collector(image string, configVol *corev1.VolumeArgs, config pulumi.Resource, logs, traces, composeLogs bool) {
	hardening := Hardening{UID: lokiUID, Root: logs}
	ports := corev1.ContainerPortArray{&corev1.ContainerPortArgs{Name: pulumi.String("health"), ContainerPort: pulumi.Int(13133)}}
	if traces {
		ports = append(ports,
			&corev1.ContainerPortArgs{Name: pulumi.String("otlp-grpc"), ContainerPort: pulumi.Int(obsconfig.OTLPGRPCPort)},
			&corev1.ContainerPortArgs{Name: pulumi.String("otlp-http"), ContainerPort: pulumi.Int(obsconfig.OTLPHTTPPort)})
	}
	mounts := corev1.VolumeMountArray{mount("config", "/etc/otelcol")}
	volumes := corev1.VolumeArray{configVol}
	if logs {
		mounts = append(mounts, &corev1.VolumeMountArgs{Name: pulumi.String("pod-logs"), MountPath: pulumi.String(obsconfig.PodLogsDir), ReadOnly: pulumi.Bool(true)})
		volumes = append(volumes, hostPathVolume("pod-logs", obsconfig.PodLogsDir, ""))
	}
	if composeLogs {
		// Docker's directory exists on the compose host only; elsewhere an empty one is made
		// (DirectoryOrCreate) and the collector finds nothing there.
		mounts = append(mounts, &corev1.VolumeMountArgs{Name: pulumi.String("docker-logs"), MountPath: pulumi.String(obsconfig.DockerLogsDir), ReadOnly: pulumi.Bool(true)})
		volumes = append(volumes, hostPathVolume("docker-logs", obsconfig.DockerLogsDir, "DirectoryOrCreate"))
	}
	b.daemonSet("otel-collector", hardening, &corev1.ContainerArgs{
		Name:  pulumi.String("otel-collector"),
		Image: pulumi.String(image),
		Args:  pulumi.ToStringArray([]string{"--config=/etc/otelcol/config.yaml"}),
		Env: corev1.EnvVarArray{&corev1.EnvVarArgs{Name: pulumi.String("NODE_NAME"), ValueFrom: &corev1.EnvVarSourceArgs{
			FieldRef: &corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String("spec.nodeName")}}}},
		Ports:          ports,
		ReadinessProbe: httpGetProbe("/", 13133, 10),
		Resources:      addonResources("50m", "500m", "128Mi", "512Mi"),
		VolumeMounts:   mounts,
	}, &corev1.PodSpecArgs{
		// Every node's pods log, GPU nodes' too.
		Tolerations: corev1.TolerationArray{corev1.TolerationArgs{Operator: pulumi.String("Exists")}},
		Volumes:     volumes,
	}, config)
}
