package stack

// Infra: the compose project and the in-cluster Services that reach the host.

import (
	"fmt"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components"
	"xgen-infra/components/compose"
	"xgen-infra/sites"
)

// infraCompose runs the site's stateful services as a compose project on its host.
func infraCompose(ctx *pulumi.Context, site *sites.Site, sec secretValues, after []pulumi.Resource) (*components.InfraCompose, error) {
	c := site.Config
	cc := c.Infra.Compose
	address, hostKey, ssh := sites.ComposeHost(&c)
	name := cc.Host
	if name == "" {
		name = address
	}
	spec := compose.Spec{DataDir: cc.DataDir, BindAddress: cc.BindAddress}
	// The .env's secrets, by the variable sites.SecretKeys names for each (the project writes
	// only those it reads).
	secretEnv := map[string]pulumi.StringInput{}
	for _, k := range sites.RequiredSecretKeys(&c) {
		if v, ok := sec[k.ConfigKey]; ok && k.ComposeEnv != "" {
			secretEnv[k.ComposeEnv] = v
		}
	}
	s := cc.Services
	if p := s.Postgres; p != nil {
		spec.Postgres = &compose.Postgres{Image: p.Image, MemoryLimit: p.MemoryLimit, Port: c.Infra.Postgres.Port,
			Database: c.Infra.Postgres.Database, User: c.Infra.Postgres.User}
	}
	if r := s.Redis; r != nil {
		spec.Redis = &compose.Redis{Image: r.Image, MemoryLimit: r.MemoryLimit, Port: c.Infra.Redis.Port,
			MaxMemory: r.MaxMemory, MaxMemoryPolicy: r.MaxMemoryPolicy}
	}
	if q := s.Qdrant; q != nil {
		spec.Qdrant = &compose.Qdrant{Image: q.Image, MemoryLimit: q.MemoryLimit, HTTPPort: c.Infra.Qdrant.Port, GRPCPort: c.Infra.Qdrant.GRPCPort}
	}
	if m := s.MinIO; m != nil {
		port := site.HostPort("minio", "api")
		store := c.Infra.ObjectStorage
		spec.MinIO = &compose.MinIO{Image: m.Image, InitImage: m.InitImage, MemoryLimit: m.MemoryLimit, Port: port,
			ConsolePort: m.ConsolePort, Buckets: []string{store.DocumentBucket, store.FileStorageBucket}}
	}
	// Each environment beside the site's own: its database, Redis, Qdrant and buckets.
	for _, other := range site.Others {
		in := other.Config.Infra
		env := other.Config.Environment
		// Its passwords' .env variables: what sites.SecretKeys names for its secrets.
		dotEnv := map[string]string{}
		for _, k := range other.Secrets {
			dotEnv[k.ConfigKey] = k.ComposeEnv
		}
		spec.Environments = append(spec.Environments, compose.Environment{Name: env,
			Database: in.Postgres.Database, User: in.Postgres.User, RedisPort: in.Redis.Port,
			QdrantHTTPPort: in.Qdrant.Port, QdrantGRPCPort: in.Qdrant.GRPCPort,
			DBPasswordEnv:    dotEnv[sites.EnvironmentSecretKey(env, sites.SecretPostgresPassword)],
			RedisPasswordEnv: dotEnv[sites.EnvironmentSecretKey(env, sites.SecretRedisPassword)]})
		if spec.MinIO != nil {
			spec.MinIO.Buckets = append(spec.MinIO.Buckets, in.ObjectStorage.DocumentBucket, in.ObjectStorage.FileStorageBucket)
		}
	}
	if postgres, redis := c.ComposeExporters(); postgres || redis {
		im := c.Cluster.Addons.Observability.Images
		spec.Exporters = &compose.Exporters{PostgresImage: im.PostgresExporter, RedisImage: im.RedisExporter}
	}
	args := components.InfraComposeArgs{
		Host: components.ComposeHost{Name: name, Address: address, HostKey: hostKey},
		SSH:  sshAccess(ctx, sec, ssh), Spec: spec, SecretEnv: secretEnv,
		WaitTimeoutSeconds:  seconds(cc.WaitTimeout),
		RemoveDataOnDestroy: cc.RemoveDataOnDestroy, AllowMove: cc.AllowMove, After: after,
	}
	if b := cc.Backup; b != nil {
		args.Backup = &compose.Backup{Time: b.Time, RetentionDays: b.RetentionDays, Dir: b.Dir}
	}
	// The image bundle's compose images (checked when the site was loaded) go to the host.
	args.Images = bundleFiles(site, sites.RuntimeDocker)
	return components.NewInfraCompose(ctx, "infra", args)
}

// bundleFiles are the image bundle's tarballs for one runtime (none without a bundle).
func bundleFiles(site *sites.Site, runtime string) []components.BundleImage {
	var out []components.BundleImage
	if m := site.ImageBundle; m != nil {
		dir := site.Config.Cluster.K3s.ImageBundle
		for _, im := range m.Images {
			if im.Runtime == runtime {
				out = append(out, components.BundleImage{Path: filepath.Join(dir, filepath.FromSlash(im.File)), SHA256: im.SHA256})
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
		ns, err := components.NewNamespace(ctx, infraNS, k8s)
		if err != nil {
			return nil, fmt.Errorf("infra namespace: %w", err)
		}
		deps = append(deps, ns)
	}
	// The site's one table of infra endpoints (sites.Site.HostServices) says which Services
	// point at the host; with the compose project, the host is its host.
	args := components.HostServicesArgs{Namespace: infraNS, Address: site.Config.Infra.HostAddress}
	args.Services = site.HostServices
	if infra != nil {
		args.Address = infra.Address
		deps = append(deps, infra)
	}
	return components.NewHostServices(ctx, "host-infra", args, k8s, pulumi.DependsOn(deps))
}

// infraLayer runs the compose project (with site.infra.compose) after every host's
// preflight, and the in-cluster Services that reach the infra; it returns what the apps
// wait for.
func infraLayer(ctx *pulumi.Context, site *sites.Site, sec secretValues, preflights []pulumi.Resource, k8s pulumi.ResourceOption) ([]pulumi.Resource, error) {
	var infra *components.InfraCompose
	if site.Config.Infra.Compose != nil {
		var err error
		if infra, err = infraCompose(ctx, site, sec, preflights); err != nil {
			return nil, err
		}
		ctx.Export("infra", infra.Services)
	}
	if len(site.HostServices) == 0 {
		return nil, nil
	}
	hs, err := hostServices(ctx, site, infra, k8s)
	if err != nil {
		return nil, err
	}
	return []pulumi.Resource{hs}, nil
}
