package components

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components/k3s"
)

// K3sClusterArgs installs K3s on bare hosts over SSH.
type K3sClusterArgs struct {
	// Version is the pinned K3s release, e.g. "v1.31.4+k3s1". Required.
	Version string
	// InstallMode is "online" (hosts download the pinned release) or "airgapped"
	// (Artifacts are uploaded). Required.
	InstallMode string
	// Artifacts are the checked release files of an air-gapped install.
	Artifacts *K3sArtifacts
	// SSH is how every host is reached. Required.
	SSH SSHAccess
	// Servers (1 or an odd number >= 3) and Agents. Servers[0] initialises the cluster.
	Servers, Agents []K3sHost
	// Disable lists packaged components left out (e.g. "traefik").
	Disable []string
	// TLSSANs are extra API server certificate names.
	TLSSANs []string
	// ClusterCIDR and ServiceCIDR of the cluster. Required.
	ClusterCIDR, ServiceCIDR string
	// APIEndpoint is the "host:port" the kubeconfig points at. Default: the first server's
	// address, port 6443.
	APIEndpoint string
	// ReadyTimeoutSeconds bounds every wait for a service or node. Default 300.
	ReadyTimeoutSeconds int
	// DrainTimeout bounds a node drain (Go duration). Default "5m".
	DrainTimeout string
	// MinDiskMB is the free space preflight wants under /var/lib. Default 10240.
	MinDiskMB int
	// UninstallOnDestroy lets destroy uninstall K3s. Default false.
	UninstallOnDestroy bool
	// Registry, when set, is written to registries.yaml on every host.
	Registry *RegistryLogin
	// LocalRegistryPort, when set, is the node port of the site registry add-on:
	// registries.yaml lets every node pull localhost:<port>/... over plain HTTP.
	LocalRegistryPort int
	// ImageBundle are image tarballs (docker-archive) every node imports after its
	// install, before pods come back on it: a closed network needs no registry. Each is
	// uploaded once (re-uploaded only when its digest changes). Default none.
	ImageBundle []BundleImage
}

// K3sArtifacts are local release files, already checked against their digests.
type K3sArtifacts struct {
	Binary, BinarySHA256, Images, ImagesSHA256 string
}

// K3sHost is one host.
type K3sHost struct {
	Name, Address, HostKey string
	Labels                 map[string]string
	Taints                 []string
	// GPU labels the node nvidia.com/gpu.present=true (what GPU services select) and, when
	// the cluster has a node without a GPU for everything else, taints it
	// nvidia.com/gpu=present:NoSchedule. A cluster of GPU nodes only (the head office's one
	// GPU server) is not tainted: the taint would leave nothing anywhere to run the rest.
	GPU bool
}

// RegistryLogin is the site registry (Password secret, nil without a login).
type RegistryLogin struct {
	Server, Username string
	Password         pulumi.StringInput
	// PlainHTTP pulls Server over http (a registry without TLS in a closed network).
	PlainHTTP bool
}

// K3sCluster is K3s installed on the site's hosts.
type K3sCluster struct {
	pulumi.ResourceState

	// Kubeconfig (secret) reaches the API server at APIEndpoint as cluster admin.
	Kubeconfig pulumi.StringOutput `pulumi:"kubeconfig"`
	// APIEndpoint is "host:port".
	APIEndpoint pulumi.StringOutput `pulumi:"apiEndpoint"`
	// Version is the installed K3s release.
	Version pulumi.StringOutput `pulumi:"version"`
	// Nodes are the cluster's nodes: name, address, roles, version.
	Nodes pulumi.MapArrayOutput `pulumi:"nodes"`

	// Preflights are the hosts' checks. Whatever else the program changes on these hosts
	// waits for them (InfraComposeArgs.After), so that one bad host stops the site before
	// any change on any host.
	Preflights []pulumi.Resource
}

