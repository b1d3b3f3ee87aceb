package sites

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// AddonsConfig lists what the program installs into the cluster it made (site.cluster), as
// setup-k3s.sh did after K3s. A cluster someone else runs (kubeconfig, aws.eks) gets nothing.
type AddonsConfig struct {
	// Istio installs the mesh's base, istiod and ingress gateway charts. Default: on when
	// ingress.type is istio, the site's environment has a domain and no
	// ingress.sharedGateway is named (a site reached by IP needs no gateway).
	Istio *IstioConfig `json:"istio,omitempty"`
	// Registry runs a registry in the cluster on a node port (the seeds' localhost:30500),
	// wired into every node's registries.yaml. Default off.
	Registry *RegistryAddonConfig `json:"registry,omitempty"`
	// Observability runs Prometheus and Grafana for the site (sites/observability.go).
	// Default off.
	Observability *ObservabilityConfig `json:"observability,omitempty"`
	// GPU makes the NVIDIA GPUs of the `gpu: true` hosts usable (sites/gpu.go): on exactly
	// when the site has a GPU host.
	GPU *GPUConfig `json:"gpu,omitempty"`
}

// RegistryAddonConfig is the site registry add-on (`cluster.addons.registry`). Images pushed
// to it are pulled by every node as localhost:<nodePort>/<path>:<tag>: set image.registry to
// "localhost:<nodePort>" to deploy from it.
type RegistryAddonConfig struct {
	// Enabled runs it. Default false.
	Enabled bool `json:"enabled,omitempty"`
	// Image of the registry. Default DefaultRegistryAddonImage.
	Image string `json:"image,omitempty"`
	// NodePort it listens on, on every node. Default 30500.
	NodePort int `json:"nodePort,omitempty"`
	// Storage is the size of its volume. Default "50Gi".
	Storage string `json:"storage,omitempty"`
	// StorageClass of the volume. Default "local-path" (K3s' local storage: the data stays on
	// the node the registry first ran on).
	StorageClass string `json:"storageClass,omitempty"`
	// Namespace of the registry. Default "xgen-registry".
	Namespace string `json:"namespace,omitempty"`
	// RemoveDataOnDestroy lets `pulumi destroy` delete the volume (and the namespace).
	// Default false: both are left in the cluster.
	RemoveDataOnDestroy bool `json:"removeDataOnDestroy,omitempty"`
}

// IstioConfig is the Istio add-on (`cluster.addons.istio`).
type IstioConfig struct {
	// Enabled installs Istio. Default: see AddonsConfig.Istio.
	Enabled *bool `json:"enabled,omitempty"`
	// Version is the Istio release: the charts' version (from a repository) and the images'
	// tag. Default DefaultIstioVersion.
	Version string `json:"version,omitempty"`
	// Charts is where the charts come from: a Helm repository URL (https://...), or a local
	// directory laid out as an Istio release's manifests/charts (base/,
	// istio-control/istio-discovery/, gateway/) for closed networks; a relative directory
	// is relative to the project directory. Default DefaultIstioChartRepo.
	Charts string `json:"charts,omitempty"`
	// Hub is the registry path of Istio's images (pilot, proxyv2). Default
	// DefaultIstioHub; in a closed network the site registry, e.g. "10.0.0.11:30500/istio".
	Hub string `json:"hub,omitempty"`
	// Namespace of istiod and the gateway. Default "istio-system".
	Namespace string `json:"namespace,omitempty"`
	// Gateway is the ingress gateway the site's Gateway selects.
	Gateway IstioGatewayConfig `json:"gateway,omitempty"`
}

// IstioGatewayConfig is the ingress gateway's Deployment and Service.
type IstioGatewayConfig struct {
	// ServiceType is LoadBalancer (K3s' ServiceLB publishes ports 80 and 443 on the nodes) or
	// NodePort. Default "LoadBalancer".
	ServiceType string `json:"serviceType,omitempty"`
	// HTTPNodePort and HTTPSNodePort are the node ports with ServiceType NodePort
	// (30000-32767). Default 31080 and 31443.
	HTTPNodePort  int `json:"httpNodePort,omitempty"`
	HTTPSNodePort int `json:"httpsNodePort,omitempty"`
	// Replicas of the gateway. Default 1.
	Replicas int `json:"replicas,omitempty"`
}

// Registry add-on defaults.
const (
	DefaultRegistryAddonImage     = "registry:2.8.3"
	DefaultRegistryAddonNodePort  = 30500
	DefaultRegistryAddonStorage   = "50Gi"
	DefaultRegistryAddonClass     = "local-path"
	DefaultRegistryAddonNamespace = "xgen-registry"
)

// RegistryAddonEnabled says whether the site runs the registry add-on (after SetDefaults).
func (c *Config) RegistryAddonEnabled() bool {
	return c.Cluster != nil && c.Cluster.Addons.Registry != nil && c.Cluster.Addons.Registry.Enabled
}

