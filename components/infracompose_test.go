package components

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components/compose"
	"xgen-infra/internal/inprocess"
)

const (
	testAdminPassword = "PG-ADMIN-SECRET"
	testAppPassword   = "PG-APP-SECRET"
	testRedisPassword = "REDIS-SECRET"
	testMinIOSecret   = "MINIO-SECRET-KEY"
)

func secretString(s string) pulumi.StringOutput {
	return pulumi.ToSecret(pulumi.String(s)).(pulumi.StringOutput)
}

func infraArgs(redisPassword string) InfraComposeArgs {
	return InfraComposeArgs{
		Host: ComposeHost{Name: "s1", Address: "10.0.0.11", HostKey: testKey},
		SSH: SSHAccess{User: "xgen", Port: 22, PrivateKey: secretString(testPrivateKey),
			PrivateKeyFingerprint: PublicKeyFingerprint(testPrivateKey)},
		Spec: compose.Spec{DataDir: "/srv/xgen-infra", BindAddress: "10.0.0.11",
			Postgres: &compose.Postgres{Image: "postgres:15.4", MemoryLimit: "2g", Port: 5432, Database: "plateerag", User: "xgen"},
			Redis:    &compose.Redis{Image: "redis:8.0-alpine", MemoryLimit: "3g", Port: 6379, MaxMemory: "2gb", MaxMemoryPolicy: "allkeys-lru"},
			Qdrant:   &compose.Qdrant{Image: "qdrant/qdrant:v1.13.4", MemoryLimit: "2g", HTTPPort: 6333, GRPCPort: 6334},
			MinIO: &compose.MinIO{Image: "minio/minio:RELEASE.2025-04-22T22-12-26Z", InitImage: "minio/mc:RELEASE.2025-04-16T18-13-26Z",
				MemoryLimit: "2g", Port: 9000, ConsolePort: 9001, Buckets: []string{"documents", "files"}}},
		SecretEnv: map[string]pulumi.StringInput{
			"XGEN_POSTGRES_ADMIN_PASSWORD": secretString(testAdminPassword), "XGEN_DB_PASSWORD": secretString(testAppPassword),
			"XGEN_REDIS_PASSWORD": secretString(redisPassword), compose.MinIORootUserEnv: secretString("minio"),
			compose.MinIORootPasswordEnv: secretString(testMinIOSecret)},
		Backup: &compose.Backup{Time: "03:00", RetentionDays: 7, Dir: "/srv/xgen-infra/backups"},
	}
}

