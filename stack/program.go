// Package stack is the program's wiring, in one place: load the site, build the layers
// (hosts → cluster → infra → apps → ingress), export outputs. The command (../main.go) runs
// it; the rehearsal (cmd/demo) runs it in-process to do the host layer over SSH.
package stack

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"xgen-infra/components"
	"xgen-infra/sites"
)

// Program is the Pulumi program of every site stack.
func Program(ctx *pulumi.Context) error {
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
	// Placeholder host addresses let a preview show the plan but stop `pulumi up` before
	// anything is registered.
	if len(site.Placeholders) > 0 {
		msg := fmt.Sprintf("hosts have placeholder addresses (TEST-NET-1, 192.0.2.0/24): %s; set each host's real address and hostKey in Pulumi.%s.yaml",
			strings.Join(site.Placeholders, ", "), site.Name)
		if !ctx.DryRun() {
			return errors.New(msg)
		}
		if err := ctx.Log.Warn(msg+" (`pulumi up` refuses them)", nil); err != nil {
			return err
		}
	}
	// A closed site's folders that only the lock file identifies here: enough for a preview;
	// `pulumi up` uploads them, so it stops before anything is registered.
	if len(site.AbsentInputs) > 0 {
		msg := fmt.Sprintf("%s not on this machine (%s identifies them): run `pulumi up` for %s on the machine that holds them (docs/closed-networks.md)",
			strings.Join(site.AbsentInputs, " and "), sites.LockFileName(site.Name), site.Name)
		if !ctx.DryRun() {
			return fmt.Errorf("site %s: %s", site.Name, msg)
		}
		if err := ctx.Log.Warn(msg+" (`pulumi up` refuses)", nil); err != nil {
			return err
		}
	}

	// Images: every service image must be in the site's registry (at the preview and at the
	// update alike, so that both deploy the same digests).
	var digests map[string]string
	if *site.Config.Image.Preflight && os.Getenv(ImagePreflightEnv) != "off" {
		if digests, err = imagePreflight(ctx, site); err != nil {
			return fmt.Errorf("site %s: %w", site.Name, err)
		}
	}

	// Hosts → cluster: with site.cluster the program installs K3s and reads its kubeconfig
	// back; without it the cluster is someone else's and its kubeconfig is a secret.
	sec := readSecrets(cfg, site)
	var kubeconfig pulumi.StringInput
	if v, ok := sec[sites.SecretKubeconfig]; ok { // someone else's cluster
		kubeconfig = v
	}
	var preflights []pulumi.Resource // every host's checks: nothing on any host changes before they pass
	if site.Config.Cluster != nil {
		cluster, err := k3sCluster(ctx, site, sec)
		if err != nil {
			return fmt.Errorf("site %s: %w", site.Name, err)
		}
		kubeconfig, preflights = cluster.Kubeconfig, cluster.Preflights
		ctx.Export("cluster", pulumi.Map{
			"apiEndpoint": cluster.APIEndpoint, "version": cluster.Version, "nodes": cluster.Nodes,
		})
		ctx.Export("kubeconfig", cluster.Kubeconfig)
	}

	// AWS: the site's own provider (region, profile, role; never a static key), the EKS
	// cluster's kubeconfig and the object storage buckets.
	var awsOut *awsResources
	if site.Config.AWS != nil {
		if awsOut, err = awsLayer(ctx, site); err != nil {
			return fmt.Errorf("site %s: %w", site.Name, err)
		}
		if awsOut.kubeconfig != nil {
			// Exported as on a K3s site: `site status` reaches the cluster through it (its
			// user runs `aws eks get-token`; no credential is in it).
			kubeconfig = awsOut.kubeconfig
			ctx.Export("kubeconfig", awsOut.kubeconfig)
		}
		ctx.Export("aws", awsOut.outputs)
	}

	provider, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{
		Kubeconfig: kubeconfig,
	})
	if err != nil {
		return fmt.Errorf("site %s: kubernetes provider: %w", site.Name, err)
	}
	k8s := pulumi.Provider(provider)

	// The stack's own environment's namespace and secrets, then the infra on the host.
	ns, err := components.NewNamespace(ctx, site.Config.Namespace, k8s)
	if err != nil {
		return fmt.Errorf("site %s: namespace: %w", site.Name, err)
	}
	secrets, err := siteSecrets(ctx, site, sec, awsOut, k8s, pulumi.DependsOn([]pulumi.Resource{ns}))
	if err != nil {
		return fmt.Errorf("site %s: secrets: %w", site.Name, err)
	}

	// Infra: the compose project on its host (if the site runs one), then the in-cluster
	// Services that reach it; the apps start once both are there.
	infra, err := infraLayer(ctx, site, sec, preflights, k8s)
	if err != nil {
		return fmt.Errorf("site %s: %w", site.Name, err)
	}

	// Add-ons → apps: the GPU add-on before a GPU pod.
	gpu, err := gpuAddon(ctx, site, k8s)
	if err != nil {
		return fmt.Errorf("site %s: %w", site.Name, err)
	}
	own := environment{site: site, ns: ns, secrets: secrets, digests: digests}
	images, err := own.apps(ctx, append(infra, gpu...), k8s)
	if err != nil {
		return fmt.Errorf("site %s: %w", site.Name, err)
	}

	// Add-ons → ingress: the site registry, and the mesh the site's Gateway binds to.
	mesh, err := addonsLayer(ctx, site, sec, gpu, k8s)
	if err != nil {
		return fmt.Errorf("site %s: %w", site.Name, err)
	}
	urls, err := own.ingress(ctx, mesh, k8s)
	if err != nil {
		return fmt.Errorf("site %s: %w", site.Name, err)
	}

	// The environments deployed beside the stack's own: the same cluster, infra and mesh;
	// each its own namespace, secrets, services and route, as children of its component.
	besides := pulumi.Map{}
	for _, other := range site.Others {
		out, err := besideEnvironment(ctx, other, sec, awsOut, digests, append(infra, gpu...), mesh, k8s)
		if err != nil {
			return fmt.Errorf("site %s: environment %s: %w", site.Name, other.Config.Environment, err)
		}
		besides[other.Config.Environment] = out
	}
	if len(besides) > 0 {
		ctx.Export("environments", besides)
	}

	ctx.Export("site", pulumi.String(site.Name))
	ctx.Export("environment", pulumi.String(site.Config.Environment))
	ctx.Export("namespace", pulumi.String(site.Config.Namespace))
	ctx.Export("domain", pulumi.String(site.Domain))
	ctx.Export("images", images)
	ctx.Export("urls", urls)
	return nil
}
