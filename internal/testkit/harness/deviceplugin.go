package harness

// The device plugin stand-in (TEST-ONLY). A fake node's GPUs are hardware the test gives it
// (Node.GPUs); like a kubelet, the node advertises them as nvidia.com/gpu only while a device
// plugin runs on it. A kubelet learns of a plugin when the plugin registers on its socket
// directory; here a plugin is a Ready pod on the node that mounts that directory from the
// host and runs with a RuntimeClass whose handler is the NVIDIA runtime (the real plugin
// cannot see a GPU without it). With the plugin gone the node keeps the capacity and its
// allocatable drops to 0, as a kubelet marks a vanished plugin's devices unhealthy.
// Time-slicing: a plugin whose CONFIG_FILE is a mounted ConfigMap with
// sharing.timeSlicing.resources[nvidia.com/gpu].replicas advertises GPUs × replicas.

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

const (
	// GPUsAnnotation records a fake node's GPUs (the hardware the stand-in plugin finds).
	GPUsAnnotation = "harness.xgen.test/gpus"
	// GPUResource is what a device plugin advertises.
	GPUResource corev1.ResourceName = "nvidia.com/gpu"
	// DevicePluginDir is the kubelet's socket directory for device plugins.
	DevicePluginDir = "/var/lib/kubelet/device-plugins"
	// NvidiaHandler is the containerd runtime K3s registers for the NVIDIA toolkit.
	NvidiaHandler = "nvidia"
)

