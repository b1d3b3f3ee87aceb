package components

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Ingress types.
const (
	IngressIstio   = "istio"
	IngressTraefik = "traefik"
	IngressNone    = "none"
)

// IstioIngressArgs configures how a site is reached from outside the cluster.
type IstioIngressArgs struct {
	// Namespace of the site's services and of the objects created here. Required.
	Namespace string
	// Type is "istio" (Gateway + VirtualService), "traefik" (networking.k8s.io/v1 Ingress
	// for K3s' bundled Traefik) or "none" (nothing at all). Required (sites: ingress.type).
	Type string
	// Hosts are the site's public host names. Empty: the site has no domain, no Gateway,
	// VirtualService or Ingress is created, and Frontend is exposed on a NodePort or
	// LoadBalancer Service instead.
	Hosts []string
	// Frontend is the entry point: "/" and the StreamingPaths go to it. Required unless Type
	// is "none".
	Frontend Backend
	// StreamingPaths are Server-Sent Events paths, routed to Frontend before any other
	// route, with no route deadline (Istio's default; never set here) and no retries.
	// Default none.
	StreamingPaths []string
	// Routes send path prefixes to other services (e.g. "/api/" to the gateway). They are
	// matched after StreamingPaths and before "/", longest prefix first. Default none.
	Routes []Route
	// SharedGateway is an existing Istio Gateway "namespace/name": no Gateway is created
	// and the VirtualService binds to it. Default "": the site gets its own Gateway.
	SharedGateway string
	// GatewaySelector selects the ingress gateway pods of the site's own Gateway. Required
	// for a site's own Istio Gateway (sites: ingress.gatewaySelector).
	GatewaySelector map[string]string
	// TLSCredentialName is the TLS Secret (in the gateway's namespace for Istio, in
	// Namespace for Traefik) serving HTTPS. Default "": HTTP only.
	TLSCredentialName string
	// HTTPSRedirect makes the HTTP server of the site's own Gateway redirect to HTTPS.
	// Needs TLSCredentialName. Default false.
	HTTPSRedirect bool
	// ExposeType for a site without hosts: "NodePort" or "LoadBalancer". Required (sites:
	// ingress.exposeType).
	ExposeType string
	// NodePort for ExposeType NodePort (30000-32767); 0 lets Kubernetes pick. Default 0.
	NodePort int
	// Labels are added to every object. Default none.
	Labels map[string]string
}

// Backend is a Service and port, in Args.Namespace unless Namespace names another (Istio
// only: Traefik's Ingress reaches its own namespace alone).
type Backend struct {
	Name      string
	Port      int
	Namespace string
}

// Route sends a path prefix to a backend.
type Route struct {
	PathPrefix string
	Backend    Backend
}

// IstioIngress is a site's entry from outside the cluster.
type IstioIngress struct {
	pulumi.ResourceState

	// Gateway is nil with a shared gateway, without hosts, or for non-Istio types.
	Gateway *apiextensions.CustomResource
	// VirtualService is nil without hosts or for non-Istio types.
	VirtualService *apiextensions.CustomResource
	// Ingress is set for type traefik with hosts.
	Ingress *networkingv1.Ingress
	// Exposure is the NodePort/LoadBalancer Service of a site without hosts.
	Exposure *corev1.Service
	// URLs are where the site is reached: https?://host for each host, or
	// "http://<node-ip>:<port>" for a NodePort.
	URLs pulumi.StringArrayOutput
}

// NewIstioIngress registers the site's ingress objects. Routing order: streaming paths,
// then Routes (longest prefix first), then "/" — all to services the site runs.
func NewIstioIngress(ctx *pulumi.Context, name string, args IstioIngressArgs, opts ...pulumi.ResourceOption) (*IstioIngress, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("ingress %s: %w", name, err)
	}
	comp := &IstioIngress{}
	if err := ctx.RegisterComponentResource("xgen:index:IstioIngress", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	meta := func(objName string) *metav1.ObjectMetaArgs { return objectMeta(objName, args.Namespace, args.Labels) }

	var urls []string
	var err error
	switch {
	case args.Type == IngressNone:
	case len(args.Hosts) == 0:
		comp.Exposure, err = args.exposure(ctx, meta, parent)
		if args.ExposeType == "NodePort" && args.NodePort != 0 {
			urls = append(urls, fmt.Sprintf("http://<node-ip>:%d", args.NodePort))
		}
	case args.Type == IngressIstio:
		urls = args.hostURLs()
		gatewayRef := args.SharedGateway
		if gatewayRef == "" {
			gatewayRef = args.Namespace + "/" + name + "-gateway"
			comp.Gateway, err = apiextensions.NewCustomResource(ctx, name+"-gateway", &apiextensions.CustomResourceArgs{
				ApiVersion:  pulumi.String("networking.istio.io/v1"),
				Kind:        pulumi.String("Gateway"),
				Metadata:    meta(name + "-gateway"),
				OtherFields: map[string]any{"spec": args.gatewaySpec()},
			}, parent)
			if err != nil {
				return nil, err
			}
		}
		comp.VirtualService, err = apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String("networking.istio.io/v1"),
			Kind:        pulumi.String("VirtualService"),
			Metadata:    meta(name),
			OtherFields: map[string]any{"spec": args.virtualServiceSpec(gatewayRef)},
		}, parent)
	case args.Type == IngressTraefik:
		urls = args.hostURLs()
		comp.Ingress, err = networkingv1.NewIngress(ctx, name, &networkingv1.IngressArgs{
			Metadata: meta(name),
			Spec:     args.ingressSpec(),
		}, parent)
	}
	if err != nil {
		return nil, err
	}

	comp.URLs = pulumi.ToStringArray(urls).ToStringArrayOutput()
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{"urls": comp.URLs}); err != nil {
		return nil, err
	}
	return comp, nil
}

