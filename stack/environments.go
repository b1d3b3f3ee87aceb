package stack

// Environments: what each environment of the site owns (namespace, secrets, policies, apps,
// route), for the stack's own and for each one deployed beside it.

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components"
	"xgen-infra/sites"
)

// environment is one environment's part of the program: its namespace and secrets exist;
// apps and ingress add the rest. opts are added to every resource (the beside
// environment's parent).
type environment struct {
	site    *sites.Site
	ns      pulumi.Resource
	secrets *components.SiteSecrets
	digests map[string]string
	opts    []pulumi.ResourceOption
}

// apps: the namespace denies every flow the catalog does not declare before the first pod
// starts; then every service, after deps (the infra and the GPU add-on).
func (e environment) apps(ctx *pulumi.Context, deps []pulumi.Resource, k8s pulumi.ResourceOption) (pulumi.StringMap, error) {
	appDeps := append([]pulumi.Resource{e.ns, e.secrets}, deps...)
	if *e.site.Config.NetworkPolicy.Enabled {
		policies, err := components.NewNetworkPolicies(ctx, "network-policies", networkPolicyArgs(e.site), e.with(k8s, pulumi.DependsOn([]pulumi.Resource{e.ns}))...)
		if err != nil {
			return nil, err
		}
		appDeps = append(appDeps, policies)
	}
	return appsLayer(ctx, e.site, e.secrets, e.digests, e.with(k8s, pulumi.DependsOn(appDeps))...)
}

// ingress: the environment's route (its domain) on the site's gateway, after the mesh.
func (e environment) ingress(ctx *pulumi.Context, mesh []pulumi.Resource, k8s pulumi.ResourceOption) (pulumi.StringArrayOutput, error) {
	ingress, err := components.NewIstioIngress(ctx, e.site.Config.Project, ingressArgs(e.site),
		e.with(k8s, pulumi.DependsOn(append([]pulumi.Resource{e.ns}, mesh...)))...)
	if err != nil {
		return pulumi.StringArrayOutput{}, err
	}
	return ingress.URLs, nil
}

func (e environment) with(opts ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append(append([]pulumi.ResourceOption(nil), e.opts...), opts...)
}

// besideEnvironment deploys an environment beside the stack's own (site is its resolved
// site, sites.Site.Others): its component, namespace, secrets, apps after deps (by the image
// preflight's digests, asked once for every environment), and route after the mesh. It
// returns the environment's outputs.
func besideEnvironment(ctx *pulumi.Context, site *sites.Site, sec secretValues, aws *awsResources, digests map[string]string, deps, mesh []pulumi.Resource, k8s pulumi.ResourceOption) (pulumi.Map, error) {
	c := site.Config
	comp, err := components.NewEnvironment(ctx, components.EnvironmentArgs{Name: c.Environment, Namespace: c.Namespace, Domain: site.Domain})
	if err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	ns, err := components.NewNamespace(ctx, c.Namespace, k8s, parent)
	if err != nil {
		return nil, err
	}
	secrets, err := siteSecrets(ctx, site, sec, aws, k8s, parent, pulumi.DependsOn([]pulumi.Resource{ns}))
	if err != nil {
		return nil, err
	}
	env := environment{site: site, ns: ns, secrets: secrets, digests: digests, opts: []pulumi.ResourceOption{parent}}
	images, err := env.apps(ctx, deps, k8s)
	if err != nil {
		return nil, err
	}
	urls, err := env.ingress(ctx, mesh, k8s)
	if err != nil {
		return nil, err
	}
	if err := comp.Finish(ctx, images, urls); err != nil {
		return nil, err
	}
	return pulumi.Map{"namespace": pulumi.String(c.Namespace), "domain": pulumi.String(site.Domain), "images": images, "urls": urls}, nil
}
