package sites

import (
	"fmt"
	"sort"
)

// checkIgnored reports every setting the operator wrote (raw, before defaults) that the
// site's shape (c, after defaults) would ignore: a setting that changes nothing is an
// error naming why (docs/configuration.md). The key walk test
// (keywalk_test.go) finds the settings this list must cover.
func checkIgnored(p *problemList, raw, c *Config) {
	env := c.Environments[c.Environment]
	noRoutes := c.Ingress.Type == "none" || env.Domain == ""
	ownGateway := c.Ingress.Type == "istio" && env.Domain != "" && c.Ingress.SharedGateway == ""

	if r := raw.Cluster; r != nil {
		checkIgnoredObservability(p, &r.Addons, c)
		if reg := r.Addons.Registry; reg != nil && !reg.Enabled {
			for key, set := range map[string]bool{"image": reg.Image != "", "nodePort": reg.NodePort != 0, "storage": reg.Storage != "",
				"storageClass": reg.StorageClass != "", "namespace": reg.Namespace != "", "removeDataOnDestroy": reg.RemoveDataOnDestroy} {
				if set {
					p.add("cluster.addons.registry."+key, nil, "has no effect: cluster.addons.registry.enabled is false; remove it or enable the registry")
				}
			}
		}
		if is := r.Addons.Istio; is != nil && c.Cluster.Addons.Istio != nil && !*c.Cluster.Addons.Istio.Enabled {
			g := is.Gateway
			for key, set := range map[string]bool{"version": is.Version != "", "charts": is.Charts != "", "hub": is.Hub != "",
				"namespace": is.Namespace != "", "gateway.serviceType": g.ServiceType != "", "gateway.httpNodePort": g.HTTPNodePort != 0,
				"gateway.httpsNodePort": g.HTTPSNodePort != 0, "gateway.replicas": g.Replicas != 0} {
				if set {
					p.add("cluster.addons.istio."+key, nil, "has no effect: the Istio add-on is off (it is on for ingress.type istio with a domain and no sharedGateway, or with cluster.addons.istio.enabled: true); remove it")
				}
			}
		}
	}
	if raw.NetworkPolicy.ClosedNetwork && !*c.NetworkPolicy.Enabled {
		p.add("networkPolicy.closedNetwork", true, "has no effect: networkPolicy.enabled is false, so no flow is opened or closed; remove it or turn the policies on")
	}
	if c.Cluster == nil && raw.Image.RegistryPlainHTTP {
		p.add("image.registryPlainHTTP", true, "has no effect: it configures the containerd of the K3s nodes this program installs (site.cluster); on someone else's cluster configure the nodes' runtime yourself; remove it")
	}

	ing := raw.Ingress
	switch {
	case c.Ingress.Type == "none" && (ing.ExposeType != "" || ing.NodePort != nil):
		p.add("ingress", nil, "exposeType and nodePort have no effect: ingress.type none exposes nothing; remove them")
	case env.Domain != "" && (ing.ExposeType != "" || ing.NodePort != nil):
		p.add("ingress", nil, "exposeType and nodePort have no effect: they expose the frontend of a site without a domain, and this site has %q; remove them", env.Domain)
	}
	if ing.GatewaySelector != nil && !ownGateway {
		p.add("ingress.gatewaySelector", nil, "has no effect: the site has no Gateway of its own (that needs ingress.type istio, a domain and no sharedGateway); remove it")
	}
	if ing.SharedGateway != "" && env.Domain == "" {
		p.add("ingress.sharedGateway", ing.SharedGateway, "has no effect: the site has no domain in environment %s, so nothing binds to a Gateway; remove it or set environments.%s.domain", c.Environment, c.Environment)
	}
	if noRoutes && ing.StreamingPaths != nil {
		p.add("ingress.streamingPaths", nil, "has no effect: the site has no routes (%s); remove it", whyNoRoutes(c, env.Domain))
	}
	if c.Ingress.Type == "none" && env.Domain != "" {
		p.add(fmt.Sprintf("environments.%s.domain", c.Environment), env.Domain, "has no effect: ingress.type none routes nothing to it; remove it or choose istio or traefik")
	}
	for _, name := range sortedMapKeys(raw.Services) {
		s := raw.Services[name]
		if noRoutes && (s.Domain != nil || s.Routes != nil) {
			p.add("services."+name, nil, "domain and routes have no effect: the site has no routes (%s); remove them", whyNoRoutes(c, env.Domain))
		}
	}

	if c.Cluster == nil && raw.Infra.HostAddress != "" && len(inClusterInfra(c)) == 0 {
		p.add("infra.hostAddress", raw.Infra.HostAddress, "has no effect: every infra endpoint has its own host; remove it")
	}
	if raw.Infra.Namespace != "" && len(hostServices(c)) == 0 && len(inClusterInfra(c)) == 0 {
		p.add("infra.namespace", raw.Infra.Namespace, "has no effect: the site reaches no infra by in-cluster name (every endpoint has its own host); remove it")
	}
}

func whyNoRoutes(c *Config, domain string) string {
	if c.Ingress.Type == "none" {
		return "ingress.type none"
	}
	return fmt.Sprintf("no domain in environment %s: the frontend is reached by IP", c.Environment)
}

// checkIgnoredInServices reports a service's settings that its resolved form ignores: GPU
// node labels without a GPU, startup probe timings without a startup probe.
func checkIgnoredInServices(p *problemList, services []Service, c *Config) {
	byName := map[string]Service{}
	for _, s := range services {
		byName[s.Name] = s
	}
	names := make([]string, 0, len(c.Services))
	for n := range c.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		spec, s := c.Services[name], byName[name]
		if g := spec.GPU; g != nil && g.NodeSelector != nil && s.Spec.GPU != nil && s.Spec.GPU.Count != nil && *s.Spec.GPU.Count == 0 {
			p.add("services."+name+".gpu.nodeSelector", nil, "has no effect: the service asks for no GPU (gpu.count 0); remove it or set gpu.count")
		}
		if pr := spec.Probes; pr != nil && pr.Startup != nil && s.Spec.Probes != nil && s.Spec.Probes.Startup != nil && s.Spec.Probes.Startup.FailureThreshold != nil && *s.Spec.Probes.Startup.FailureThreshold == 0 {
			st := pr.Startup
			if st.InitialDelaySeconds != nil || st.PeriodSeconds != nil || st.TimeoutSeconds != nil {
				p.add("services."+name+".probes.startup", nil, "timings have no effect: the service has no startup probe (failureThreshold 0); set probes.startup.failureThreshold or remove them")
			}
		}
		if spec.Egress != nil && !*c.NetworkPolicy.Enabled {
			p.add("services."+name+".egress", nil, "has no effect: networkPolicy.enabled is false, so nothing limits the service's traffic; remove it or turn the policies on")
		}
		if m := spec.Metrics; m != nil && (m.Path != nil || m.Port != nil) && s.Spec.Metrics != nil && s.Spec.Metrics.Enabled != nil && !*s.Spec.Metrics.Enabled {
			p.add("services."+name+".metrics", nil, "path and port have no effect: metrics.enabled is false, so the service is not scraped; remove them or set metrics.enabled: true")
		} else if m != nil && m.Path != nil && !c.ObservabilityEnabled() {
			p.add("services."+name+".metrics.path", *m.Path, "has no effect: nothing scrapes the service without cluster.addons.observability; remove it or enable the add-on")
		}
	}
}