// Default values of K3sClusterArgs.
const (
	DefaultReadyTimeoutSeconds = int(k3s.DefaultReadyTimeout / time.Second)
	DefaultDrainTimeout        = "5m"
	DefaultMinDiskMB           = 10240
	DefaultConnectTimeout      = int(k3s.DefaultConnectTimeout / time.Second)
)

// NewK3sCluster registers, per host: preflight → host marker (carries the only uninstall) →
// K3s files → drain (first server) → install → uncordon (first server) → labels and taints
// (first server); hosts are chained servers first, so that an upgrade goes one host at a
// time. The kubeconfig is read once every node is Ready.
func NewK3sCluster(ctx *pulumi.Context, name string, args K3sClusterArgs, opts ...pulumi.ResourceOption) (*K3sCluster, error) {
	if err := args.check(); err != nil {
		return nil, fmt.Errorf("k3s cluster %s: %w", name, err)
	}
	args.setDefaults()
	c := &K3sCluster{}
	if err := ctx.RegisterComponentResource("xgen:index:K3sCluster", name, c, opts...); err != nil {
		return nil, err
	}
	b := &clusterBuilder{ctx: ctx, args: args, parent: c,
		taintGPU: slices.ContainsFunc(slices.Concat(args.Servers, args.Agents), func(h K3sHost) bool { return !h.GPU })}
	if err := b.build(); err != nil {
		return nil, fmt.Errorf("k3s cluster %s: %w", name, err)
	}
	c.Kubeconfig = b.kubeconfig
	c.APIEndpoint = pulumi.String(b.endpoint).ToStringOutput()
	c.Version = pulumi.String(args.Version).ToStringOutput()
	c.Nodes = b.nodes.ToMapArrayOutput()
	c.Preflights = b.preflights
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"kubeconfig": c.Kubeconfig, "apiEndpoint": c.APIEndpoint, "version": c.Version, "nodes": c.Nodes,
	})
}

func (a *K3sClusterArgs) check() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if a.Version == "" {
		add("Version is required")
	}
	if a.InstallMode != "online" && a.InstallMode != "airgapped" {
		add("InstallMode %q: use online or airgapped", a.InstallMode)
	}
	if a.InstallMode == "airgapped" && a.Artifacts == nil {
		add("airgapped needs Artifacts")
	}
	if len(a.Servers) == 0 {
		add("at least one server is required")
	}
	if a.SSH.User == "" || a.SSH.PrivateKey == nil || a.SSH.Port == 0 {
		add("SSH.User, SSH.Port and SSH.PrivateKey are required")
	}
	names := map[string]bool{}
	for _, im := range a.ImageBundle {
		name := k3s.BundleImageName(im.Path)
		switch {
		case len(im.SHA256) != 64 || strings.Trim(im.SHA256, "0123456789abcdef") != "":
			add("ImageBundle %s: SHA256 %q is not a hex SHA-256", im.Path, im.SHA256)
		case !strings.HasSuffix(name, ".tar"):
			add("ImageBundle %s: not a .tar file", im.Path)
		case names[name]:
			add("ImageBundle %s: a second file named %s", im.Path, path.Base(im.Path))
		}
		names[name] = true
	}
	return errors.Join(errs...)
}

func (a *K3sClusterArgs) setDefaults() {
	if a.ReadyTimeoutSeconds == 0 {
		a.ReadyTimeoutSeconds = DefaultReadyTimeoutSeconds
	}
	if a.DrainTimeout == "" {
		a.DrainTimeout = DefaultDrainTimeout
	}
	if a.MinDiskMB == 0 {
		a.MinDiskMB = DefaultMinDiskMB
	}
	if a.SSH.ConnectTimeoutSeconds == 0 {
		a.SSH.ConnectTimeoutSeconds = DefaultConnectTimeout
	}
	if a.APIEndpoint == "" {
		a.APIEndpoint = net.JoinHostPort(a.Servers[0].Address, strconv.Itoa(k3s.APIPort))
	}
}