// Istio add-on defaults.
const (
	DefaultIstioVersion       = "1.31.1"
	DefaultIstioChartRepo     = "https://istio-release.storage.googleapis.com/charts"
	DefaultIstioHub           = "docker.io/istio"
	DefaultIstioNamespace     = "istio-system"
	DefaultIstioServiceType   = "LoadBalancer"
	DefaultIstioHTTPNodePort  = 31080
	DefaultIstioHTTPSNodePort = 31443
)

// IstioChartDirs are the chart directories under a local Charts directory, by release.
var IstioChartDirs = map[string]string{
	"istio-base":           "base",
	"istiod":               filepath.Join("istio-control", "istio-discovery"),
	"istio-ingressgateway": "gateway",
}

var (
	istioVersion = regexp.MustCompile(`^1\.[0-9]+\.[0-9]+$`)
	imageHub     = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)
)

// IstioEnabled says whether the site installs Istio (after SetDefaults).
func (c *Config) IstioEnabled() bool {
	return c.Cluster != nil && c.Cluster.Addons.Istio != nil && *c.Cluster.Addons.Istio.Enabled
}

// setAddonDefaults fills cluster.addons; part of SetDefaults.
func setAddonDefaults(c *Config) {
	if c.Cluster == nil {
		return
	}
	a := &c.Cluster.Addons
	if a.Istio == nil {
		a.Istio = &IstioConfig{}
	}
	is := a.Istio
	if is.Enabled == nil {
		on := c.Ingress.Type == "istio" && c.Ingress.SharedGateway == "" && c.Environments[c.Environment].Domain != ""
		is.Enabled = &on
	}
	setString(&is.Version, DefaultIstioVersion)
	setString(&is.Charts, DefaultIstioChartRepo)
	setString(&is.Hub, DefaultIstioHub)
	setString(&is.Namespace, DefaultIstioNamespace)
	g := &is.Gateway
	setString(&g.ServiceType, DefaultIstioServiceType)
	if g.ServiceType == "NodePort" {
		setInt(&g.HTTPNodePort, DefaultIstioHTTPNodePort)
		setInt(&g.HTTPSNodePort, DefaultIstioHTTPSNodePort)
	}
	setInt(&g.Replicas, 1)
	setObservabilityDefaults(c)
	setGPUDefaults(c)
	if r := a.Registry; r != nil && r.Enabled {
		setString(&r.Image, DefaultRegistryAddonImage)
		setInt(&r.NodePort, DefaultRegistryAddonNodePort)
		setString(&r.Storage, DefaultRegistryAddonStorage)
		setString(&r.StorageClass, DefaultRegistryAddonClass)
		setString(&r.Namespace, DefaultRegistryAddonNamespace)
	}
}

// validateAddons reports every problem of cluster.addons.
func validateAddons(p *problemList, c *Config) {
	validateRegistryAddon(p, c)
	validateObservability(p, c)
	validateGPU(p, c)
	if c.Cluster == nil || c.Cluster.Addons.Istio == nil || !*c.Cluster.Addons.Istio.Enabled {
		return
	}
	is := c.Cluster.Addons.Istio
	const k = "cluster.addons.istio"
	if c.Ingress.Type != "istio" {
		p.add(k+".enabled", true, "installs Istio but ingress.type is %q; set ingress.type: istio or remove enabled", c.Ingress.Type)
	}
	if c.Ingress.SharedGateway != "" {
		p.add(k+".enabled", true, "installs a gateway but ingress.sharedGateway %q names someone else's; remove one of them", c.Ingress.SharedGateway)
	}
	if !istioVersion.MatchString(is.Version) {
		p.add(k+".version", is.Version, "must be an Istio release like %q", DefaultIstioVersion)
	}
	validateChartSource(p, k+".charts", is.Charts)
	if !imageHub.MatchString(is.Hub) {
		p.add(k+".hub", is.Hub, "must be a registry path without tag, e.g. %q or \"10.0.0.11:30500/istio\"", DefaultIstioHub)
	}
	if !dnsLabel.MatchString(is.Namespace) {
		p.add(k+".namespace", is.Namespace, "must be a namespace name (a lowercase DNS label)")
	} else if is.Namespace == c.Namespace || is.Namespace == c.Infra.Namespace {
		p.add(k+".namespace", is.Namespace, "is also the site's or the infra's namespace; give Istio its own (default %q)", DefaultIstioNamespace)
	}
	g := is.Gateway
	switch g.ServiceType {
	case "LoadBalancer":
		if slices.Contains(c.Cluster.Disable, "servicelb") {
			p.add(k+".gateway.serviceType", g.ServiceType, "needs K3s' ServiceLB, which cluster.disable removes; use NodePort or keep servicelb")
		}
		for key, v := range map[string]int{"httpNodePort": g.HTTPNodePort, "httpsNodePort": g.HTTPSNodePort} {
			if v != 0 {
				p.add(k+".gateway."+key, v, "is only used with serviceType: NodePort; remove it")
			}
		}
	case "NodePort":
		for key, v := range map[string]int{"httpNodePort": g.HTTPNodePort, "httpsNodePort": g.HTTPSNodePort} {
			if v < 30000 || v > 32767 {
				p.add(k+".gateway."+key, v, "must be a node port from 30000 to 32767")
			}
		}
		if g.HTTPNodePort == g.HTTPSNodePort {
			p.add(k+".gateway.httpsNodePort", g.HTTPSNodePort, "is also httpNodePort; give HTTP and HTTPS their own node ports")
		}
	default:
		p.add(k+".gateway.serviceType", g.ServiceType, "use LoadBalancer or NodePort")
	}
	if g.Replicas < 1 || g.Replicas > 10 {
		p.add(k+".gateway.replicas", g.Replicas, "must be from 1 to 10")
	}
}

