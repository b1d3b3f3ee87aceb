// Command xgen-infra is the Pulumi program that deploys the XGEN platform to one site per
// stack. It only wires: load the site, build the components, export outputs.
package main

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"xgen-infra/components"
	"xgen-infra/sites"
)

func main() {
	pulumi.Run(program)
}

func program(ctx *pulumi.Context) error {
	// Everything is validated before the first resource is registered.
	site, err := sites.Load(ctx)
	if err != nil {
		return err
	}
	for _, w := range site.Warnings {
		if err := ctx.Log.Warn(w, nil); err != nil {
			return err
		}
	}
	cfg := config.New(ctx, sites.ConfigNamespace)

	provider, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{
		Kubeconfig: cfg.RequireSecret("kubeconfig"),
	})
	if err != nil {
		return fmt.Errorf("site %s: kubernetes provider: %w", site.Name, err)
	}
	k8s := pulumi.Provider(provider)

	ns, err := corev1.NewNamespace(ctx, site.Config.Namespace, &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:   pulumi.String(site.Config.Namespace),
			Labels: pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("xgen")},
		},
	}, k8s)
	if err != nil {
		return fmt.Errorf("site %s: namespace: %w", site.Name, err)
	}

	secretValues := map[string]pulumi.StringInput{}
	for _, s := range site.Secrets {
		secretValues[s.EnvName] = cfg.RequireSecret(s.ConfigKey)
	}
	secretsArgs := components.SiteSecretsArgs{Namespace: site.Config.Namespace, Values: secretValues}
	if site.HasRegistryCredentials {
		secretsArgs.Registry = &components.RegistryCredentials{
			Server:   site.Config.Image.Registry,
			Username: site.Config.Image.RegistryUsername,
			Password: cfg.RequireSecret("registryPassword"),
		}
	}
	secrets, err := components.NewSiteSecrets(ctx, "site-secrets", secretsArgs, k8s, pulumi.DependsOn([]pulumi.Resource{ns}))
	if err != nil {
		return fmt.Errorf("site %s: secrets: %w", site.Name, err)
	}

	if len(site.HostServices) > 0 {
		if err := hostServices(ctx, site, k8s); err != nil {
			return fmt.Errorf("site %s: %w", site.Name, err)
		}
	}

	images := pulumi.StringMap{}
	for _, svc := range site.Services {
		_, err := components.NewXgenService(ctx, svc.Name, serviceArgs(site, svc, secrets), k8s,
			pulumi.DependsOn([]pulumi.Resource{ns, secrets}))
		if err != nil {
			return fmt.Errorf("site %s: %w", site.Name, err)
		}
		images[svc.Name] = pulumi.String(svc.Image)
	}

	ingress, err := components.NewIstioIngress(ctx, site.Config.Project, ingressArgs(site), k8s,
		pulumi.DependsOn([]pulumi.Resource{ns}))
	if err != nil {
		return fmt.Errorf("site %s: %w", site.Name, err)
	}

	ctx.Export("site", pulumi.String(site.Name))
	ctx.Export("environment", pulumi.String(site.Config.Environment))
	ctx.Export("namespace", pulumi.String(site.Config.Namespace))
	ctx.Export("domain", pulumi.String(site.Domain))
	ctx.Export("images", images)
	ctx.Export("urls", ingress.URLs)
	return nil
}

// hostServices makes the infra on the host reachable under its in-cluster names.
func hostServices(ctx *pulumi.Context, site *sites.Site, k8s pulumi.ResourceOption) error {
	infraNS := site.Config.Infra.Namespace
	deps := []pulumi.Resource{}
	if infraNS != site.Config.Namespace {
		ns, err := corev1.NewNamespace(ctx, infraNS, &corev1.NamespaceArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(infraNS), Labels: pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("xgen")}},
		}, k8s)
		if err != nil {
			return fmt.Errorf("infra namespace: %w", err)
		}
		deps = append(deps, ns)
	}
	args := components.HostServicesArgs{Namespace: infraNS, Address: site.Config.Infra.HostAddress}
	for _, hs := range site.HostServices {
		svc := components.HostService{Name: hs.Name}
		for _, p := range hs.Ports {
			svc.Ports = append(svc.Ports, components.HostPort{Name: p.Name, Port: p.Port})
		}
		args.Services = append(args.Services, svc)
	}
	_, err := components.NewHostServices(ctx, "host-infra", args, k8s, pulumi.DependsOn(deps))
	return err
}

// serviceArgs maps a resolved service onto the component's arguments.
func serviceArgs(site *sites.Site, svc sites.Service, secrets *components.SiteSecrets) components.XgenServiceArgs {
	s := svc.Spec
	args := components.XgenServiceArgs{
		Namespace:       site.Config.Namespace,
		Image:           svc.Image,
		ImagePullPolicy: site.Config.Image.PullPolicy,
		Port:            *s.Port,
		Replicas:        *s.Replicas,
		Resources: components.Resources{
			RequestsCPU: s.Resources.Requests.CPU, RequestsMemory: s.Resources.Requests.Memory,
			LimitsCPU: s.Resources.Limits.CPU, LimitsMemory: s.Resources.Limits.Memory,
		},
		Probes: components.Probes{
			Path:      s.Probes.Path,
			Liveness:  probe(s.Probes.Liveness),
			Readiness: probe(s.Probes.Readiness),
		},
		Config:                        svc.Config,
		SecretName:                    secrets.SecretName,
		SecretChecksum:                secrets.Checksum,
		SpreadAcrossNodes:             *s.SpreadAcrossNodes,
		TerminationGracePeriodSeconds: *s.TerminationGracePeriodSeconds,
		PreStopSleepSeconds:           *s.PreStopSleepSeconds,
		RunAsUser:                     *s.RunAsUser,
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
	}
	if secrets.PullSecretName != "" {
		args.ImagePullSecrets = []string{secrets.PullSecretName}
	}
	return args
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
		args.Hosts = []string{site.Domain}
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
	return args
}

func probe(p *sites.ProbeSpec) components.Probe {
	return components.Probe{
		InitialDelaySeconds: *p.InitialDelaySeconds, PeriodSeconds: *p.PeriodSeconds,
		TimeoutSeconds: *p.TimeoutSeconds, FailureThreshold: *p.FailureThreshold,
	}
}