type clusterBuilder struct {
	ctx        *pulumi.Context
	args       K3sClusterArgs
	parent     pulumi.Resource
	first      K3sHost
	endpoint   string
	token      pulumi.StringOutput
	kubeconfig pulumi.StringOutput
	nodes      pulumi.MapArray
	preflights []pulumi.Resource
	// taintGPU: the cluster has a node without a GPU, so GPU nodes are kept for GPU work.
	taintGPU bool
}

type hostPlan struct {
	host K3sHost
	role string
	// index among all hosts (servers first)
	index int
}

func (b *clusterBuilder) build() error {
	a := b.args
	b.first = a.Servers[0]
	b.endpoint = a.APIEndpoint
	var hosts []hostPlan
	for _, h := range a.Servers {
		hosts = append(hosts, hostPlan{host: h, role: "server", index: len(hosts)})
	}
	for _, h := range a.Agents {
		hosts = append(hosts, hostPlan{host: h, role: "agent", index: len(hosts)})
	}

	// Every host passes preflight before anything changes on any of them.
	var preflights []pulumi.Resource
	for _, hp := range hosts {
		pf, err := b.command("preflight-"+hp.host.Name, hp.host, remote.CommandArgs{
			Create: pulumi.String(k3s.Preflight(hp.host.Name, k3s.PreflightOptions{Role: hp.role, GPU: hp.host.GPU, InstallMode: a.InstallMode, MinDiskMB: a.MinDiskMB, Version: a.Version})),
			// Preflight runs again before every install, upgrade or reconfiguration.
			Triggers: pulumi.Array{pulumi.String(b.installDigest(hp))},
		})
		if err != nil {
			return err
		}
		preflights = append(preflights, pf)
	}
	b.preflights = preflights

	var previous pulumi.Resource // the last host's uncordon: upgrades go one host at a time
	var members []pulumi.Resource
	var metadata []pulumi.Resource
	for _, hp := range hosts {
		h := hp.host
		hostGen := b.generation(h, hp.role)
		marker, err := b.command("host-"+h.Name, h, remote.CommandArgs{
			Create: pulumi.String(k3s.Mark(h.Name, k3s.HostMarker, hostGen, "")),
			Delete: pulumi.String(k3s.HostDelete(h.Name, hp.role, h.Name, hostGen, a.UninstallOnDestroy)),
		}, pulumi.DependsOn(preflights))
		if err != nil {
			return err
		}
		files, err := b.files(hp, marker)
		if err != nil {
			return err
		}
		drainDeps := append([]pulumi.Resource{marker}, files...)
		if previous != nil {
			drainDeps = append(drainDeps, previous)
		}
		drain, err := b.command("drain-"+h.Name, b.first, remote.CommandArgs{
			Create: pulumi.String(k3s.Drain(b.first.Name, h.Name, a.Version, a.DrainTimeout)),
		}, pulumi.DependsOn(drainDeps))
		if err != nil {
			return err
		}
		install, err := b.install(hp, append(files, drain))
		if err != nil {
			return err
		}
		imported, err := b.importImages(hp, marker, install)
		if err != nil {
			return err
		}
		uncordon, err := b.command("uncordon-"+h.Name, b.first, remote.CommandArgs{
			Create: pulumi.String(k3s.Uncordon(b.first.Name, h.Name, a.Version, a.ReadyTimeoutSeconds)),
		}, pulumi.DependsOn([]pulumi.Resource{imported}))
		if err != nil {
			return err
		}
		previous = uncordon
		labels, taints := nodeMetadata(h, b.taintGPU)
		meta, err := b.command("metadata-"+h.Name, b.first, remote.CommandArgs{
			Create: pulumi.String(k3s.NodeMetadata(b.first.Name, h.Name, labels, taints)),
		}, pulumi.DependsOn([]pulumi.Resource{uncordon}))
		if err != nil {
			return err
		}
		metadata = append(metadata, meta)
		if hp.index > 0 {
			// Deleted before the host's marker: a removed node leaves the cluster, then the
			// host uninstalls K3s.
			gen := b.generation(b.first, "member:"+h.Name)
			member, err := b.command("member-"+h.Name, b.first, remote.CommandArgs{
				Create: pulumi.String(k3s.Mark(b.first.Name, k3s.MemberMarker(h.Name), gen, "")),
				Delete: pulumi.String(k3s.MemberDelete(b.first.Name, h.Name, gen, a.DrainTimeout)),
			}, pulumi.DependsOn([]pulumi.Resource{marker, uncordon}))
			if err != nil {
				return err
			}
			members = append(members, member)
		}
		roles := []string{hp.role}
		if hp.role == "server" {
			roles = []string{"control-plane", "etcd", "master"}
		}
		b.nodes = append(b.nodes, pulumi.Map{
			"name": pulumi.String(h.Name), "address": pulumi.String(h.Address),
			"roles": pulumi.ToStringArray(roles), "version": pulumi.String(a.Version),
		})
	}

	// The guard is deleted first on a destroy of the whole stack (it depends on every
	// member), and only then: it tells member deletes apart from a removed node.
	guardGen := b.generation(b.first, "guard")
	guard, err := b.command("destroy-guard", b.first, remote.CommandArgs{
		Create: pulumi.String(k3s.Mark(b.first.Name, k3s.GuardMarker, guardGen, k3s.DestroyingMarker)),
		Delete: pulumi.String(k3s.GuardDelete(b.first.Name, guardGen)),
	}, pulumi.DependsOn(append(members, metadata...)))
	if err != nil {
		return err
	}

	// Read the kubeconfig once every node is Ready with its labels; it changes only when the
	// node set does, so a second run reads nothing.
	read, err := b.command("kubeconfig", b.first, remote.CommandArgs{
		Create:   pulumi.String(k3s.ReadFile(b.first.Name, k3s.KubeconfigPath, a.ReadyTimeoutSeconds)),
		Triggers: pulumi.Array{pulumi.String(b.nodeSetDigest(hosts))},
		Logging:  remote.LoggingNone,
	}, pulumi.DependsOn([]pulumi.Resource{guard}), pulumi.AdditionalSecretOutputs([]string{"stdout"}))
	if err != nil {
		return err
	}
	endpoint := b.endpoint
	b.kubeconfig = pulumi.ToSecret(read.Stdout.ApplyT(func(kc string) string {
		return k3s.RewriteKubeconfig(kc, endpoint)
	})).(pulumi.StringOutput)
	return nil
}

