package sites

import "strings"

// GPUConfig is the GPU add-on (`cluster.addons.gpu`): what makes the NVIDIA GPUs of the
// site's `gpu: true` hosts usable by pods. It is on exactly when a host of site.cluster is a
// GPU host; there is nothing to enable.
//
// What the pinned K3s does and what it needs from us (docs/configuration.md "GPU hosts"): K3s
// registers a containerd runtime named `nvidia` when it finds the NVIDIA Container Toolkit's
// nvidia-container-runtime at start (preflight requires the toolkit before K3s is
// installed), and its packaged `runtimes` component would create RuntimeClasses for every
// runtime it knows. On a GPU site the program disables that component and owns the one it
// needs: the `nvidia` RuntimeClass, NVIDIA's device plugin on the GPU nodes (without it no
// node advertises nvidia.com/gpu and a GPU pod stays Pending), and runtimeClassName nvidia
// on every GPU workload (the device plugin, the services with gpu.count, the DCGM exporter).
type GPUConfig struct {
	// DevicePluginImage is NVIDIA's device plugin (pinned). Default DefaultDevicePluginImage.
	DevicePluginImage string `json:"devicePluginImage,omitempty"`
	// TimeSlicing shares each GPU between pods (the device plugin's time-slicing): a node
	// with one GPU then advertises Replicas nvidia.com/gpu, and Replicas pods that request one
	// each run side by side on it, without memory isolation between them. Default off: one
	// pod per GPU.
	TimeSlicing *TimeSlicingConfig `json:"timeSlicing,omitempty"`
}

// TimeSlicingConfig is the device plugin's GPU sharing.
type TimeSlicingConfig struct {
	// Replicas is how many pods share one GPU, 2 or more. Required.
	Replicas int `json:"replicas,omitempty"`
}

// GPU add-on defaults.
const (
	DefaultDevicePluginImage = "nvcr.io/nvidia/k8s-device-plugin:v0.17.1"
	// NvidiaRuntimeClass is the RuntimeClass (and K3s' containerd runtime handler) of the
	// GPU workloads.
	NvidiaRuntimeClass = "nvidia"
	// K3sRuntimesComponent is K3s' packaged component that creates RuntimeClasses for the
	// runtimes it detects; disabled on GPU sites, where the program owns the one it uses.
	K3sRuntimesComponent = "runtimes"
	// maxTimeSlicingReplicas bounds the sharing: beyond it each pod's share is too small to
	// serve a model, and a typo (100 for 10) is caught.
	maxTimeSlicingReplicas = 16
)

// GPUAddonEnabled says whether the site runs the GPU add-on: a host of site.cluster is a GPU
// host.
func (c *Config) GPUAddonEnabled() bool { return c.HasGPUHosts() }

// setGPUDefaults fills cluster.addons.gpu on a site with GPU hosts; part of SetDefaults.
func setGPUDefaults(c *Config) {
	if !c.GPUAddonEnabled() {
		return
	}
	a := &c.Cluster.Addons
	if a.GPU == nil {
		a.GPU = &GPUConfig{}
	}
	setString(&a.GPU.DevicePluginImage, DefaultDevicePluginImage)
}

// validateGPU reports every problem of cluster.addons.gpu.
func validateGPU(p *problemList, c *Config) {
	if c.Cluster == nil || c.Cluster.Addons.GPU == nil {
		return
	}
	g := c.Cluster.Addons.GPU
	const k = "cluster.addons.gpu"
	if !c.GPUAddonEnabled() {
		p.add(k, nil, "has no effect: no host of site.cluster is a GPU host; set gpu: true on the GPU hosts or remove it")
		return
	}
	if ref := g.DevicePluginImage; !pinnedImage.MatchString(ref) || strings.HasSuffix(ref, ":latest") {
		p.add(k+".devicePluginImage", ref, "must be an image with a pinned tag or digest, e.g. %q", DefaultDevicePluginImage)
	}
	if ts := g.TimeSlicing; ts != nil && (ts.Replicas < 2 || ts.Replicas > maxTimeSlicingReplicas) {
		p.add(k+".timeSlicing.replicas", ts.Replicas, "must be from 2 to %d pods per GPU; remove timeSlicing for one pod per GPU", maxTimeSlicingReplicas)
	}
}

// GPUSharing is how many pods share one GPU: 1 unless time-slicing is on.
func (c *Config) GPUSharing() int {
	if !c.GPUAddonEnabled() || c.Cluster.Addons.GPU.TimeSlicing == nil {
		return 1
	}
	return c.Cluster.Addons.GPU.TimeSlicing.Replicas
}