// RunDevicePlugins keeps every GPU node's nvidia.com/gpu in step with the device plugins
// running on it until ctx ends.
func RunDevicePlugins(ctx context.Context, client kubernetes.Interface) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		_ = SyncDevicePlugins(ctx, client)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// SyncDevicePlugins sets each GPU node's nvidia.com/gpu from the plugins running on it now.
func SyncDevicePlugins(ctx context.Context, client kubernetes.Interface) error {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Running"})
	if err != nil {
		return err
	}
	handlers := map[string]string{}
	if rcs, err := client.NodeV1().RuntimeClasses().List(ctx, metav1.ListOptions{}); err == nil {
		for _, rc := range rcs.Items {
			handlers[rc.Name] = rc.Handler
		}
	}
	for i := range nodes.Items {
		node := &nodes.Items[i]
		gpus, err := strconv.Atoi(node.Annotations[GPUsAnnotation])
		if err != nil || gpus <= 0 {
			continue
		}
		advertised := 0
		for j := range pods.Items {
			pod := &pods.Items[j]
			if pod.Spec.NodeName != node.Name || !podReady(pod) || !isDevicePlugin(pod, handlers) {
				continue
			}
			advertised = gpus * timeSlicingReplicas(ctx, client, pod)
		}
		capacity := advertised
		if advertised == 0 {
			// The plugin is gone: the kubelet keeps the capacity it had, none allocatable.
			if q, ok := node.Status.Capacity[GPUResource]; ok {
				capacity = int(q.Value())
			}
		}
		if err := setGPUs(ctx, client, node, capacity, advertised); err != nil {
			return err
		}
	}
	return nil
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// isDevicePlugin: the pod mounts the kubelet's device-plugin directory from the host and runs
// with the NVIDIA runtime.
func isDevicePlugin(pod *corev1.Pod, handlers map[string]string) bool {
	if pod.Spec.RuntimeClassName == nil || handlers[*pod.Spec.RuntimeClassName] != NvidiaHandler {
		return false
	}
	for _, v := range pod.Spec.Volumes {
		if v.HostPath == nil || path.Clean(v.HostPath.Path) != DevicePluginDir {
			continue
		}
		for _, c := range pod.Spec.Containers {
			for _, m := range c.VolumeMounts {
				if m.Name == v.Name {
					return true
				}
			}
		}
	}
	return false
}

// timeSlicingReplicas reads the plugin's time-slicing from the ConfigMap its CONFIG_FILE
// names (1 without one, or when it cannot be read: the plugin would run unshared).
func timeSlicingReplicas(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod) int {
	for _, c := range pod.Spec.Containers {
		for _, e := range c.Env {
			if e.Name != "CONFIG_FILE" {
				continue
			}
			for _, m := range c.VolumeMounts {
				rel, ok := strings.CutPrefix(e.Value, strings.TrimSuffix(m.MountPath, "/")+"/")
				if !ok {
					continue
				}
				for _, v := range pod.Spec.Volumes {
					if v.Name != m.Name || v.ConfigMap == nil {
						continue
					}
					cm, err := client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
					if err != nil {
						return 1
					}
					return replicasIn(cm.Data[rel])
				}
			}
		}
	}
	return 1
}

// replicasIn parses the device plugin's config format v1 for nvidia.com/gpu's replicas.
func replicasIn(config string) int {
	var c struct {
		Version string `json:"version"`
		Sharing struct {
			TimeSlicing struct {
				Resources []struct {
					Name     string `json:"name"`
					Replicas int    `json:"replicas"`
				} `json:"resources"`
			} `json:"timeSlicing"`
		} `json:"sharing"`
	}
	if err := yaml.UnmarshalStrict([]byte(config), &c); err != nil || c.Version != "v1" {
		return 1
	}
	for _, r := range c.Sharing.TimeSlicing.Resources {
		if r.Name == string(GPUResource) && r.Replicas >= 2 {
			return r.Replicas
		}
	}
	return 1
}

func setGPUs(ctx context.Context, client kubernetes.Interface, node *corev1.Node, capacity, allocatable int) error {
	c, hasC := node.Status.Capacity[GPUResource]
	a, hasA := node.Status.Allocatable[GPUResource]
	if (hasC || capacity == 0) && (hasA || allocatable == 0) && int(c.Value()) == capacity && int(a.Value()) == allocatable {
		return nil
	}
	n := node.DeepCopy()
	if n.Status.Capacity == nil {
		n.Status.Capacity = corev1.ResourceList{}
	}
	if n.Status.Allocatable == nil {
		n.Status.Allocatable = corev1.ResourceList{}
	}
	n.Status.Capacity[GPUResource] = *resource.NewQuantity(int64(capacity), resource.DecimalSI)
	n.Status.Allocatable[GPUResource] = *resource.NewQuantity(int64(allocatable), resource.DecimalSI)
	_, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return nil // the next round sees the newer node
	}
	if err != nil {
		return fmt.Errorf("harness: node %s: nvidia.com/gpu: %w", node.Name, err)
	}
	return nil
}

// InstallOwnersDevicePlugin plays what the owner of a cluster the program does not make (a
// kubeconfig site) has installed for its GPU nodes: the nvidia RuntimeClass and a device
// plugin DaemonSet on the nodes labelled nvidia.com/gpu.present=true. Tests that deploy a
// GPU service to such a cluster call it; the program installs its own only on the K3s
// clusters it makes.
func (c *Cluster) InstallOwnersDevicePlugin(ctx context.Context) error {
	if _, err := c.Client.NodeV1().RuntimeClasses().Create(ctx, &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: NvidiaHandler}, Handler: NvidiaHandler,
	}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	labels := map[string]string{"app": "owners-device-plugin"}
	rc := NvidiaHandler
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "owners-device-plugin", Namespace: "kube-system"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RuntimeClassName: &rc,
					NodeSelector:     map[string]string{"nvidia.com/gpu.present": "true"},
					Tolerations:      []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
					Containers: []corev1.Container{{Name: "plugin", Image: "nvcr.io/nvidia/k8s-device-plugin:v0.17.1",
						VolumeMounts: []corev1.VolumeMount{{Name: "dp", MountPath: DevicePluginDir}}}},
					Volumes: []corev1.Volume{{Name: "dp", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: DevicePluginDir}}}},
				},
			},
		},
	}
	if _, err := c.Client.AppsV1().DaemonSets("kube-system").Create(ctx, ds, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}