// files writes a host's K3s files; joining hosts get the token the first server made.
func (b *clusterBuilder) files(hp hostPlan, marker pulumi.Resource) ([]pulumi.Resource, error) {
	a, h := b.args, hp.host
	deps := pulumi.DependsOn([]pulumi.Resource{marker})
	var out []pulumi.Resource
	cfg, err := b.command("config-"+h.Name, h, remote.CommandArgs{
		Create: pulumi.String(k3s.WriteFile(h.Name, k3s.ConfigPath, "0600")),
		Stdin:  pulumi.String(b.nodeConfig(hp).YAML()),
	}, deps)
	if err != nil {
		return nil, err
	}
	out = append(out, cfg)
	if hp.index > 0 {
		tok, err := b.command("token-"+h.Name, h, remote.CommandArgs{
			Create: pulumi.String(k3s.WriteFile(h.Name, k3s.TokenPath, "0600")),
			Stdin:  pulumi.ToSecret(b.token).(pulumi.StringOutput),
		}, deps)
		if err != nil {
			return nil, err
		}
		out = append(out, tok)
	}
	if r := a.Registry; r != nil || a.LocalRegistryPort != 0 {
		file := k3s.Registries{LocalPort: a.LocalRegistryPort}
		if r != nil {
			file.Registry, file.PlainHTTP, file.Username = r.Server, r.PlainHTTP, r.Username
		}
		content := pulumi.String(file.YAML()).ToStringOutput()
		if r != nil && r.Username != "" {
			content = pulumi.ToSecret(r.Password.ToStringOutput().ApplyT(func(pw string) string {
				withLogin := file
				withLogin.Password = pw
				return withLogin.YAML()
			})).(pulumi.StringOutput)
		}
		reg, err := b.command("registries-"+h.Name, h, remote.CommandArgs{
			Create: pulumi.String(k3s.WriteFile(h.Name, k3s.RegistriesPath, "0600")),
			Stdin:  content,
		}, deps)
		if err != nil {
			return nil, err
		}
		out = append(out, reg)
	}
	return out, nil
}