func (a *IstioIngressArgs) validate() error {
	var errs []error
	if !slices.Contains([]string{IngressIstio, IngressTraefik, IngressNone}, a.Type) {
		errs = append(errs, fmt.Errorf("Type %q is not istio, traefik or none", a.Type))
	}
	if a.Namespace == "" {
		errs = append(errs, errors.New("Namespace is required"))
	}
	if a.Type != IngressNone && (a.Frontend.Name == "" || a.Frontend.Port < 1) {
		errs = append(errs, errors.New("Frontend name and port are required"))
	}
	if a.SharedGateway != "" {
		if ns, gw, ok := strings.Cut(a.SharedGateway, "/"); !ok || ns == "" || gw == "" || strings.Contains(gw, "/") {
			errs = append(errs, fmt.Errorf("SharedGateway %q is not namespace/name", a.SharedGateway))
		}
	}
	for _, p := range a.StreamingPaths {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("streaming path %q does not start with /", p))
		}
	}
	for _, r := range a.Routes {
		if !strings.HasPrefix(r.PathPrefix, "/") || r.Backend.Name == "" || r.Backend.Port < 1 {
			errs = append(errs, fmt.Errorf("route %q -> %s:%d is invalid", r.PathPrefix, r.Backend.Name, r.Backend.Port))
		}
		if r.Backend.Namespace != "" && r.Backend.Namespace != a.Namespace && a.Type == IngressTraefik {
			errs = append(errs, fmt.Errorf("route %q -> %s/%s: Traefik's Ingress reaches only its own namespace", r.PathPrefix, r.Backend.Namespace, r.Backend.Name))
		}
	}
	if a.HTTPSRedirect && a.TLSCredentialName == "" && a.SharedGateway == "" {
		errs = append(errs, errors.New("HTTPSRedirect needs TLSCredentialName"))
	}
	if a.Type == IngressIstio && a.SharedGateway == "" && len(a.Hosts) > 0 && len(a.GatewaySelector) == 0 {
		errs = append(errs, errors.New("GatewaySelector is required for the site's own Gateway"))
	}
	if a.ExposeType != "NodePort" && a.ExposeType != "LoadBalancer" {
		errs = append(errs, fmt.Errorf("ExposeType %q is not NodePort or LoadBalancer", a.ExposeType))
	}
	return errors.Join(errs...)
}

// tls says whether the site is served over HTTPS: its own TLS credential, or a shared
// gateway (which exists to hold the certificate of the domain).
func (a *IstioIngressArgs) tls() bool { return a.TLSCredentialName != "" || a.SharedGateway != "" }

func (a *IstioIngressArgs) hostURLs() []string {
	scheme := "http"
	if a.tls() {
		scheme = "https"
	}
	urls := make([]string, 0, len(a.Hosts))
	for _, h := range a.Hosts {
		urls = append(urls, scheme+"://"+h)
	}
	return urls
}

// orderedRoutes is the one routing order both Istio and Traefik follow.
func (a *IstioIngressArgs) orderedRoutes() []orderedRoute {
	var out []orderedRoute
	for i, p := range a.StreamingPaths {
		out = append(out, orderedRoute{name: fmt.Sprintf("stream-%d", i), prefix: p, backend: a.Frontend, streaming: true})
	}
	routes := append([]Route(nil), a.Routes...)
	sort.SliceStable(routes, func(i, j int) bool { return len(routes[i].PathPrefix) > len(routes[j].PathPrefix) })
	for _, r := range routes {
		out = append(out, orderedRoute{name: r.Backend.Name, prefix: r.PathPrefix, backend: r.Backend})
	}
	return append(out, orderedRoute{name: "default", prefix: "/", backend: a.Frontend})
}

type orderedRoute struct {
	name, prefix string
	backend      Backend
	streaming    bool
}

