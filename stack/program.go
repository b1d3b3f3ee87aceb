// Package stack is the program's wiring, in one place: load the site, build the layers
// (hosts → cluster → infra → apps → ingress), export outputs. The command (../main.go) runs
// it; the rehearsal (cmd/demo) runs it in-process to do the host layer over SSH.
package stack

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"xgen-infra/components"
	"xgen-infra/components/compose"
	"xgen-infra/images"
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
	var kubeconfig pulumi.StringInput = cfg.GetSecret("kubeconfig")
	var preflights []pulumi.Resource // every host's checks: nothing on any host changes before they pass
	if site.Config.Cluster != nil {
		cluster, err := k3sCluster(ctx, site, cfg)
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
			kubeconfig = awsOut.kubeconfig
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
	// The IAM user's key goes under the names the applications read (the xgen-aww 403).
	if awsOut != nil && awsOut.storage != nil && site.Config.AWS.S3.Credentials == "iamUser" {
		secretValues[sites.ObjectStorageAccessKeyEnv] = awsOut.storage.AccessKeyID
		secretValues[sites.ObjectStorageSecretKeyEnv] = awsOut.storage.SecretAccessKey
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

	// Infra: the compose project on its host (if the site runs one), then the in-cluster
	// Services that reach it; the apps start once both are there.
	appDeps := []pulumi.Resource{ns, secrets}
	var infra *components.InfraCompose
	if site.Config.Infra.Compose != nil {
		if infra, err = infraCompose(ctx, site, cfg, preflights); err != nil {
			return fmt.Errorf("site %s: %w", site.Name, err)
		}
		ctx.Export("infra", infra.Services)
	}
	if len(site.HostServices) > 0 {
		hs, err := hostServices(ctx, site, infra, k8s)
		if err != nil {
			return fmt.Errorf("site %s: %w", site.Name, err)
		}
		appDeps = append(appDeps, hs)
	}

	// Add-ons → apps: the namespace denies every flow the catalog does not declare before
	// the first pod starts.
	if *site.Config.NetworkPolicy.Enabled {
		policies, err := components.NewNetworkPolicies(ctx, "network-policies", networkPolicyArgs(site), k8s,
			pulumi.DependsOn([]pulumi.Resource{ns}))
		if err != nil {
			return fmt.Errorf("site %s: %w", site.Name, err)
		}
		appDeps = append(appDeps, policies)
	}

	images := pulumi.StringMap{}
	for _, svc := range site.Services {
		svc = pinned(site, svc, digests)
		_, err := components.NewXgenService(ctx, svc.Name, serviceArgs(site, svc, secrets), k8s,
			pulumi.DependsOn(appDeps))
		if err != nil {
			return fmt.Errorf("site %s: %w", site.Name, err)
		}
		images[svc.Name] = pulumi.String(svc.Image)
	}

	// Add-ons: the site registry (every node pulls localhost:<port>/...), and the mesh the
	// site's Gateway binds to, on a cluster the program made.
	addons := pulumi.Map{}
	if site.Config.RegistryAddonEnabled() {
		r := site.Config.Cluster.Addons.Registry
		reg, err := components.NewSiteRegistry(ctx, "registry", components.SiteRegistryArgs{
			Image: r.Image, NodePort: r.NodePort, Storage: r.Storage, StorageClass: r.StorageClass,
			Namespace: r.Namespace, RemoveDataOnDestroy: r.RemoveDataOnDestroy,
		}, k8s)
		if err != nil {
			return fmt.Errorf("site %s: %w", site.Name, err)
		}
		addons["registry"] = pulumi.Map{"endpoint": reg.Endpoint}
	}
	ingressDeps := []pulumi.Resource{ns}
	if site.Config.IstioEnabled() {
		istio, err := components.NewIstio(ctx, "istio", istioArgs(site), k8s)
		if err != nil {
			return fmt.Errorf("site %s: %w", site.Name, err)
		}
		ingressDeps = append(ingressDeps, istio)
		addons["istio"] = pulumi.Map{
			"version": istio.Version, "namespace": istio.Namespace, "gatewayService": istio.GatewayService,
		}
	}
	if len(addons) > 0 {
		ctx.Export("addons", addons)
	}

	ingress, err := components.NewIstioIngress(ctx, site.Config.Project, ingressArgs(site), k8s,
		pulumi.DependsOn(ingressDeps))
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

// ImagePreflightEnv set to "off" skips the image preflight for an offline preview.
const ImagePreflightEnv = "XGEN_IMAGE_PREFLIGHT"

// imagePreflight asks the site's registry for every image of the services the site runs,
// and only those (a service the site does not run must never be asked for), and returns the
// digest each tag points at.
func imagePreflight(ctx *pulumi.Context, site *sites.Site) (map[string]string, error) {
	img := site.Config.Image
	reg := &images.Registry{Host: img.Registry, Username: img.RegistryUsername, PlainHTTP: img.RegistryPlainHTTP}
	if reg.Username != "" {
		// The plain value, for the registry's token service only; never logged.
		reg.Password, _ = ctx.GetConfig(sites.ConfigNamespace + ":registryPassword")
	}
	var refs []string
	for _, svc := range site.Services {
		refs = append(refs, svc.Image)
	}
	return images.Preflight(ctx.Context(), reg, refs)
}

// pinned deploys a service by the digest its tag points at now ("name:tag@sha256:..."): a
// new image pushed under the same tag then rolls exactly the service it belongs to, and a
// node never runs something else than what was deployed. A digest never changes, so the
// pull policy is IfNotPresent unless image.pullPolicy says otherwise. Without a digest (the
// preflight off: offline) the tag is deployed, with the tag's pull policy.
func pinned(site *sites.Site, svc sites.Service, digests map[string]string) sites.Service {
	digest := digests[svc.Image]
	if digest == "" || strings.Contains(svc.Image, "@") {
		return svc
	}
	svc.Image += "@" + digest
	if site.Config.Image.PullPolicy == "" {
		svc.PullPolicy = "IfNotPresent"
	}
	return svc
}

// awsResources is what the AWS layer gives the rest of the program.
type awsResources struct {
	kubeconfig pulumi.StringInput // nil without aws.eks
	storage    *components.S3Storage
	outputs    pulumi.Map
}

// awsLayer registers the site's AWS provider, looks up its EKS cluster and makes its S3
// buckets (and their IAM user) as site.aws says.
func awsLayer(ctx *pulumi.Context, site *sites.Site) (*awsResources, error) {
	a := site.Config.AWS
	args := &aws.ProviderArgs{
		Region: pulumi.String(a.Region),
		DefaultTags: &aws.ProviderDefaultTagsArgs{Tags: pulumi.StringMap{
			"xgen.ai/site": pulumi.String(site.Name), "managed-by": pulumi.String("xgen-infra"),
		}},
	}
	if a.Profile != "" {
		args.Profile = pulumi.String(a.Profile)
	}
	if a.AssumeRoleArn != "" {
		args.AssumeRole = &aws.ProviderAssumeRoleArgs{RoleArn: pulumi.String(a.AssumeRoleArn), SessionName: pulumi.String("xgen-infra-" + site.Name)}
	}
	provider, err := aws.NewProvider(ctx, "aws", args)
	if err != nil {
		return nil, fmt.Errorf("aws provider: %w", err)
	}
	out := &awsResources{outputs: pulumi.Map{}}
	if e := a.EKS; e != nil {
		cl, err := components.LookupEKS(ctx, components.EKSAccess{ClusterName: e.ClusterName, Region: a.Region, Profile: a.Profile, RoleArn: a.AssumeRoleArn},
			pulumi.Provider(provider))
		if err != nil {
			return nil, err
		}
		out.kubeconfig = pulumi.ToSecret(pulumi.String(cl.Kubeconfig)).(pulumi.StringOutput)
		out.outputs["clusterEndpoint"] = pulumi.String(cl.Endpoint)
	}
	if s3 := a.S3; s3 != nil {
		store := site.Config.Infra.ObjectStorage
		args := components.S3StorageArgs{Region: a.Region, Buckets: []string{store.DocumentBucket, store.FileStorageBucket},
			Versioning: *s3.Versioning, DeleteOnDestroy: s3.DeleteOnDestroy, Adopt: s3.Adopt}
		if s3.Credentials == "iamUser" {
			args.IAMUser, args.KeyGeneration = s3.UserName, s3.KeyGeneration
		}
		storage, err := components.NewS3Storage(ctx, "objects", args, pulumi.Provider(provider))
		if err != nil {
			return nil, err
		}
		out.storage = storage
		out.outputs["buckets"], out.outputs["bucketArns"], out.outputs["principalArn"] = storage.BucketNames, storage.BucketArns, storage.PrincipalArn
	}
	return out, nil
}

// sshAccess is the login to the site's hosts with the sshPrivateKey secret; only the key's
// public fingerprint is kept in plain text.
func sshAccess(ctx *pulumi.Context, cfg *config.Config, s *sites.SSHConfig) components.SSHAccess {
	rawKey, _ := ctx.GetConfig(sites.ConfigNamespace + ":sshPrivateKey")
	return components.SSHAccess{
		User: s.User, Port: s.Port, PrivateKey: cfg.RequireSecret("sshPrivateKey"),
		PrivateKeyFingerprint: components.PublicKeyFingerprint(rawKey),
		ConnectTimeoutSeconds: seconds(s.ConnectTimeout),
	}
}

// k3sCluster installs K3s on the site's hosts.
func k3sCluster(ctx *pulumi.Context, site *sites.Site, cfg *config.Config) (*components.K3sCluster, error) {
	cl := site.Config.Cluster
	args := components.K3sClusterArgs{
		Version: cl.K3s.Version, InstallMode: cl.K3s.Install,
		SSH:     sshAccess(ctx, cfg, &cl.SSH),
		Disable: clusterDisable(site), TLSSANs: cl.TLSSANs,
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
	if cl.K3s.Install == "airgapped" {
		art, err := sites.ReadArtifacts(cl.K3s.Artifacts)
		if err != nil {
			return nil, fmt.Errorf("%s.cluster.k3s.artifacts: %w", sites.SiteKey, err)
		}
		args.Artifacts = &components.K3sArtifacts{Binary: art.Binary, BinarySHA256: art.BinarySHA256, Images: art.Images, ImagesSHA256: art.ImagesSHA256}
	}
	// The image bundle's cluster images (checked when the site was loaded) go to every node.
	for _, f := range bundleFiles(site, sites.RuntimeCluster) {
		args.ImageBundle = append(args.ImageBundle, components.K3sImage(f))
	}
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
		args.Registry.Password = cfg.RequireSecret("registryPassword")
	}
	return components.NewK3sCluster(ctx, "k3s", args)
}

// clusterDisable keeps Traefik only for a site routed by Traefik.
func clusterDisable(site *sites.Site) []string {
	disable := append([]string(nil), site.Config.Cluster.Disable...)
	if site.Config.Ingress.Type != "traefik" && !slices.Contains(disable, "traefik") {
		disable = append(disable, "traefik")
	}
	sort.Strings(disable)
	return disable
}

func k3sHost(h sites.NodeConfig) components.K3sHost {
	return components.K3sHost{Name: h.Name, Address: h.Address, HostKey: h.HostKey, Labels: h.Labels, Taints: h.Taints, GPU: h.GPU}
}

// seconds converts a validated Go duration.
func seconds(d string) int {
	v, _ := time.ParseDuration(d)
	return int(v.Seconds())
}

// infraCompose runs the site's stateful services as a compose project on its host.
func infraCompose(ctx *pulumi.Context, site *sites.Site, cfg *config.Config, after []pulumi.Resource) (*components.InfraCompose, error) {
	c := site.Config
	cc := c.Infra.Compose
	address, hostKey, ssh := sites.ComposeHost(&c)
	name := cc.Host
	if name == "" {
		name = address
	}
	spec := compose.Spec{DataDir: cc.DataDir, BindAddress: cc.BindAddress}
	secrets := components.InfraSecrets{}
	s := cc.Services
	if p := s.Postgres; p != nil {
		spec.Postgres = &compose.Postgres{Image: p.Image, MemoryLimit: p.MemoryLimit, Port: c.Infra.Postgres.Port,
			Database: c.Infra.Postgres.Database, User: c.Infra.Postgres.User}
		secrets.PostgresAdminPassword = cfg.RequireSecret("postgresAdminPassword")
		secrets.PostgresPassword = cfg.RequireSecret("postgresPassword")
	}
	if r := s.Redis; r != nil {
		spec.Redis = &compose.Redis{Image: r.Image, MemoryLimit: r.MemoryLimit, Port: c.Infra.Redis.Port,
			MaxMemory: r.MaxMemory, MaxMemoryPolicy: r.MaxMemoryPolicy}
		secrets.RedisPassword = cfg.RequireSecret("redisPassword")
	}
	if q := s.Qdrant; q != nil {
		spec.Qdrant = &compose.Qdrant{Image: q.Image, MemoryLimit: q.MemoryLimit, HTTPPort: c.Infra.Qdrant.Port, GRPCPort: c.Infra.Qdrant.GRPCPort}
	}
	if m := s.MinIO; m != nil {
		port := 0
		for _, hs := range site.HostServices {
			if hs.Name == "minio" {
				port = hs.Ports[0].Port
			}
		}
		store := c.Infra.ObjectStorage
		spec.MinIO = &compose.MinIO{Image: m.Image, InitImage: m.InitImage, MemoryLimit: m.MemoryLimit, Port: port,
			ConsolePort: m.ConsolePort, Buckets: []string{store.DocumentBucket, store.FileStorageBucket}}
		secrets.MinIOAccessKey = cfg.RequireSecret("objectStorageAccessKey")
		secrets.MinIOSecretKey = cfg.RequireSecret("objectStorageSecretKey")
	}
	args := components.InfraComposeArgs{
		Host: components.ComposeHost{Name: name, Address: address, HostKey: hostKey},
		SSH:  sshAccess(ctx, cfg, ssh), Spec: spec, Secrets: secrets,
		WaitTimeoutSeconds:  seconds(cc.WaitTimeout),
		RemoveDataOnDestroy: cc.RemoveDataOnDestroy, AllowMove: cc.AllowMove, After: after,
	}
	if b := cc.Backup; b != nil {
		args.Backup = &compose.Backup{Time: b.Time, RetentionDays: b.RetentionDays, Dir: b.Dir}
	}
	// The image bundle's compose images (checked when the site was loaded) go to the host.
	for _, f := range bundleFiles(site, sites.RuntimeDocker) {
		args.Images = append(args.Images, components.ComposeImage(f))
	}
	return components.NewInfraCompose(ctx, "infra", args)
}

// bundleFile is one tarball of the site's image bundle.
type bundleFile struct{ Path, SHA256 string }

// bundleFiles are the image bundle's tarballs for one runtime (none without a bundle).
func bundleFiles(site *sites.Site, runtime string) []bundleFile {
	var out []bundleFile
	if m := site.ImageBundle; m != nil {
		dir := site.Config.Cluster.K3s.ImageBundle
		for _, im := range m.Images {
			if im.Runtime == runtime {
				out = append(out, bundleFile{Path: filepath.Join(dir, filepath.FromSlash(im.File)), SHA256: im.SHA256})
			}
		}
	}
	return out
}

// hostServices makes the infra on the host reachable under its in-cluster names: from the
// compose project's endpoints when the program runs it, else at infra.hostAddress.
func hostServices(ctx *pulumi.Context, site *sites.Site, infra *components.InfraCompose, k8s pulumi.ResourceOption) (pulumi.Resource, error) {
	infraNS := site.Config.Infra.Namespace
	deps := []pulumi.Resource{}
	if infraNS != site.Config.Namespace {
		ns, err := corev1.NewNamespace(ctx, infraNS, &corev1.NamespaceArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(infraNS), Labels: pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String("xgen")}},
		}, k8s)
		if err != nil {
			return nil, fmt.Errorf("infra namespace: %w", err)
		}
		deps = append(deps, ns)
	}
	args := components.HostServicesArgs{Namespace: infraNS, Address: site.Config.Infra.HostAddress}
	if infra != nil {
		args.Address, args.Services = infra.Address, infra.Endpoints
		deps = append(deps, infra)
	} else {
		for _, hs := range site.HostServices {
			svc := components.HostService{Name: hs.Name}
			for _, p := range hs.Ports {
				svc.Ports = append(svc.Ports, components.HostPort{Name: p.Name, Port: p.Port})
			}
			args.Services = append(args.Services, svc)
		}
	}
	return components.NewHostServices(ctx, "host-infra", args, k8s, pulumi.DependsOn(deps))
}