func runInfra(t *testing.T, args InfraComposeArgs) *inprocess.Recorder {
	t.Helper()
	rec, err := inprocess.Run(func(ctx *pulumi.Context) error {
		_, err := NewInfraCompose(ctx, "infra", args)
		return err
	}, "test", "test", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestInfraComposeOrder: preflight → project → files → up → backup, every command parented
// to the component.
func TestInfraComposeOrder(t *testing.T) {
	rec := runInfra(t, infraArgs(testRedisPassword))
	cmds := commands(rec)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"infra-backup", "infra-env", "infra-file-10-xgen-app", "infra-file-compose", "infra-file-redis-entrypoint", "infra-preflight", "infra-project", "infra-up"}
	if !slices.Equal(names, want) {
		t.Fatalf("commands %v, want %v", names, want)
	}
	comp, _ := rec.Find("xgen:index:InfraCompose", "infra")
	dependsOn := func(name string, on ...string) {
		t.Helper()
		for _, o := range on {
			if !slices.Contains(cmds[name].DependsOn, cmds[o].URN) {
				t.Errorf("%s does not depend on %s", name, o)
			}
		}
	}
	dependsOn("infra-project", "infra-preflight")
	dependsOn("infra-env", "infra-project")
	dependsOn("infra-file-compose", "infra-project")
	dependsOn("infra-up", "infra-env", "infra-file-compose", "infra-file-10-xgen-app", "infra-file-redis-entrypoint")
	dependsOn("infra-backup", "infra-up")
	for name, r := range cmds {
		if r.Parent != comp.URN {
			t.Errorf("%s is not parented to the component", name)
		}
	}
}

// TestOnlyProjectAndBackupDelete: the project carries the only destructive delete; it and
// the backup are replaced (their old delete runs) only when the place changes: their only
// trigger is the placement (host address and data directory).
func TestOnlyProjectAndBackupDelete(t *testing.T) {
	for name, r := range commands(runInfra(t, infraArgs(testRedisPassword))) {
		plain, _ := r.PlainInputs()
		_, hasDelete := plain["delete"]
		switch name {
		case "infra-project", "infra-backup":
			if triggers := fmt.Sprint(plain["triggers"]); !hasDelete || triggers != "[10.0.0.11:/srv/xgen-infra]" {
				t.Errorf("%s: delete %v, triggers %v", name, hasDelete, triggers)
			}
		default:
			if hasDelete {
				t.Errorf("%s has a delete script", name)
			}
		}
	}
	keep := runInfra(t, infraArgs(testRedisPassword))
	del, _ := commands(keep)["infra-project"].PlainInputs()
	if !strings.Contains(del["delete"].(string), "REMOVE_DATA='false'") {
		t.Error("destroy removes data by default")
	}
	a := infraArgs(testRedisPassword)
	a.RemoveDataOnDestroy = true
	del, _ = commands(runInfra(t, a))["infra-project"].PlainInputs()
	if !strings.Contains(del["delete"].(string), "REMOVE_DATA='true'") {
		t.Error("removeDataOnDestroy is not passed on")
	}
}

// TestInfraSecretsOnlyInEnvStdin: every secret reaches the host only as the .env's standard
// input, as a Pulumi secret; no command line, no other file carries it.
func TestInfraSecretsOnlyInEnvStdin(t *testing.T) {
	rec := runInfra(t, infraArgs(testRedisPassword))
	keyLine := strings.Split(testPrivateKey, "\n")[1]
	seen := map[string]bool{}
	for name, r := range commands(rec) {
		plain, secretPaths := r.PlainInputs()
		walk(plain, "", func(path, s string) {
			for _, secret := range []string{testAdminPassword, testAppPassword, testRedisPassword, testMinIOSecret, keyLine} {
				if !strings.Contains(s, secret) {
					continue
				}
				seen[secret] = true
				if !underSecretPath(path, secretPaths) {
					t.Errorf("%s: %s holds a secret outside a Pulumi secret", name, path)
				}
				if secret != keyLine && (name != "infra-env" || path != "stdin") {
					t.Errorf("%s: %s holds a service secret (only the .env's stdin may)", name, path)
				}
			}
		})
	}
	if len(seen) != 5 {
		t.Errorf("not every secret reached the host: %v", seen)
	}
}

// TestInfraInputsAreDeterministic: a second `pulumi up` runs nothing.
func TestInfraInputsAreDeterministic(t *testing.T) {
	first, second := commands(runInfra(t, infraArgs(testRedisPassword))), commands(runInfra(t, infraArgs(testRedisPassword)))
	for name, r := range first {
		a, _ := r.PlainInputs()
		b, _ := second[name].PlainInputs()
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: inputs differ between two runs of the same config", name)
		}
	}
}

