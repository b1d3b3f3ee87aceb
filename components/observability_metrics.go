package components

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components/hostdefaults"
	"xgen-infra/components/obsconfig"
)

// The observability add-on's metrics workloads: Prometheus and what it scrapes besides the
// site's services (kube-state-metrics, node-exporter, the blackbox and DCGM exporters).

// prometheus reads pods and nodes (discovery) and the kubelets through the API server, and
// keeps its samples on a kept volume.
func (b *obsBuilder) prometheus(a ObservabilityArgs, promConfig string, keep pulumi.ResourceOption) {
	b.serviceAccountWithRole("prometheus", []rbacv1.PolicyRuleArgs{
		rule("", []string{"pods", "nodes", "services", "endpoints"}, "get", "list", "watch"),
		rule("", []string{"nodes/proxy", "nodes/metrics"}, "get"),
	})
	configVol, config := b.configMap("config", "prometheus-config", map[string]string{"prometheus.yml": promConfig})
	rulesVol, rules := b.configMap("rules", "prometheus-rules", map[string]string{"xgen.yaml": obsconfig.Rules})
	pvc := b.volume("prometheus", a.StorageClass, a.VolumeSize, keep)
	b.deployment("prometheus", Hardening{UID: observabilityUID}, true, &corev1.ContainerArgs{
		Name:  pulumi.String("prometheus"),
		Image: pulumi.String(a.PrometheusImage),
		Args: pulumi.ToStringArray([]string{
			"--config.file=/etc/prometheus/prometheus.yml",
			"--storage.tsdb.path=/prometheus",
			"--storage.tsdb.retention.time=" + a.Retention,
			"--web.listen-address=:" + fmt.Sprint(prometheusPort),
		}),
		Ports:          containerPorts("http", prometheusPort),
		ReadinessProbe: httpGetProbe("/-/ready", prometheusPort, 10),
		LivenessProbe:  httpGetProbe("/-/healthy", prometheusPort, 30),
		Resources:      addonResources("200m", "2", "512Mi", "2Gi"),
		VolumeMounts: corev1.VolumeMountArray{
			mount("config", "/etc/prometheus"), mount("rules", obsconfig.RulesDir), mount("data", "/prometheus"),
		},
	}, nil, corev1.VolumeArray{configVol, rulesVol, claimVolume("data", "prometheus-data")}, pvc, config, rules)
	b.service("prometheus", "ClusterIP", prometheusPort, 0)
}

// kubeStateMetrics: the objects' state (replicas, restarts, requests, node conditions).
func (b *obsBuilder) kubeStateMetrics(image string) {
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
	b.deployment("kube-state-metrics", Hardening{UID: observabilityUID}, true, &corev1.ContainerArgs{
		Name:  pulumi.String("kube-state-metrics"),
		Image: pulumi.String(image),
		Args: pulumi.ToStringArray([]string{
			fmt.Sprintf("--port=%d", obsconfig.KubeStateMetricsPort),
			// No Secret contents ever, and only the labels the dashboards use.
			"--metric-labels-allowlist=pods=[app.kubernetes.io/name],deployments=[app.kubernetes.io/name]",
		}),
		Ports:          containerPorts("http-metrics", obsconfig.KubeStateMetricsPort),
		ReadinessProbe: httpGetProbe("/readyz", obsconfig.KubeStateMetricsPort, 10),
		LivenessProbe:  httpGetProbe("/livez", obsconfig.KubeStateMetricsPort, 30),
		Resources:      addonResources("50m", "500m", "128Mi", "512Mi"),
	}, nil, nil)
}

// blackboxExporter: is each infra endpoint answering where the services reach it?
func (b *obsBuilder) blackboxExporter(image string) {
	bb, err := obsconfig.BlackboxConfig()
	if err != nil {
		b.keep(err)
		return
	}
	bbVol, bbConfig := b.configMap("config", "blackbox-exporter-config", map[string]string{"blackbox.yml": bb})
	b.deployment("blackbox-exporter", Hardening{UID: observabilityUID}, false, &corev1.ContainerArgs{
		Name:           pulumi.String("blackbox-exporter"),
		Image:          pulumi.String(image),
		Args:           pulumi.ToStringArray([]string{"--config.file=/etc/blackbox/blackbox.yml", fmt.Sprintf("--web.listen-address=:%d", obsconfig.BlackboxPort)}),
		Ports:          containerPorts("http", obsconfig.BlackboxPort),
		ReadinessProbe: httpGetProbe("/-/healthy", obsconfig.BlackboxPort, 10),
		Resources:      addonResources("20m", "200m", "32Mi", "128Mi"),
		VolumeMounts:   corev1.VolumeMountArray{mount("config", "/etc/blackbox")},
	}, nil, corev1.VolumeArray{bbVol}, bbConfig)
	b.service("blackbox-exporter", "ClusterIP", obsconfig.BlackboxPort, 0)
}