// serviceArgs maps a resolved service onto the component's arguments.
func serviceArgs(site *sites.Site, svc sites.Service, secrets *components.SiteSecrets) components.XgenServiceArgs {
	s := svc.Spec
	args := components.XgenServiceArgs{
		Namespace:       site.Config.Namespace,
		Image:           svc.Image,
		ImagePullPolicy: svc.PullPolicy,
		Port:            *s.Port,
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
	}
	if secrets.PullSecretName != "" {
		args.ImagePullSecrets = []string{secrets.PullSecretName}
	}
	return args
}

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

// networkPolicyArgs turns the catalog's flows into policies: calls between the services the
// site runs, the ingress to what it exposes (with a domain: the gateway's or Traefik's pods
// to the entry point and the routed services; without: any client to the entry point's
// node port; ingress.type none: nothing), and each service's infra endpoints at their real
// address (a host known only by name, such as S3, on its port only).
func networkPolicyArgs(site *sites.Site) components.NetworkPoliciesArgs {
	args := components.NetworkPoliciesArgs{Namespace: site.Config.Namespace, Labels: map[string]string{"xgen.ai/site": site.Name}}
	ing := site.Config.Ingress
	exposed := func(spec sites.ServiceSpec) bool { return false }
	switch {
	case ing.Type == components.IngressNone:
	case site.Domain == "":
		args.Ingress = &components.IngressSource{Anywhere: true}
		exposed = func(spec sites.ServiceSpec) bool { return *spec.Domain }
	case ing.Type == components.IngressTraefik:
		args.Ingress = &components.IngressSource{PodLabels: map[string]string{"app.kubernetes.io/name": "traefik"}}
		exposed = func(spec sites.ServiceSpec) bool { return *spec.Domain || len(spec.Routes) > 0 }
	default:
		args.Ingress = &components.IngressSource{PodLabels: ing.GatewaySelector}
		exposed = func(spec sites.ServiceSpec) bool { return *spec.Domain || len(spec.Routes) > 0 }
	}
	endpoints := map[string]components.PolicyEndpoint{}
	for _, e := range site.InfraEndpoints() {
		pe := components.PolicyEndpoint{Name: e.Name, Namespace: e.Namespace, Ports: e.Ports}
		if e.Namespace == "" {
			pe.CIDR = "0.0.0.0/0"
			if ip := net.ParseIP(e.Address); ip != nil && ip.To4() != nil {
				pe.CIDR = e.Address + "/32"
			} else if ip != nil {
				pe.CIDR = e.Address + "/128"
			}
		}
		endpoints[e.Name] = pe
	}
	for _, svc := range site.Services {
		ps := components.PolicyService{Name: svc.Name, Port: *svc.Spec.Port, FromIngress: exposed(svc.Spec)}
		for _, callee := range svc.Spec.Calls {
			if _, runs := site.Service(callee); runs {
				ps.Calls = append(ps.Calls, callee)
			}
		}
		for _, name := range svc.Spec.Infra {
			ps.Egress = append(ps.Egress, endpoints[name])
		}
		args.Services = append(args.Services, ps)
	}
	return args
}

func probe(p *sites.ProbeSpec) components.Probe {
	return components.Probe{
		InitialDelaySeconds: *p.InitialDelaySeconds, PeriodSeconds: *p.PeriodSeconds,
		TimeoutSeconds: *p.TimeoutSeconds, FailureThreshold: *p.FailureThreshold,
	}
}