// install uploads (air-gapped) and installs K3s; for the first server it also reads back
// the join token K3s generated.
func (b *clusterBuilder) install(hp hostPlan, deps []pulumi.Resource) (pulumi.Resource, error) {
	a, h := b.args, hp.host
	in := k3s.Install{Host: h.Name, Role: hp.role, Version: a.Version, Mode: a.InstallMode,
		ReadyTimeoutSeconds: a.ReadyTimeoutSeconds, ConfigSHA256: b.configDigest(hp)}
	if art := a.Artifacts; a.InstallMode == "airgapped" {
		in.BinarySHA256, in.ImagesSHA256 = art.BinarySHA256, art.ImagesSHA256
		in.StagedBinary = k3s.StagedPath("k3s", art.BinarySHA256)
		in.ImagesName = path.Base(art.Images)
		in.StagedImages = k3s.StagedPath(in.ImagesName, art.ImagesSHA256)
		for _, up := range []struct{ name, local, sha, remote string }{
			{"upload-k3s-", art.Binary, art.BinarySHA256, in.StagedBinary}, {"upload-images-", art.Images, art.ImagesSHA256, in.StagedImages},
		} {
			source, keep := uploadSource(b.ctx, up.local, up.sha)
			cp, err := remote.NewCopyToRemote(b.ctx, up.name+h.Name, &remote.CopyToRemoteArgs{
				Connection: b.connection(h),
				Source:     source,
				RemotePath: pulumi.String(up.remote),
				Triggers:   pulumi.Array{pulumi.String(up.remote)},
			}, append([]pulumi.ResourceOption{pulumi.Parent(b.parent), pulumi.DependsOn(deps)}, keep...)...)
			if err != nil {
				return nil, err
			}
			deps = append(deps, cp)
		}
	}
	install, err := b.command("install-"+h.Name, h, remote.CommandArgs{
		Create: pulumi.String(in.Command()),
	}, pulumi.DependsOn(deps))
	if err != nil {
		return nil, err
	}
	if hp.index == 0 {
		read, err := b.command("join-token", h, remote.CommandArgs{
			Create:  pulumi.String(k3s.ReadFile(h.Name, k3s.ServerToken, a.ReadyTimeoutSeconds)),
			Logging: remote.LoggingNone,
		}, pulumi.DependsOn([]pulumi.Resource{install}), pulumi.AdditionalSecretOutputs([]string{"stdout"}))
		if err != nil {
			return nil, err
		}
		b.token = pulumi.ToSecret(read.Stdout).(pulumi.StringOutput)
	}
	return install, nil
}

// importImages uploads the image bundle to a host (each file to a path named by its digest,
// so only a changed file goes again) and has the node import what is new. Without a
// bundle it is the install itself.
func (b *clusterBuilder) importImages(hp hostPlan, marker, install pulumi.Resource) (pulumi.Resource, error) {
	a, h := b.args, hp.host
	if len(a.ImageBundle) == 0 {
		return install, nil
	}
	uploads, images, err := uploadBundle(b.ctx, b.parent, b.connection(h), "image-"+h.Name+"-", a.ImageBundle,
		k3s.BundleImageName, k3s.StagingDir, marker)
	if err != nil {
		return nil, err
	}
	deps := append([]pulumi.Resource{install}, uploads...)
	return b.command("images-"+h.Name, h, remote.CommandArgs{
		Create: pulumi.String(k3s.ImportImages(h.Name, images, a.ReadyTimeoutSeconds)),
	}, pulumi.DependsOn(deps))
}