func (a *IstioIngressArgs) gatewaySpec() map[string]any {
	hosts := a.hostList()
	httpServer := map[string]any{
		"port":  map[string]any{"number": 80, "name": "http", "protocol": "HTTP"},
		"hosts": hosts,
	}
	servers := []any{httpServer}
	if a.TLSCredentialName != "" {
		if a.HTTPSRedirect {
			httpServer["tls"] = map[string]any{"httpsRedirect": true}
		}
		servers = append(servers, map[string]any{
			"port":  map[string]any{"number": 443, "name": "https", "protocol": "HTTPS"},
			"hosts": hosts,
			"tls":   map[string]any{"mode": "SIMPLE", "credentialName": a.TLSCredentialName},
		})
	}
	selector := map[string]any{}
	for k, v := range a.GatewaySelector {
		selector[k] = v
	}
	return map[string]any{"selector": selector, "servers": servers}
}

func (a *IstioIngressArgs) virtualServiceSpec(gatewayRef string) map[string]any {
	var http []any
	for _, r := range a.orderedRoutes() {
		route := map[string]any{
			"name":  r.name,
			"match": []any{map[string]any{"uri": map[string]any{"prefix": r.prefix}}},
			"route": []any{map[string]any{"destination": map[string]any{
				"host": a.backendHost(r.backend),
				"port": map[string]any{"number": r.backend.Port},
			}}},
		}
		if r.streaming {
			// SSE: no route deadline — a stream lasts as long as its workflow runs. Istio's
			// route timeout is disabled unless set, and its CRD refuses "0s" (it must be
			// >= 1ms), so "no deadline" is spelled by leaving timeout out. No retries: a
			// retried POST would run the workflow twice.
			route["retries"] = map[string]any{"attempts": 0}
		}
		http = append(http, route)
	}
	return map[string]any{"hosts": a.hostList(), "gateways": []any{gatewayRef}, "http": http}
}

func (a *IstioIngressArgs) ingressSpec() *networkingv1.IngressSpecArgs {
	var paths networkingv1.HTTPIngressPathArray
	for _, r := range a.orderedRoutes() {
		paths = append(paths, networkingv1.HTTPIngressPathArgs{
			Path:     pulumi.String(r.prefix),
			PathType: pulumi.String("Prefix"),
			Backend: &networkingv1.IngressBackendArgs{Service: &networkingv1.IngressServiceBackendArgs{
				Name: pulumi.String(r.backend.Name),
				Port: &networkingv1.ServiceBackendPortArgs{Number: pulumi.Int(r.backend.Port)},
			}},
		})
	}
	var rules networkingv1.IngressRuleArray
	for _, h := range a.Hosts {
		rule := networkingv1.IngressRuleArgs{Http: &networkingv1.HTTPIngressRuleValueArgs{Paths: paths}}
		if h != "*" {
			rule.Host = pulumi.String(h)
		}
		rules = append(rules, rule)
	}
	spec := &networkingv1.IngressSpecArgs{IngressClassName: pulumi.String("traefik"), Rules: rules}
	if a.TLSCredentialName != "" {
		spec.Tls = networkingv1.IngressTLSArray{networkingv1.IngressTLSArgs{
			Hosts: pulumi.ToStringArray(a.Hosts), SecretName: pulumi.String(a.TLSCredentialName),
		}}
	}
	return spec
}

// ExternalServiceName is the Service that exposes the frontend on a site without a domain
// (a node port or a load balancer).
func ExternalServiceName(frontend string) string { return frontend + "-external" }

func (a *IstioIngressArgs) exposure(ctx *pulumi.Context, meta func(string) *metav1.ObjectMetaArgs, parent pulumi.ResourceOption) (*corev1.Service, error) {
	port := corev1.ServicePortArgs{
		Name: pulumi.String("http"), Port: pulumi.Int(a.Frontend.Port),
		TargetPort: pulumi.String("http"), Protocol: pulumi.String("TCP"),
	}
	if a.ExposeType == "NodePort" && a.NodePort != 0 {
		port.NodePort = pulumi.Int(a.NodePort)
	}
	if a.ExposeType == "LoadBalancer" {
		port.Port = pulumi.Int(80)
	}
	name := ExternalServiceName(a.Frontend.Name)
	return corev1.NewService(ctx, name, &corev1.ServiceArgs{
		Metadata: meta(name),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String(a.ExposeType),
			Selector: pulumi.StringMap{NameLabel: pulumi.String(a.Frontend.Name)},
			Ports:    corev1.ServicePortArray{port},
		},
	}, parent)
}

// hostList holds every host as a string value: nothing here is ever YAML-templated, so a
// "*" host cannot become a YAML alias (the xgen-jeju `unknown anchor '*'` incident).
func (a *IstioIngressArgs) hostList() []any {
	out := make([]any, len(a.Hosts))
	for i, h := range a.Hosts {
		out[i] = h
	}
	return out
}

func (a *IstioIngressArgs) serviceHost(service string) string {
	return fmt.Sprintf("%s.%s.svc.cluster.local", service, a.Namespace)
}

// backendHost is a backend's in-cluster name, in its own namespace.
func (a *IstioIngressArgs) backendHost(b Backend) string {
	if b.Namespace != "" {
		return fmt.Sprintf("%s.%s.svc.cluster.local", b.Name, b.Namespace)
	}
	return a.serviceHost(b.Name)
}