// nodeExporter runs on every node, GPU nodes included, reading the host's /proc, /sys and
// root filesystem read-only (host access is its purpose: read-only mounts, no other
// privilege); the pod network's own address is scraped (no host network). Its textfile
// collector serves what host jobs leave in hostdefaults.MetricsTextfileDir (the compose
// project's last backup); the directory is made where it is missing, so no node reports an
// error for it.
func (b *obsBuilder) nodeExporter(image string) {
	roMount := func(name, path string) *corev1.VolumeMountArgs {
		return &corev1.VolumeMountArgs{Name: pulumi.String(name), MountPath: pulumi.String(path), ReadOnly: pulumi.Bool(true),
			MountPropagation: pulumi.String("HostToContainer")}
	}
	b.daemonSet("node-exporter", Hardening{UID: observabilityUID}, &corev1.ContainerArgs{
		Name:  pulumi.String("node-exporter"),
		Image: pulumi.String(image),
		Args: pulumi.ToStringArray([]string{
			"--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/host/root",
			fmt.Sprintf("--web.listen-address=:%d", obsconfig.NodeExporterPort),
			"--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/k3s|var/lib/kubelet/pods|var/lib/rancher/k3s/agent/containerd)($|/)",
			"--collector.textfile.directory=/host/textfile",
		}),
		Ports:          containerPorts("http-metrics", obsconfig.NodeExporterPort),
		ReadinessProbe: httpGetProbe("/", obsconfig.NodeExporterPort, 10),
		Resources:      addonResources("20m", "250m", "32Mi", "128Mi"),
		VolumeMounts: corev1.VolumeMountArray{
			roMount("proc", "/host/proc"), roMount("sys", "/host/sys"), roMount("root", "/host/root"),
			roMount("textfile", "/host/textfile"),
		},
	}, &corev1.PodSpecArgs{
		// Every node: GPU nodes are tainted and are hosts like the others.
		Tolerations: corev1.TolerationArray{corev1.TolerationArgs{Operator: pulumi.String("Exists")}},
		Volumes: corev1.VolumeArray{hostPathVolume("proc", "/proc", ""), hostPathVolume("sys", "/sys", ""), hostPathVolume("root", "/", ""),
			hostPathVolume("textfile", hostdefaults.MetricsTextfileDir, "DirectoryOrCreate")},
	})
}

// dcgmExporter runs NVIDIA's DCGM exporter on the GPU nodes only: GPU utilisation, memory,
// temperature and power per GPU. It reads the GPUs through the node's NVIDIA container
// runtime (runtimeClass, as xgen-model does). What it needs beyond the others, as NVIDIA ships it: root
// with SYS_ADMIN (DCGM's profiling counters read the driver's privileged interface); every
// other capability is dropped and its root filesystem is read-only, the embedded DCGM host
// engine writing its log and socket to volumes.
func (b *obsBuilder) dcgmExporter(image, runtimeClass string) {
	b.daemonSet("dcgm-exporter", Hardening{Root: true, AddCapabilities: []string{"SYS_ADMIN"}}, &corev1.ContainerArgs{
		Name:  pulumi.String("dcgm-exporter"),
		Image: pulumi.String(image),
		Env: corev1.EnvVarArray{
			&corev1.EnvVarArgs{Name: pulumi.String("DCGM_EXPORTER_LISTEN"), Value: pulumi.String(fmt.Sprintf(":%d", obsconfig.DCGMExporterPort))},
			&corev1.EnvVarArgs{Name: pulumi.String("NVIDIA_VISIBLE_DEVICES"), Value: pulumi.String("all")},
		},
		Ports:          containerPorts("metrics", obsconfig.DCGMExporterPort),
		ReadinessProbe: httpGetProbe("/health", obsconfig.DCGMExporterPort, 10),
		Resources:      addonResources("50m", "500m", "128Mi", "512Mi"),
		VolumeMounts:   corev1.VolumeMountArray{mount("tmp", "/tmp"), mount("log", "/var/log")},
	}, &corev1.PodSpecArgs{
		RuntimeClassName: pulumi.String(runtimeClass),
		NodeSelector:     pulumi.StringMap{hostdefaults.GPULabelKey: pulumi.String(hostdefaults.GPULabelValue)},
		Tolerations:      gpuTolerations(),
		Volumes:          corev1.VolumeArray{emptyDir("tmp"), emptyDir("log")},
	})
}
