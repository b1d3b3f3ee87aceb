package stack

// Hosts → cluster: the site's cluster section as K3sCluster's arguments.

import (
	"net"
	"strconv"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components"
	"xgen-infra/sites"
)

// sshAccess is the login to the site's hosts with the sshPrivateKey secret; only the key's
// public fingerprint is kept in plain text.
func sshAccess(ctx *pulumi.Context, sec secretValues, s *sites.SSHConfig) components.SSHAccess {
	rawKey := plainSecret(ctx, sites.SecretSSHPrivateKey)
	return components.SSHAccess{
		User: s.User, Port: s.Port, PrivateKey: sec[sites.SecretSSHPrivateKey],
		PrivateKeyFingerprint: components.PublicKeyFingerprint(rawKey),
		ConnectTimeoutSeconds: seconds(s.ConnectTimeout),
	}
}

// k3sCluster installs K3s on the site's hosts.
func k3sCluster(ctx *pulumi.Context, site *sites.Site, sec secretValues) (*components.K3sCluster, error) {
	cl := site.Config.Cluster
	args := components.K3sClusterArgs{
		Version: cl.K3s.Version, InstallMode: cl.K3s.Install,
		SSH:     sshAccess(ctx, sec, &cl.SSH),
		Disable: site.ClusterDisable(), TLSSANs: cl.TLSSANs,
		ClusterCIDR: cl.ClusterCIDR, ServiceCIDR: cl.ServiceCIDR,
		ReadyTimeoutSeconds: seconds(cl.ReadyTimeout), UninstallOnDestroy: cl.UninstallOnDestroy,
	}
	if cl.APIEndpoint != "" {
		host, port := sites.SplitEndpoint(cl.APIEndpoint)
		args.APIEndpoint = net.JoinHostPort(host, strconv.Itoa(port))
	}
	if b := cl.SSH.Bastion; b != nil {
		args.SSH.Bastion = &components.SSHBastion{Address: b.Address, Port: b.Port, User: b.User, HostKey: b.HostKey}
	}
	if art := site.Artifacts; art != nil { // checked when the site was loaded
		args.Artifacts = &components.K3sArtifacts{Binary: art.Binary, BinarySHA256: art.BinarySHA256, Images: art.Images, ImagesSHA256: art.ImagesSHA256}
	}
	// The image bundle's cluster images (checked when the site was loaded) go to every node.
	args.ImageBundle = bundleFiles(site, sites.RuntimeCluster)
	for _, h := range cl.Servers {
		args.Servers = append(args.Servers, k3sHost(h))
	}
	for _, h := range cl.Agents {
		args.Agents = append(args.Agents, k3sHost(h))
	}
	im := site.Config.Image
	args.Registry = &components.RegistryLogin{Server: im.Registry, Username: im.RegistryUsername, PlainHTTP: im.RegistryPlainHTTP}
	if site.Config.RegistryAddonEnabled() {
		args.LocalRegistryPort = cl.Addons.Registry.NodePort
	}
	if im.RegistryUsername != "" {
		args.Registry.Password = sec[sites.SecretRegistryPassword]
	}
	return components.NewK3sCluster(ctx, "k3s", args)
}

func k3sHost(h sites.NodeConfig) components.K3sHost {
	return components.K3sHost{Name: h.Name, Address: h.Address, HostKey: h.HostKey, Labels: h.Labels, Taints: h.Taints, GPU: h.GPU}
}

// seconds converts a validated Go duration.
func seconds(d string) int {
	v, _ := time.ParseDuration(d)
	return int(v.Seconds())
}
