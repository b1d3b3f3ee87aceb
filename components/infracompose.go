package components

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components/compose"
	"xgen-infra/components/hostscript"
)

// InfraComposeArgs runs the stateful services as a Docker Compose project on one host.
type InfraComposeArgs struct {
	// Host runs Docker: Name (for logs), Address and pinned HostKey. Required.
	Host ComposeHost
	// SSH is how the host is reached (user with passwordless sudo). Required.
	SSH SSHAccess
	// Spec is the project: data directory, bind address, services. Required.
	Spec compose.Spec
	// SecretEnv are the services' secrets by .env variable (Pulumi secrets; the stack maps
	// sites.SecretKeys' ComposeEnv): they reach the host only in the .env file, written 0600
	// through standard input. Each variable the project reads (Spec.SecretEnv) is required;
	// others are not written.
	SecretEnv map[string]pulumi.StringInput
	// WaitTimeoutSeconds bounds `docker compose up --wait`. Default 300.
	WaitTimeoutSeconds int
	// MinDiskMB is the free space preflight wants for DataDir. Default 5120.
	MinDiskMB int
	// RemoveDataOnDestroy lets destroy remove the volumes and DataDir. Default false.
	RemoveDataOnDestroy bool
	// AllowMove lets the project move to another host or DataDir. The data does not move
	// with it: without AllowMove such a change is refused before anything on a host
	// changes. The old place's project is stopped (data kept) once the new one is up.
	// Default false.
	AllowMove bool
	// Backup, when set, installs the nightly backup job and timer.
	Backup *compose.Backup
	// Images are image tarballs (docker-archive) the host loads before the project starts:
	// a closed network's compose images. Each is uploaded once (again only when its digest
	// changes). Default none.
	Images []BundleImage
	// After are checks of other hosts (the cluster's preflights, K3sCluster.Preflights)
	// that must pass before the project changes, so that one bad host stops the site
	// before any change on any host. Default none.
	After []pulumi.Resource
}

// ComposeHost is the host that runs the project.
type ComposeHost struct {
	Name, Address, HostKey string
}

// InfraCompose is the project on its host.
type InfraCompose struct {
	pulumi.ResourceState

	// Services: per compose service its address, port(s) and image.
	Services pulumi.MapOutput `pulumi:"services"`

	// Address is where the cluster reaches the services (the host's address), known before
	// anything runs, so that the selector-less Services are planned in a first preview.
	// Which Services the project backs is the site's to say (sites.Site.HostServices: one
	// table of infra endpoints).
	Address string
}

// Default values of InfraComposeArgs.
const (
	DefaultComposeWaitSeconds = int(compose.DefaultWaitTimeout / time.Second)
	DefaultComposeMinDiskMB   = 5120
)

// NewInfraCompose registers: preflight (again before every change of the project) →
// project (directories and generation marker; carries the only destructive delete: compose
// down, volumes and data kept unless RemoveDataOnDestroy) → the files (compose.yaml, the
// init scripts, .env 0600 from standard input) → up (re-run when the files or the secrets
// change) → the optional backup job. A converged project runs nothing.
func NewInfraCompose(ctx *pulumi.Context, name string, args InfraComposeArgs, opts ...pulumi.ResourceOption) (*InfraCompose, error) {
	if err := args.check(); err != nil {
		return nil, fmt.Errorf("infra compose %s: %w", name, err)
	}
	if args.WaitTimeoutSeconds == 0 {
		args.WaitTimeoutSeconds = DefaultComposeWaitSeconds
	}
	if args.MinDiskMB == 0 {
		args.MinDiskMB = DefaultComposeMinDiskMB
	}
	if args.SSH.ConnectTimeoutSeconds == 0 {
		args.SSH.ConnectTimeoutSeconds = DefaultConnectTimeout
	}
	c := &InfraCompose{Address: args.Host.Address}
	if err := ctx.RegisterComponentResource("xgen:index:InfraCompose", name, c, opts...); err != nil {
		return nil, err
	}
	if err := c.build(ctx, args); err != nil {
		return nil, fmt.Errorf("infra compose %s: %w", name, err)
	}
	c.Services = composeServicesOutput(args).ToMapOutput()
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"services": c.Services})
}