// validateChartSource checks a Helm repository URL or a local charts directory.
func validateChartSource(p *problemList, key, src string) {
	if u, err := url.Parse(src); err == nil && u.Scheme != "" {
		// oci:// registries name the chart in the URL itself, which IstioChart does not do.
		if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.add(key, src, "must be a Helm repository URL (https:// or http://) or a local directory of charts")
		}
		return
	}
	for _, rel := range sortedMapValues(IstioChartDirs) {
		if _, err := os.Stat(filepath.Join(src, rel, "Chart.yaml")); err != nil {
			p.add(key, src, "is not an Istio charts directory: %s is missing (use an Istio release's manifests/charts, or a repository URL)",
				filepath.Join(rel, "Chart.yaml"))
			return
		}
	}
}

func sortedMapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// IstioChartRef says where one release's chart comes from: a local chart directory (Repo
// empty) or a chart name in a repository at Version.
type IstioChartRef struct {
	Chart, Repo, Version string
}

// IstioChart resolves one release's chart (a key of IstioChartDirs).
func (is *IstioConfig) IstioChart(release string) IstioChartRef {
	if u, err := url.Parse(is.Charts); err == nil && u.Scheme != "" {
		name := map[string]string{"istio-base": "base", "istiod": "istiod", "istio-ingressgateway": "gateway"}[release]
		return IstioChartRef{Chart: name, Repo: is.Charts, Version: is.Version}
	}
	return IstioChartRef{Chart: filepath.Join(is.Charts, IstioChartDirs[release])}
}

func validateRegistryAddon(p *problemList, c *Config) {
	if !c.RegistryAddonEnabled() {
		return
	}
	r := c.Cluster.Addons.Registry
	const k = "cluster.addons.registry"
	if !pinnedImage.MatchString(r.Image) || strings.HasSuffix(r.Image, ":latest") {
		p.add(k+".image", r.Image, "must be an image with a pinned tag or digest, e.g. %q", DefaultRegistryAddonImage)
	}
	if r.NodePort < 30000 || r.NodePort > 32767 {
		p.add(k+".nodePort", r.NodePort, "must be a node port from 30000 to 32767")
	}
	taken := takenNodePorts(c)
	if c.ObservabilityEnabled() && c.Cluster.Addons.Observability.Grafana.NodePort != 0 {
		taken[c.Cluster.Addons.Observability.Grafana.NodePort] = "cluster.addons.observability.grafana.nodePort"
	}
	if other, ok := taken[r.NodePort]; ok {
		p.add(k+".nodePort", r.NodePort, "is also %s; give the registry its own node port", other)
	}
	if q, err := resource.ParseQuantity(r.Storage); err != nil || q.Sign() <= 0 {
		p.add(k+".storage", r.Storage, "must be a size like \"50Gi\"")
	}
	if !dnsSubdomain.MatchString(r.StorageClass) {
		p.add(k+".storageClass", r.StorageClass, "must be a StorageClass name")
	} else if r.StorageClass == DefaultRegistryAddonClass && slices.Contains(c.Cluster.Disable, "local-storage") {
		p.add(k+".storageClass", r.StorageClass, "is K3s' local storage, which cluster.disable removes; name another StorageClass or keep local-storage")
	}
	if !dnsLabel.MatchString(r.Namespace) {
		p.add(k+".namespace", r.Namespace, "must be a namespace name (a lowercase DNS label)")
	} else if r.Namespace == c.Namespace || r.Namespace == c.Infra.Namespace {
		p.add(k+".namespace", r.Namespace, "is also the site's or the infra's namespace; give the registry its own (default %q)", DefaultRegistryAddonNamespace)
	}
}
