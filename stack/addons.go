package stack

// Add-ons on a cluster the program made: the site registry (every node pulls
// localhost:<port>/...) and Istio, whose gateway the site's Gateway binds to.

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components"
	"xgen-infra/sites"
)

// addonsLayer registers the site's add-ons, exports them, and returns what the ingress
// waits for (the mesh).
func addonsLayer(ctx *pulumi.Context, site *sites.Site, k8s pulumi.ResourceOption) ([]pulumi.Resource, error) {
	outputs := pulumi.Map{}
	var mesh []pulumi.Resource
	if site.Config.RegistryAddonEnabled() {
		r := site.Config.Cluster.Addons.Registry
		reg, err := components.NewSiteRegistry(ctx, "registry", components.SiteRegistryArgs{
			Image: r.Image, NodePort: r.NodePort, Storage: r.Storage, StorageClass: r.StorageClass,
			Namespace: r.Namespace, RemoveDataOnDestroy: r.RemoveDataOnDestroy,
		}, k8s)
		if err != nil {
			return nil, err
		}
		outputs["registry"] = pulumi.Map{"endpoint": reg.Endpoint}
	}
	if site.Config.IstioEnabled() {
		istio, err := components.NewIstio(ctx, "istio", istioArgs(site), k8s)
		if err != nil {
			return nil, err
		}
		mesh = append(mesh, istio)
		outputs["istio"] = pulumi.Map{
			"version": istio.Version, "namespace": istio.Namespace, "gatewayService": istio.GatewayService,
		}
	}
	if len(outputs) > 0 {
		ctx.Export("addons", outputs)
	}
	return mesh, nil
}