// command registers a remote command on host, parented to the cluster.
func (b *clusterBuilder) command(name string, host K3sHost, args remote.CommandArgs, opts ...pulumi.ResourceOption) (*remote.Command, error) {
	return hostCommand(b.ctx, b.parent, name, b.connection(host), args, opts...)
}

func (b *clusterBuilder) connection(h K3sHost) remote.ConnectionArgs {
	return sshConnection(b.args.SSH, h.Address, h.HostKey)
}

// generation identifies what a delete script belongs to: the host's connection (key
// included, by fingerprint) and the uninstall choice. See k3s.Generation.
func (b *clusterBuilder) generation(h K3sHost, what string) string {
	s := b.args.SSH
	return k3s.Generation(what, h.Address, strconv.Itoa(s.Port), s.User, h.HostKey, s.PrivateKeyFingerprint,
		strconv.FormatBool(b.args.UninstallOnDestroy))
}

func (b *clusterBuilder) nodeConfig(hp hostPlan) k3s.NodeConfig {
	a, h := b.args, hp.host
	labels, taints := nodeMetadata(h, b.taintGPU)
	nc := k3s.NodeConfig{Role: hp.role, Name: h.Name, Address: h.Address, Labels: labels, Taints: taints}
	if hp.index > 0 {
		nc.Server = "https://" + net.JoinHostPort(b.first.Address, strconv.Itoa(k3s.APIPort))
	}
	if hp.role == "server" {
		nc.ClusterInit = hp.index == 0 && len(a.Servers) > 1
		endpointHost, _, _ := net.SplitHostPort(b.endpoint)
		nc.TLSSANs = uniqueSorted(append(append([]string{endpointHost}, a.TLSSANs...), h.Address))
		nc.ClusterCIDR, nc.ServiceCIDR = a.ClusterCIDR, a.ServiceCIDR
		nc.Disable = a.Disable
	}
	return nc
}

// configDigest covers the host's non-secret K3s files and the registry login's identity.
func (b *clusterBuilder) configDigest(hp hostPlan) string {
	parts := []string{b.nodeConfig(hp).YAML()}
	if r := b.args.Registry; r != nil {
		parts = append(parts, r.Server, r.Username)
		if r.PlainHTTP { // only when set: a converged site's digest (and K3s) stays as it is
			parts = append(parts, "plain-http")
		}
	}
	if p := b.args.LocalRegistryPort; p != 0 {
		parts = append(parts, "local-registry:"+strconv.Itoa(p))
	}
	return digest(parts...)
}

func (b *clusterBuilder) installDigest(hp hostPlan) string {
	a := b.args
	parts := []string{a.Version, a.InstallMode, b.configDigest(hp)}
	if art := a.Artifacts; art != nil {
		parts = append(parts, art.BinarySHA256, art.ImagesSHA256)
	}
	return digest(parts...)
}

func (b *clusterBuilder) nodeSetDigest(hosts []hostPlan) string {
	var parts []string
	for _, hp := range hosts {
		parts = append(parts, hp.host.Name, hp.host.Address, hp.role)
	}
	return digest(append(parts, b.endpoint)...)
}

// nodeMetadata adds the GPU label (and, with taintGPU, the taint) to a host's own.
func nodeMetadata(h K3sHost, taintGPU bool) (map[string]string, []string) {
	labels := map[string]string{}
	for k, v := range h.Labels {
		labels[k] = v
	}
	taints := append([]string(nil), h.Taints...)
	if h.GPU {
		labels[k3s.GPULabelKey] = k3s.GPULabelValue
		if taintGPU {
			taints = append(taints, k3s.GPUTaint)
		}
	}
	return labels, uniqueSorted(taints)
}

func digest(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}

func uniqueSorted(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}