func (a *InfraComposeArgs) check() error {
	var errs []error
	add := func(msg string) { errs = append(errs, errors.New(msg)) }
	if a.Host.Address == "" || a.Host.HostKey == "" {
		add("Host.Address and Host.HostKey are required")
	}
	if a.SSH.User == "" || a.SSH.Port == 0 || a.SSH.PrivateKey == nil {
		add("SSH.User, SSH.Port and SSH.PrivateKey are required")
	}
	for _, name := range a.Spec.SecretEnv() {
		if a.SecretEnv[name] == nil {
			add("SecretEnv." + name + " is required (the project's .env reads it)")
		}
	}
	if err := a.Spec.Check(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *InfraCompose) build(ctx *pulumi.Context, a InfraComposeArgs) error {
	spec, host := a.Spec, a.Host.Name
	conn := sshConnection(a.SSH, a.Host.Address, a.Host.HostKey)
	command := func(name string, args remote.CommandArgs, deps ...pulumi.Resource) (*remote.Command, error) {
		return hostCommand(ctx, c, name, conn, args, pulumi.DependsOn(deps))
	}
	files, err := spec.Files()
	if err != nil {
		return err
	}
	envNames := spec.SecretEnv()
	envValues := make([]any, len(envNames))
	for i, n := range envNames {
		envValues[i] = a.SecretEnv[n]
	}
	env := pulumi.ToSecret(pulumi.All(envValues...).ApplyT(func(v []any) (string, error) {
		values := map[string]string{}
		for i, n := range envNames {
			values[n] = v[i].(string)
		}
		return spec.Env(values)
	})).(pulumi.StringOutput)
	// What a change of the project is: its files, and (as a secret) its .env.
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, n, files[n])
	}
	filesDigest := digest(parts...)
	envDigest := pulumi.ToSecret(env.ApplyT(func(e string) string { return digest(e) })).(pulumi.StringOutput)
	triggers := pulumi.Array{pulumi.String(filesDigest), envDigest}

	// Where the project lives; a change replaces the project (the new place's first, then
	// the old place stops), and is refused without AllowMove.
	place := pulumi.Array{pulumi.String(a.Host.Address + ":" + spec.DataDir)}
	placement, err := local.NewCommand(ctx, "infra-placement", &local.CommandArgs{
		Create: pulumi.String(spec.Placement(host, a.Host.Address, a.AllowMove, a.RemoveDataOnDestroy)),
	}, pulumi.Parent(c))
	if err != nil {
		return err
	}
	preflight, err := command("infra-preflight", remote.CommandArgs{
		Create:   pulumi.String(spec.Preflight(host, a.MinDiskMB, a.Backup != nil)),
		Triggers: triggers,
	}, placement)
	if err != nil {
		return err
	}
	gen := c.generation(a, "project")
	project, err := command("infra-project", remote.CommandArgs{
		Create:   pulumi.String(spec.CreateProject(host, gen)),
		Delete:   pulumi.String(spec.DeleteProject(host, gen, a.RemoveDataOnDestroy)),
		Triggers: place,
	}, append([]pulumi.Resource{preflight}, a.After...)...)
	if err != nil {
		return err
	}
	written := []pulumi.Resource{}
	for _, n := range names {
		// Named by the file (compose.yaml → infra-file-compose), so that adding a service's
		// file does not rename the others.
		w, err := command("infra-file-"+strings.TrimSuffix(path.Base(n), path.Ext(n)), remote.CommandArgs{
			Create: pulumi.String(spec.WriteFile(host, n, compose.FileMode(n))),
			Stdin:  pulumi.String(files[n]),
		}, project)
		if err != nil {
			return err
		}
		written = append(written, w)
	}
	envFile, err := command("infra-env", remote.CommandArgs{
		Create: pulumi.String(spec.WriteFile(host, compose.EnvFile, "0600")),
		Stdin:  env,
	}, project)
	if err != nil {
		return err
	}
	upDeps := append(written, envFile)
	if len(a.Images) > 0 {
		loaded, err := c.loadImages(ctx, a, conn, project)
		if err != nil {
			return err
		}
		upDeps = append(upDeps, loaded)
	}
	up, err := command("infra-up", remote.CommandArgs{
		Create:   pulumi.String(spec.Up(host, a.WaitTimeoutSeconds)),
		Triggers: triggers,
	}, upDeps...)
	if err != nil {
		return err
	}
	if b := a.Backup; b != nil {
		bgen := c.generation(a, "backup")
		if _, err := command("infra-backup", remote.CommandArgs{
			Create:   pulumi.String(spec.InstallBackup(host, *b, bgen)),
			Delete:   pulumi.String(spec.DeleteBackup(host, bgen)),
			Stdin:    pulumi.String(spec.BackupJob(host, *b)),
			Triggers: place,
		}, up); err != nil {
			return err
		}
	}
	return nil
}

// loadImages uploads the bundle's compose images (each to a path named by its digest) and
// has docker load what this host has not loaded yet.
func (c *InfraCompose) loadImages(ctx *pulumi.Context, a InfraComposeArgs, conn remote.ConnectionArgs, project pulumi.Resource) (pulumi.Resource, error) {
	uploads, images, err := uploadBundle(ctx, c, conn, "infra-image-", a.Images, path.Base, compose.StagingPrefix, project)
	if err != nil {
		return nil, err
	}
	deps := append([]pulumi.Resource{project}, uploads...)
	return hostCommand(ctx, c, "infra-images", conn, remote.CommandArgs{
		Create: pulumi.String(a.Spec.LoadImages(a.Host.Name, images)),
	}, pulumi.DependsOn(deps))
}

// generation identifies what a delete script belongs to (see hostscript.Generation): the
// connection (key by fingerprint), the project and its data directory, the data choice.
func (c *InfraCompose) generation(a InfraComposeArgs, what string) string {
	s := a.SSH
	return hostscript.Generation(what, a.Host.Address, strconv.Itoa(s.Port), s.User, a.Host.HostKey, s.PrivateKeyFingerprint,
		a.Spec.ProjectName(), a.Spec.DataDir, strconv.FormatBool(a.RemoveDataOnDestroy))
}

func composeServicesOutput(a InfraComposeArgs) pulumi.Map {
	s, addr := a.Spec, pulumi.String(a.Host.Address)
	out := pulumi.Map{}
	if p := s.Postgres; p != nil {
		out["postgres"] = pulumi.Map{"address": addr, "port": pulumi.Int(p.Port), "image": pulumi.String(p.Image)}
	}
	if r := s.Redis; r != nil {
		out["redis"] = pulumi.Map{"address": addr, "port": pulumi.Int(r.Port), "image": pulumi.String(r.Image)}
	}
	if q := s.Qdrant; q != nil {
		out["qdrant"] = pulumi.Map{"address": addr, "port": pulumi.Int(q.HTTPPort), "grpcPort": pulumi.Int(q.GRPCPort), "image": pulumi.String(q.Image)}
	}
	if m := s.MinIO; m != nil {
		out["minio"] = pulumi.Map{"address": addr, "port": pulumi.Int(m.Port), "consolePort": pulumi.Int(m.ConsolePort), "image": pulumi.String(m.Image)}
	}
	return out
}
