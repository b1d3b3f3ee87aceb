package components

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	nodev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/node/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NvidiaDevicePluginArgs make the NVIDIA GPUs of a K3s cluster's GPU nodes usable by pods:
// the RuntimeClass that runs a pod with the NVIDIA container runtime K3s registered, and
// NVIDIA's device plugin on the GPU nodes, which advertises each node's GPUs as
// nvidia.com/gpu (without it no node has any, and a pod that requests one stays Pending).
type NvidiaDevicePluginArgs struct {
	// Image of NVIDIA's device plugin (pinned). Required.
	Image string
	// Namespace of the plugin's DaemonSet. Required; kube-system, where node-critical
	// pods belong (it runs with priority system-node-critical: evicting it takes every
	// GPU pod's resource away).
	Namespace string
	// RuntimeClass is the name of the RuntimeClass created and the containerd runtime
	// handler it selects (K3s registers "nvidia"). Required.
	RuntimeClass string
	// NodeSelector selects the GPU nodes: the plugin runs there, and the RuntimeClass's
	// scheduling sends every pod that uses it there. Required.
	NodeSelector map[string]string
	// TimeSlicingReplicas shares each GPU between that many pods (2 or more): a node then
	// advertises GPUs × replicas nvidia.com/gpu. Default 0: off, one pod per GPU.
	TimeSlicingReplicas int
}

// NvidiaDevicePlugin is the GPU add-on of a cluster.
type NvidiaDevicePlugin struct {
	pulumi.ResourceState

	// RuntimeClassName is what a GPU workload sets as runtimeClassName.
	RuntimeClassName pulumi.StringOutput
}

// DevicePluginName names the plugin's DaemonSet, its pods' app label and its container.
const DevicePluginName = "nvidia-device-plugin"

// devicePluginSocketDir is where the kubelet listens for device plugins (K3s' kubelet too).
const devicePluginSocketDir = "/var/lib/kubelet/device-plugins"

// devicePluginConfigPath is where the plugin reads its configuration (CONFIG_FILE).
const devicePluginConfigPath = "/etc/nvidia-device-plugin/config.yaml"

func (a *NvidiaDevicePluginArgs) validate() error {
	var errs []error
	if a.Image == "" || a.Namespace == "" || a.RuntimeClass == "" || len(a.NodeSelector) == 0 {
		errs = append(errs, errors.New("Image, Namespace, RuntimeClass and NodeSelector are required"))
	}
	if a.TimeSlicingReplicas == 1 || a.TimeSlicingReplicas < 0 {
		errs = append(errs, fmt.Errorf("TimeSlicingReplicas %d: 0 (off) or 2 or more pods per GPU", a.TimeSlicingReplicas))
	}
	return errors.Join(errs...)
}

// DevicePluginConfig is the plugin's configuration file with time-slicing at replicas pods
// per GPU (the plugin's config format v1); "" when replicas is 0 (the plugin's defaults).
func DevicePluginConfig(replicas int) string {
	if replicas == 0 {
		return ""
	}
	return fmt.Sprintf(`version: v1
sharing:
  timeSlicing:
    resources:
    - name: nvidia.com/gpu
      replicas: %d
`, replicas)
}

