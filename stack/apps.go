package stack

// Apps: each resolved service as XgenService's arguments, and the namespace's policies.

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components"
	"xgen-infra/components/obsconfig"
	"xgen-infra/sites"
)

// serviceArgs maps a resolved service onto the component's arguments.
func serviceArgs(site *sites.Site, svc sites.Service, secrets *components.SiteSecrets) components.XgenServiceArgs {
	s := svc.Spec
	args := components.XgenServiceArgs{
		Namespace:       site.Config.Namespace,
		Image:           svc.Image,
		ImagePullPolicy: svc.PullPolicy,
		Port:            *s.Port,
		MetricsPort:     metricsPort(svc),
		Replicas:        *s.Replicas,
		Resources: components.Resources{
			RequestsCPU: s.Resources.Requests.CPU, RequestsMemory: s.Resources.Requests.Memory,
			RequestsEphemeralStorage: s.Resources.Requests.EphemeralStorage,
			LimitsCPU:                s.Resources.Limits.CPU, LimitsMemory: s.Resources.Limits.Memory,
			LimitsEphemeralStorage: s.Resources.Limits.EphemeralStorage,
		},
		Probes: components.Probes{
			Path:      s.Probes.Path,
			Liveness:  probe(s.Probes.Liveness),
			Readiness: probe(s.Probes.Readiness),
		},
		Config:                        svc.Config,
		ScrapeAnnotations:             site.Config.ExternalScraper() != nil && svc.Scraped(),
		MetricsPath:                   *s.Metrics.Path,
		SecretName:                    secrets.SecretName,
		SecretChecksum:                secrets.Checksum,
		SpreadAcrossNodes:             *s.SpreadAcrossNodes,
		TerminationGracePeriodSeconds: *s.TerminationGracePeriodSeconds,
		PreStopSleepSeconds:           *s.PreStopSleepSeconds,
		RunAsUser:                     *s.RunAsUser,
		RunAsGroup:                    *s.RunAsGroup,
		WritableRootFilesystem:        !*s.ReadOnlyRootFilesystem,
		WritablePaths:                 s.WritablePaths,
		DeployTimeout:                 s.DeployTimeout,
		Labels:                        map[string]string{"xgen.ai/site": site.Name},
	}
	if *s.Probes.Startup.FailureThreshold > 0 {
		startup := probe(s.Probes.Startup)
		args.Probes.Startup = &startup
	}
	if a := s.Autoscaling; *a.Enabled {
		args.Autoscaling = &components.Autoscaling{
			MinReplicas: *a.MinReplicas, MaxReplicas: *a.MaxReplicas, TargetCPUUtilization: *a.TargetCPUUtilization,
		}
	}
	if *s.GPU.Count > 0 {
		args.GPU = &components.GPU{Count: *s.GPU.Count, NodeSelector: s.GPU.NodeSelector}
		if site.Config.GPUAddonEnabled() {
			args.GPU.RuntimeClassName = sites.NvidiaRuntimeClass
		}
	}
	if secrets.PullSecretName != "" {
		args.ImagePullSecrets = []string{secrets.PullSecretName}
	}
	return args
}

func probe(p *sites.ProbeSpec) components.Probe {
	return components.Probe{
		InitialDelaySeconds: *p.InitialDelaySeconds, PeriodSeconds: *p.PeriodSeconds,
		TimeoutSeconds: *p.TimeoutSeconds, FailureThreshold: *p.FailureThreshold,
	}
}

// networkPolicyArgs turns the catalog's flows into policies: calls between the services the
// site runs, the ingress to what it exposes (with a domain: the gateway's or Traefik's pods
// to the entry point and the routed services; without: any client to the entry point's
// node port; ingress.type none: nothing), and each service's infra endpoints at their real
// address (a host known only by name, such as S3, on its port only).
func networkPolicyArgs(site *sites.Site) components.NetworkPoliciesArgs {
	args := components.NetworkPoliciesArgs{Namespace: site.Config.Namespace, Labels: map[string]string{"xgen.ai/site": site.Name}}
	switch ing := site.Config.Ingress; {
	case ing.Type == components.IngressNone:
	case site.Domain == "":
		args.Ingress = &components.IngressSource{Anywhere: true}
	case ing.Type == components.IngressTraefik:
		args.Ingress = &components.IngressSource{PodLabels: map[string]string{"app.kubernetes.io/name": "traefik"}}
	default:
		args.Ingress = &components.IngressSource{PodLabels: ing.GatewaySelector}
	}
	if site.Config.ObservabilityEnabled() {
		args.Scraper = components.ObservabilityScraper(site.Config.Cluster.Addons.Observability.Namespace)
	}
	if sc := site.Config.ExternalScraper(); sc != nil {
		args.Scraper = &components.ScrapeSource{Namespace: sc.Namespace, PodLabels: sc.PodLabels}
	}
	endpoints := map[string]components.PolicyEndpoint{}
	for _, e := range site.InfraEndpoints() {
		endpoints[e.Name] = components.PolicyEndpoint{Name: e.Name, Namespace: e.Namespace, Ports: e.Ports, CIDR: e.CIDR}
	}
	for _, svc := range site.Services {
		ps := components.PolicyService{Name: svc.Name, Port: *svc.Spec.Port, FromIngress: site.ExposedToIngress(svc),
			MetricsPort: svc.MetricsPort(), NoMetrics: !svc.Scraped()}
		for _, callee := range svc.Spec.Calls {
			if _, runs := site.Service(callee); runs {
				ps.Calls = append(ps.Calls, callee)
			}
		}
		for _, name := range svc.Spec.Infra {
			ps.Egress = append(ps.Egress, endpoints[name])
		}
		for _, f := range site.Egress(svc) { // the catalog's and the site's named flows
			ps.Egress = append(ps.Egress, components.PolicyEndpoint{Name: "egress " + f.Name, CIDR: f.CIDR, Except: f.Except, Ports: f.Ports})
		}
		if site.Config.TracesEnabled() { // spans to the observability add-on's collector
			ps.Egress = append(ps.Egress, components.PolicyEndpoint{Name: "traces",
				Namespace: site.Config.Cluster.Addons.Observability.Namespace, Ports: []int{obsconfig.OTLPHTTPPort}})
		}
		args.Services = append(args.Services, ps)
	}
	return args
}

// appsLayer runs every service the site runs (by digest when the image preflight gave
// one) and returns each one's image.
func appsLayer(ctx *pulumi.Context, site *sites.Site, secrets *components.SiteSecrets, digests map[string]string, opts ...pulumi.ResourceOption) (pulumi.StringMap, error) {
	images := pulumi.StringMap{}
	for _, svc := range site.Services {
		svc = site.Pinned(svc, digests[svc.Image])
		if _, err := components.NewXgenService(ctx, svc.Name, serviceArgs(site, svc, secrets), opts...); err != nil {
			return nil, err
		}
		images[svc.Name] = pulumi.String(svc.Image)
	}
	return images, nil
}

// metricsPort is the service's own metrics port (0: none, or its service port); a service
// that serves no metrics declares none.
func metricsPort(svc sites.Service) int {
	if !svc.Scraped() {
		return 0
	}
	return *svc.Spec.Metrics.Port
}