// TestRedisPasswordChangeReruns: a new password changes the .env, the preflight and up
// triggers, and nothing else (the data is untouched: no project replacement).
func TestRedisPasswordChangeReruns(t *testing.T) {
	before, after := commands(runInfra(t, infraArgs(testRedisPassword))), commands(runInfra(t, infraArgs("ROTATED-REDIS")))
	var changed []string
	for name, r := range before {
		a, _ := r.PlainInputs()
		b, _ := after[name].PlainInputs()
		if !reflect.DeepEqual(a, b) {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	if !slices.Equal(changed, []string{"infra-env", "infra-preflight", "infra-up"}) {
		t.Errorf("a Redis password change touches %v", changed)
	}
}

func TestInfraComposeEndpoints(t *testing.T) {
	var c *InfraCompose
	if _, err := inprocess.Run(func(ctx *pulumi.Context) error {
		var err error
		c, err = NewInfraCompose(ctx, "infra", infraArgs(testRedisPassword))
		return err
	}, "test", "test", nil, nil); err != nil {
		t.Fatal(err)
	}
	if c.Address != "10.0.0.11" {
		t.Errorf("address %s", c.Address)
	}
	a := infraArgs(testRedisPassword)
	delete(a.SecretEnv, "XGEN_REDIS_PASSWORD")
	if _, err := inprocess.Run(func(ctx *pulumi.Context) error {
		_, err := NewInfraCompose(ctx, "infra", a)
		return err
	}, "test", "test", nil, nil); err == nil || !strings.Contains(err.Error(), "SecretEnv.XGEN_REDIS_PASSWORD is required") {
		t.Errorf("a missing secret: %v", err)
	}
}

// TestBundleUploadsRunInLanes: a bundle of many images goes to its host at most
// uploadLanes at a time (each upload is an SSH connection of its own): upload i waits for
// upload i-uploadLanes, and the first ones for the host's check alone.
func TestBundleUploadsRunInLanes(t *testing.T) {
	args := infraArgs(testRedisPassword)
	for i := range 9 {
		args.Images = append(args.Images, BundleImage{Path: fmt.Sprintf("/bundle/docker/image-%d.tar", i), SHA256: strings.Repeat("c", 64)})
	}
	rec := runInfra(t, args)
	urnOf := map[string]string{}
	var uploads []inprocess.Resource
	for _, r := range rec.Resources {
		urnOf[r.Name] = r.URN
		if r.Type == "command:remote:CopyToRemote" {
			uploads = append(uploads, r)
		}
	}
	if len(uploads) != 9 {
		t.Fatalf("%d uploads, want 9", len(uploads))
	}
	// In the bundle's order (the recorder sees registrations as they arrive).
	slices.SortFunc(uploads, func(a, b inprocess.Resource) int { return strings.Compare(a.Name, b.Name) })
	for i, u := range uploads {
		var waitsFor []string
		for _, d := range u.DependsOn {
			for name, urn := range urnOf {
				if urn == d && strings.HasPrefix(name, "infra-image-") {
					waitsFor = append(waitsFor, name)
				}
			}
		}
		var want []string
		if i >= uploadLanes {
			want = []string{uploads[i-uploadLanes].Name}
		}
		if !slices.Equal(waitsFor, want) {
			t.Errorf("%s waits for uploads %v, want %v", u.Name, waitsFor, want)
		}
	}
}

// TestUploadsNeedTheirFilesOnlyAtUp: at `pulumi up` an upload sends its file; in a preview a
// stand-in whose change is ignored (the file's digest in the remote path shows a change), so
// a preview needs no file and is the same on every machine.
func TestUploadsNeedTheirFilesOnlyAtUp(t *testing.T) {
	args := infraArgs(testRedisPassword)
	sha := strings.Repeat("c", 64)
	args.Images = []BundleImage{{Path: "/bundle/docker/postgres.tar", SHA256: sha}}
	for _, tc := range []struct {
		name   string
		opts   []inprocess.Option
		path   string
		ignore []string
	}{
		{"preview", nil, "", []string{"source"}},
		{"up", []inprocess.Option{inprocess.AsUpdate()}, "/bundle/docker/postgres.tar", nil},
	} {
		rec, err := inprocess.Run(func(ctx *pulumi.Context) error {
			_, err := NewInfraCompose(ctx, "infra", args)
			return err
		}, "test", "test", nil, nil, tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, r := range rec.Resources {
			if r.Type != "command:remote:CopyToRemote" {
				continue
			}
			found = true
			plain, _ := r.PlainInputs()
			source, _ := plain["source"].(map[string]any)
			remote, _ := plain["remotePath"].(string)
			if source["path"] != tc.path || !slices.Equal(r.IgnoreChanges, tc.ignore) || !strings.Contains(remote, sha[:12]) {
				t.Errorf("%s: source %v, ignoreChanges %v, remote path %s", tc.name, source, r.IgnoreChanges, remote)
			}
		}
		if !found {
			t.Errorf("%s: no upload", tc.name)
		}
	}
}
