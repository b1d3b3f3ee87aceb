package stack

// Ingress: the Istio add-on and the site's Gateway and routes.

import (
	"xgen-infra/components"
	"xgen-infra/sites"
)

// istioArgs is the Istio add-on of cluster.addons.istio; its gateway's pods carry the
// labels the site's Gateway selects.
func istioArgs(site *sites.Site) components.IstioArgs {
	is := site.Config.Cluster.Addons.Istio
	charts := map[string]components.ChartSource{}
	for _, release := range components.IstioReleases {
		ref := is.IstioChart(release)
		charts[release] = components.ChartSource{Chart: ref.Chart, Repo: ref.Repo, Version: ref.Version}
	}
	return components.IstioArgs{
		Version: is.Version, Charts: charts, Hub: is.Hub, Namespace: is.Namespace,
		Gateway: components.IstioGatewayArgs{
			ServiceType: is.Gateway.ServiceType, HTTPNodePort: is.Gateway.HTTPNodePort,
			HTTPSNodePort: is.Gateway.HTTPSNodePort, Replicas: is.Gateway.Replicas,
			Labels: site.Config.Ingress.GatewaySelector,
		},
	}
}

// ingressArgs routes "/" and the streaming paths to the service that takes the domain and
// each service's own route prefixes to it; only services the site runs are present.
func ingressArgs(site *sites.Site) components.IstioIngressArgs {
	ing := site.Config.Ingress
	args := components.IstioIngressArgs{
		Namespace:         site.Config.Namespace,
		Type:              ing.Type,
		StreamingPaths:    ing.StreamingPaths,
		SharedGateway:     ing.SharedGateway,
		GatewaySelector:   ing.GatewaySelector,
		TLSCredentialName: site.TLSCredentialName,
		HTTPSRedirect:     ing.HTTPSRedirect,
		ExposeType:        ing.ExposeType,
		NodePort:          *ing.NodePort,
		Labels:            map[string]string{"xgen.ai/site": site.Name},
	}
	if site.Domain != "" {
		args.Hosts = append([]string{site.Domain}, site.Aliases...)
	}
	for _, svc := range site.Services {
		backend := components.Backend{Name: svc.Name, Port: *svc.Spec.Port}
		if *svc.Spec.Domain {
			args.Frontend = backend
		}
		for _, prefix := range svc.Spec.Routes {
			args.Routes = append(args.Routes, components.Route{PathPrefix: prefix, Backend: backend})
		}
	}
	if path := grafanaPath(site); path != "" { // the observability add-on's Grafana
		args.Routes = append(args.Routes, components.Route{PathPrefix: path, Backend: components.Backend{
			Name: "grafana", Port: components.GrafanaPort, Namespace: site.Config.Cluster.Addons.Observability.Namespace}})
	}
	return args
}

// grafanaPath is where the site's ingress routes to the observability add-on's Grafana ("":
// nowhere, it has a node port).
func grafanaPath(site *sites.Site) string {
	if !site.Config.ObservabilityEnabled() {
		return ""
	}
	return site.Config.Cluster.Addons.Observability.Grafana.Path
}
