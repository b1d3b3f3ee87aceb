package harness

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// The stand-in grants nvidia.com/gpu only for what a real device plugin needs to run: a
// Ready pod on the node, mounting the kubelet's plugin directory, with the NVIDIA runtime.
func TestDevicePluginStandIn(t *testing.T) {
	nvidia, runc := "nvidia", "runc"
	plugin := func(mod func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "nvidia-device-plugin-x", Namespace: "kube-system"},
			Spec: corev1.PodSpec{
				NodeName: "gpu-1", RuntimeClassName: &nvidia,
				Containers: []corev1.Container{{Name: "plugin", VolumeMounts: []corev1.VolumeMount{{Name: "dp", MountPath: DevicePluginDir}}}},
				Volumes:    []corev1.Volume{{Name: "dp", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: DevicePluginDir + "/"}}}},
			},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		}
		if mod != nil {
			mod(p)
		}
		return p
	}
	timeSliced := func(replicas string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			c := &p.Spec.Containers[0]
			c.Env = []corev1.EnvVar{{Name: "CONFIG_FILE", Value: "/etc/dp/config.yaml"}}
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "config", MountPath: "/etc/dp"})
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "dp-config-" + replicas}}}})
		}
	}
	config := func(replicas string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dp-config-" + replicas, Namespace: "kube-system"},
			Data: map[string]string{"config.yaml": "version: v1\nsharing:\n  timeSlicing:\n    resources:\n    - name: nvidia.com/gpu\n      replicas: " + replicas + "\n"}}
	}
	for _, tc := range []struct {
		name            string
		pod             *corev1.Pod
		hadGPUs         int // what the node advertised before
		capacity, alloc int
		noGPUResource   bool
	}{
		{name: "no plugin", noGPUResource: true},
		{name: "plugin running", pod: plugin(nil), capacity: 2, alloc: 2},
		{name: "plugin without the NVIDIA runtime", pod: plugin(func(p *corev1.Pod) { p.Spec.RuntimeClassName = nil }), noGPUResource: true},
		{name: "plugin with a runc RuntimeClass", pod: plugin(func(p *corev1.Pod) { p.Spec.RuntimeClassName = &runc }), noGPUResource: true},
		{name: "plugin not Ready", pod: plugin(func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }), noGPUResource: true},
		{name: "plugin without the kubelet's directory", pod: plugin(func(p *corev1.Pod) { p.Spec.Volumes[0].HostPath.Path = "/var/lib/other" }), noGPUResource: true},
		{name: "plugin on another node", pod: plugin(func(p *corev1.Pod) { p.Spec.NodeName = "node-1" }), noGPUResource: true},
		{name: "time-slicing 4", pod: plugin(timeSliced("4")), capacity: 8, alloc: 8},
		{name: "time-slicing config missing", pod: plugin(timeSliced("missing")), capacity: 2, alloc: 2},
		{name: "plugin gone", hadGPUs: 2, capacity: 2, alloc: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gpuNode := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gpu-1", Annotations: map[string]string{GPUsAnnotation: "2"}}}
			if tc.hadGPUs > 0 {
				q := *resource.NewQuantity(int64(tc.hadGPUs), resource.DecimalSI)
				gpuNode.Status.Capacity = corev1.ResourceList{GPUResource: q}
				gpuNode.Status.Allocatable = corev1.ResourceList{GPUResource: q}
			}
			objects := []runtime.Object{
				gpuNode,
				&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}},
				&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "nvidia"}, Handler: NvidiaHandler},
				&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "runc"}, Handler: "runc"},
				config("4"),
			}
			if tc.pod != nil {
				objects = append(objects, tc.pod)
			}
			client := fake.NewSimpleClientset(objects...)
			ctx := context.Background()
			if err := SyncDevicePlugins(ctx, client); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"gpu-1", "node-1"} {
				n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				c, hasC := n.Status.Capacity[GPUResource]
				a, hasA := n.Status.Allocatable[GPUResource]
				switch {
				case name == "node-1" || tc.noGPUResource:
					if (hasC && !c.IsZero()) || (hasA && !a.IsZero()) {
						t.Errorf("%s advertises nvidia.com/gpu %v/%v, want none", name, c.Value(), a.Value())
					}
				case c.Value() != int64(tc.capacity) || a.Value() != int64(tc.alloc):
					t.Errorf("%s: nvidia.com/gpu capacity %d allocatable %d, want %d and %d", name, c.Value(), a.Value(), tc.capacity, tc.alloc)
				}
			}
		})
	}
}
