// Package layers maps the program's layers — hosts, infra, addons, apps, ingress, the steps
// the old setup-k3s.sh ran one at a time — to the resources of a site's stack, as URN
// patterns for `pulumi up|preview|destroy --target`, so that an operator never writes a URN.
// Pure functions of the site model and a stack's URNs; never linked into the program.
package layers

import (
	"fmt"
	"slices"
	"strings"

	"xgen-infra/sites"
)

// Layer is one layer of a site.
type Layer string

// The layers, in the order each depends on the ones before it.
const (
	Hosts   Layer = "hosts"   // K3s on the site's hosts (site.cluster)
	Infra   Layer = "infra"   // the compose project, the host Services, the S3 buckets
	Addons  Layer = "addons"  // Istio, the observability add-on, the site registry
	Apps    Layer = "apps"    // the services, their secrets, network policies, namespace
	Ingress Layer = "ingress" // the site's Gateway and routes (or its Traefik Ingress)
)

// All is every layer in order.
var All = []Layer{Hosts, Infra, Addons, Apps, Ingress}

// Parse reads a layer name.
func Parse(name string) (Layer, error) {
	if slices.Contains(All, Layer(name)) {
		return Layer(name), nil
	}
	var names []string
	for _, l := range All {
		names = append(names, string(l))
	}
	return "", fmt.Errorf("unknown layer %q: one of %s", name, strings.Join(names, ", "))
}

// components are the component types whose resources (and children) make each layer: the
// program's wiring (stack/) registers each at the top level.
var components = map[Layer][]string{
	Hosts:   {"xgen:index:K3sCluster"},
	Infra:   {"xgen:index:InfraCompose", "xgen:index:HostServices", "xgen:index:S3Storage"},
	Addons:  {"xgen:index:Istio", "xgen:index:NvidiaDevicePlugin", "xgen:index:Observability", "xgen:index:SiteRegistry"},
	Apps:    {"xgen:index:XgenService", "xgen:index:NetworkPolicies", "xgen:index:SiteSecrets"},
	Ingress: {"xgen:index:IstioIngress"},
}

const namespaceType = "kubernetes:core/v1:Namespace"

// environmentType prefixes the component type of an environment deployed beside the site's
// own (components.Environment: xgen:environment:<env>), the parent of its resources.
const environmentType = "xgen:environment:"

// namespaces are the top-level Namespaces a layer owns: the site's (apps) and the infra's
// own, when it has one (infra).
func namespaces(l Layer, site *sites.Site) []string {
	switch l {
	case Apps:
		return []string{site.Config.Namespace}
	case Infra:
		if ns := site.Config.Infra.Namespace; ns != site.Config.Namespace {
			return []string{ns}
		}
	}
	return nil
}

// Of is the layer of a resource by its URN; "" for what every layer shares (the stack, the
// providers).
func Of(urn string, site *sites.Site) Layer {
	typ, name := typeAndName(urn)
	// An environment deployed beside the site's own: its component and namespace are apps;
	// its children are in the layer of their component, as the site's own are.
	if _, rest, ok := strings.Cut(typ, "$"); strings.HasPrefix(typ, environmentType) {
		if !ok || rest == namespaceType {
			return Apps
		}
		typ = rest
	}
	top := strings.SplitN(typ, "$", 2)[0]
	for _, l := range All {
		if slices.Contains(components[l], top) {
			return l
		}
		if top == namespaceType && typ == top && slices.Contains(namespaces(l, site), name) {
			return l
		}
	}
	return ""
}

// typeAndName splits urn:pulumi:<stack>::<project>::<type chain>::<name>.
func typeAndName(urn string) (string, string) {
	parts := strings.SplitN(urn, "::", 4)
	if len(parts) < 4 {
		return "", ""
	}
	return parts[2], parts[3]
}

// Targets are the `--target` patterns of a layer in a stack (Pulumi matches `*` within a
// URN part and `**` across parts, also against resources not created yet): each component
// of the layer with its children, the layer's namespaces, and the providers every layer
// uses (so that a changed kubeconfig reaches the layer's resources). A namespace is named
// by its URN, which Pulumi accepts only for a resource in the stack or registered by the
// program: with runsProgram false (destroy) only those in urns are named.
func Targets(stack, project string, l Layer, site *sites.Site, urns []string, runsProgram bool) []string {
	prefix := "urn:pulumi:" + stack + "::" + project + "::"
	var out []string
	for _, c := range components[l] {
		out = append(out, prefix+c+"::*", prefix+c+"$**")
		for _, other := range site.Others { // the same components of each environment beside
			env := prefix + environmentType + other.Config.Environment + "$"
			out = append(out, env+c+"::*", env+c+"$**")
		}
	}
	if l == Apps {
		for _, other := range site.Others {
			env := environmentType + other.Config.Environment
			out = append(out, prefix+env+"::"+other.Config.Environment)
			if urn := prefix + env + "$" + namespaceType + "::" + other.Config.Namespace; runsProgram || slices.Contains(urns, urn) {
				out = append(out, urn)
			}
		}
	}
	for _, ns := range namespaces(l, site) {
		if urn := prefix + namespaceType + "::" + ns; runsProgram || slices.Contains(urns, urn) {
			out = append(out, urn)
		}
	}
	return append(out, prefix+"pulumi:providers:*::*")
}

// Configured are the layers a site has, from its config.
func Configured(site *sites.Site) []Layer {
	c := &site.Config
	has := map[Layer]bool{
		Hosts:   c.Cluster != nil,
		Infra:   c.Infra.Compose != nil || len(site.HostServices) > 0 || (c.AWS != nil && c.AWS.S3 != nil),
		Addons:  c.IstioEnabled() || c.ObservabilityEnabled() || c.RegistryAddonEnabled(),
		Apps:    true,
		Ingress: c.Ingress.Type != "none",
	}
	var out []Layer
	for _, l := range All {
		if has[l] {
			out = append(out, l)
		}
	}
	return out
}

// dependsOn are the layers a layer needs in place before it is run alone.
var dependsOn = map[Layer][]Layer{
	Infra:   {Hosts},
	Addons:  {Hosts},
	Apps:    {Hosts, Infra},
	Ingress: {Hosts, Addons, Apps},
}

// Missing are the layers l depends on that the site has but the stack has never deployed
// (no resource of theirs in urns): a run of l alone would create them only half, or fail.
func Missing(l Layer, site *sites.Site, urns []string) []Layer {
	deployed := map[Layer]bool{}
	for _, u := range urns {
		deployed[Of(u, site)] = true
	}
	var out []Layer
	for _, d := range dependsOn[l] {
		if slices.Contains(Configured(site), d) && !deployed[d] {
			out = append(out, d)
		}
	}
	return out
}
