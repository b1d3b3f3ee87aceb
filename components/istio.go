package components

import (
	"errors"
	"fmt"
	"maps"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// IstioArgs installs Istio the way the seeds' setup-k3s.sh did (base, istiod, an ingress
// gateway), from pinned charts, for a cluster the program made.
type IstioArgs struct {
	// Version is the Istio release: the images' tag. Required.
	Version string
	// Charts says where each release's chart comes from, by IstioReleases name. Required.
	Charts map[string]ChartSource
	// Hub is the registry path of Istio's images. Required (sites default "docker.io/istio";
	// a closed network points it at the site registry).
	Hub string
	// Namespace of istiod and the gateway. Required (sites: cluster.addons.istio.namespace).
	Namespace string
	// Gateway is the ingress gateway.
	Gateway IstioGatewayArgs
}

// ChartSource is a local chart directory (Repo empty) or a chart name in a repository at
// Version.
type ChartSource struct {
	Chart, Repo, Version string
}

// IstioGatewayArgs is the ingress gateway's Deployment and Service.
type IstioGatewayArgs struct {
	// ServiceType is LoadBalancer or NodePort. Required.
	ServiceType string
	// HTTPNodePort and HTTPSNodePort are the node ports of ports 80 and 443 with NodePort.
	HTTPNodePort, HTTPSNodePort int
	// Replicas of the gateway. Required (1 or more).
	Replicas int
	// Labels are added to the gateway's pods: what the site's Gateway selects
	// (ingress.gatewaySelector). Default {istio: ingressgateway}, which the chart sets itself
	// for the release name istio-ingressgateway.
	Labels map[string]string
}

// IstioReleases are the Helm releases, in install order: the CRDs and cluster roles, the
// control plane (its injection webhook must exist before the gateway's pods, whose proxy it
// injects), then the gateway.
var IstioReleases = []string{"istio-base", "istiod", "istio-ingressgateway"}

// Istio is the installed mesh.
type Istio struct {
	pulumi.ResourceState

	// Namespace of istiod and the gateway.
	Namespace pulumi.StringOutput
	// GatewayService is the gateway Service ("namespace/name").
	GatewayService pulumi.StringOutput
	// Version is the installed release.
	Version pulumi.StringOutput
}

func (a *IstioArgs) validate() error {
	var errs []error
	if a.Version == "" {
		errs = append(errs, errors.New("Version is required"))
	}
	if a.Hub == "" {
		errs = append(errs, errors.New("Hub is required"))
	}
	if a.Namespace == "" {
		errs = append(errs, errors.New("Namespace is required"))
	}
	if a.Gateway.Replicas < 1 {
		errs = append(errs, fmt.Errorf("Gateway.Replicas %d: at least 1", a.Gateway.Replicas))
	}
	for _, r := range IstioReleases {
		if a.Charts[r].Chart == "" {
			errs = append(errs, fmt.Errorf("Charts[%s] is required", r))
		}
	}
	switch a.Gateway.ServiceType {
	case "LoadBalancer":
	case "NodePort":
		if a.Gateway.HTTPNodePort == 0 || a.Gateway.HTTPSNodePort == 0 {
			errs = append(errs, errors.New("Gateway.HTTPNodePort and HTTPSNodePort are required with NodePort"))
		}
	default:
		errs = append(errs, fmt.Errorf("Gateway.ServiceType %q: use LoadBalancer or NodePort", a.Gateway.ServiceType))
	}
	return errors.Join(errs...)
}

// IstioValues are the Helm values of each release: exactly what the component gives the
// charts, and what the tests render the same charts with.
func IstioValues(a IstioArgs) map[string]map[string]any {
	// The pinned Istio images, pulled only when a node lacks them (as every image of ours).
	global := map[string]any{"hub": a.Hub, "tag": a.Version, "istioNamespace": a.Namespace, "imagePullPolicy": pinnedPullPolicy}
	ports := []any{
		map[string]any{"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021},
		map[string]any{"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80},
		map[string]any{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443},
	}
	if a.Gateway.ServiceType == "NodePort" {
		ports[1].(map[string]any)["nodePort"] = a.Gateway.HTTPNodePort
		ports[2].(map[string]any)["nodePort"] = a.Gateway.HTTPSNodePort
	}
	labels := map[string]any{}
	for k, v := range a.Gateway.Labels {
		labels[k] = v
	}
	return map[string]map[string]any{
		"istio-base": {"defaultRevision": "default", "global": maps.Clone(global)},
		"istiod": {
			"global": maps.Clone(global),
			// A fixed control plane: a K3s site has no metrics pipeline to scale it by.
			"autoscaleEnabled": false,
			"replicaCount":     1,
			// The chart's requests, and limits as every workload of ours has.
			"resources":      istioResources("500m", "2", "2048Mi", "4Gi"),
			"seccompProfile": map[string]any{"type": "RuntimeDefault"},
		},
		"istio-ingressgateway": {
			"global":       maps.Clone(global),
			"labels":       labels,
			"replicaCount": a.Gateway.Replicas,
			"autoscaling":  map[string]any{"enabled": false},
			// The chart's requests and limits, and ephemeral storage as every workload of ours.
			"resources":       istioResources("100m", "2", "128Mi", "1Gi"),
			"imagePullPolicy": pinnedPullPolicy,
			"service":         map[string]any{"type": a.Gateway.ServiceType, "ports": ports},
		},
	}
}

// istioResources are the Helm values of a container's requests and limits (addonResources').
func istioResources(cpu, cpuLimit, memory, memoryLimit string) map[string]any {
	return map[string]any{
		"requests": map[string]any{"cpu": cpu, "memory": memory, "ephemeral-storage": ephemeralRequest},
		"limits":   map[string]any{"cpu": cpuLimit, "memory": memoryLimit, "ephemeral-storage": ephemeralLimit},
	}
}

// NewIstio installs the charts in IstioReleases order, each a helm/v4 Chart (rendered by the
// provider, every object a Pulumi resource: a preview shows them, an upgrade is a diff).
func NewIstio(ctx *pulumi.Context, name string, args IstioArgs, opts ...pulumi.ResourceOption) (*Istio, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("istio %s: %w", name, err)
	}
	c := &Istio{}
	if err := ctx.RegisterComponentResource("xgen:index:Istio", name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	ns, err := corev1.NewNamespace(ctx, args.Namespace, &corev1.NamespaceArgs{
		Metadata: objectMeta(args.Namespace, ""),
	}, parent)
	if err != nil {
		return nil, err
	}
	values := IstioValues(args)
	var prev pulumi.Resource = ns
	for _, release := range IstioReleases {
		src := args.Charts[release]
		chartArgs := &helmv4.ChartArgs{
			Chart:     pulumi.String(src.Chart),
			Name:      pulumi.String(release),
			Namespace: pulumi.String(args.Namespace),
			Values:    pulumi.ToMap(values[release]),
		}
		if src.Repo != "" {
			chartArgs.RepositoryOpts = &helmv4.RepositoryOptsArgs{Repo: pulumi.String(src.Repo)}
			chartArgs.Version = pulumi.String(src.Version)
		}
		chart, err := helmv4.NewChart(ctx, release, chartArgs, parent, pulumi.DependsOn([]pulumi.Resource{prev}))
		if err != nil {
			return nil, fmt.Errorf("istio %s: %s: %w", name, release, err)
		}
		prev = chart
	}
	c.Namespace = pulumi.String(args.Namespace).ToStringOutput()
	c.GatewayService = pulumi.String(args.Namespace + "/istio-ingressgateway").ToStringOutput()
	c.Version = pulumi.String(args.Version).ToStringOutput()
	// Dependents (the site's Gateway) wait for the last chart through the component.
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"namespace": c.Namespace, "gatewayService": c.GatewayService, "version": c.Version,
	}); err != nil {
		return nil, err
	}
	return c, nil
}