// NewNvidiaDevicePlugin creates the RuntimeClass, the plugin's configuration (with
// time-slicing) and its DaemonSet.
func NewNvidiaDevicePlugin(ctx *pulumi.Context, name string, args NvidiaDevicePluginArgs, opts ...pulumi.ResourceOption) (*NvidiaDevicePlugin, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("gpu %s: %w", name, err)
	}
	g := &NvidiaDevicePlugin{}
	if err := ctx.RegisterComponentResource("xgen:index:NvidiaDevicePlugin", name, g, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(g)
	gpuToleration := gpuTolerations()

	// The RuntimeClass's scheduling adds the GPU nodes' selector and toleration to every pod
	// that uses it: the nvidia handler exists only on the nodes with the toolkit.
	rc, err := nodev1.NewRuntimeClass(ctx, name+"-runtimeclass", &nodev1.RuntimeClassArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.RuntimeClass)},
		Handler:  pulumi.String(args.RuntimeClass),
		Scheduling: &nodev1.SchedulingArgs{
			NodeSelector: pulumi.ToStringMap(args.NodeSelector),
			Tolerations:  gpuToleration,
		},
	}, child)
	if err != nil {
		return nil, err
	}

	labels := map[string]string{NameLabel: DevicePluginName}
	// Root: the plugin creates its socket in the kubelet's directory on the host, owned by
	// root; no capability, no privilege escalation, a read-only root filesystem.
	hardening := Hardening{Root: true}
	container := &corev1.ContainerArgs{
		Name:            pulumi.String(DevicePluginName),
		Image:           pulumi.String(args.Image),
		ImagePullPolicy: pulumi.String(pinnedPullPolicy),
		SecurityContext: hardening.Container(),
		Resources:       addonResources("10m", "100m", "32Mi", "128Mi"),
		VolumeMounts:    corev1.VolumeMountArray{mount("device-plugin", devicePluginSocketDir)},
	}
	volumes := corev1.VolumeArray{hostPathVolume("device-plugin", devicePluginSocketDir, "DirectoryOrCreate")}
	podMeta := &metav1.ObjectMetaArgs{Labels: pulumi.ToStringMap(labels)}
	after := []pulumi.Resource{rc}
	if config := DevicePluginConfig(args.TimeSlicingReplicas); config != "" {
		cm, err := corev1.NewConfigMap(ctx, name+"-config", &corev1.ConfigMapArgs{
			Metadata: objectMeta(DevicePluginName+"-config", args.Namespace, labels),
			Data:     pulumi.StringMap{"config.yaml": pulumi.String(config)},
		}, child)
		if err != nil {
			return nil, err
		}
		after = append(after, cm)
		container.Env = corev1.EnvVarArray{corev1.EnvVarArgs{Name: pulumi.String("CONFIG_FILE"), Value: pulumi.String(devicePluginConfigPath)}}
		container.VolumeMounts = append(container.VolumeMounts.(corev1.VolumeMountArray),
			corev1.VolumeMountArgs{Name: pulumi.String("config"), MountPath: pulumi.String("/etc/nvidia-device-plugin"), ReadOnly: pulumi.Bool(true)})
		volumes = append(volumes, configMapVolume("config", DevicePluginName+"-config"))
		// The plugin reads its configuration once: a change rolls its pods.
		sum := sha256.Sum256([]byte(config))
		podMeta.Annotations = pulumi.StringMap{"xgen.ai/config-checksum": pulumi.String(hex.EncodeToString(sum[:8]))}
	}
	_, err = appsv1.NewDaemonSet(ctx, name+"-device-plugin", &appsv1.DaemonSetArgs{
		Metadata: objectMeta(DevicePluginName, args.Namespace, labels),
		Spec: &appsv1.DaemonSetSpecArgs{
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(labels)},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: podMeta,
				Spec: &corev1.PodSpecArgs{
					RuntimeClassName:             pulumi.String(args.RuntimeClass),
					PriorityClassName:            pulumi.String("system-node-critical"),
					NodeSelector:                 pulumi.ToStringMap(args.NodeSelector),
					Tolerations:                  gpuToleration,
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext:              hardening.Pod(),
					Containers:                   corev1.ContainerArray{container},
					Volumes:                      volumes,
				},
			},
		},
	}, child, pulumi.DependsOn(after))
	if err != nil {
		return nil, err
	}
	g.RuntimeClassName = rc.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(g, pulumi.Map{"runtimeClassName": g.RuntimeClassName}); err != nil {
		return nil, err
	}
	return g, nil
}

// gpuTolerations let a pod onto the GPU nodes (tainted nvidia.com/gpu:NoSchedule).
func gpuTolerations() corev1.TolerationArray {
	return corev1.TolerationArray{corev1.TolerationArgs{
		Key: pulumi.String("nvidia.com/gpu"), Operator: pulumi.String("Exists"), Effect: pulumi.String("NoSchedule")}}
}
