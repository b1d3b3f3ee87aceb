package compose

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"xgen-infra/components/hostscript"
	"xgen-infra/internal/testkit/debian"
	"xgen-infra/internal/testkit/shellcheck"
)

// siteSpec is a project like an on-prem site's (every service).
func siteSpec(dataDir string) Spec {
	return Spec{DataDir: dataDir, BindAddress: "10.0.0.11",
		Postgres: &Postgres{Image: "postgres:15.4", MemoryLimit: "2g", Port: 5432, Database: "plateerag", User: "xgen"},
		Redis:    &Redis{Image: "redis:8.0-alpine", MemoryLimit: "3g", Port: 6379, MaxMemory: "2gb", MaxMemoryPolicy: "allkeys-lru"},
		Qdrant:   &Qdrant{Image: "qdrant/qdrant:v1.13.4", MemoryLimit: "2g", HTTPPort: 6333, GRPCPort: 6334},
		MinIO: &MinIO{Image: "minio/minio:RELEASE.2025-04-22T22-12-26Z", InitImage: "minio/mc:RELEASE.2025-04-16T18-13-26Z",
			MemoryLimit: "2g", Port: 9000, ConsolePort: 9001, Buckets: []string{"files", "documents", "files"}},
		Exporters: &Exporters{PostgresImage: "quay.io/prometheuscommunity/postgres-exporter:v0.17.1", RedisImage: "docker.io/oliver006/redis_exporter:v1.74.0"}}
}

// Secrets with every character a .env, a URL or a shell could trip on.
var trickySecrets = map[string]string{
	"XGEN_POSTGRES_ADMIN_PASSWORD": `adm"in$HOME\n'#x`,
	"XGEN_DB_PASSWORD":             `app pw with spaces $(id) 'q' "dq" \ back`,
	"XGEN_REDIS_PASSWORD":          "redis#pw\"with\\quotes$and\nnewline",
	MinIORootUserEnv:               "minio-user",
	MinIORootPasswordEnv:           "s3cr@t/with:colon?and#hash",
}

// writeProject writes the project's files and .env the way the host gets them.
func writeProject(t *testing.T, s Spec, sec map[string]string) string {
	t.Helper()
	files, err := s.Files()
	if err != nil {
		t.Fatal(err)
	}
	if files[EnvFile], err = s.Env(sec); err != nil {
		t.Fatal(err)
	}
	for rel, content := range files {
		p := filepath.Join(s.DataDir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(s.DataDir, ComposeFile)
}

func load(t *testing.T, dir string, withEnv bool) (*types.Project, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, ComposeFile))
	if err != nil {
		t.Fatal(err)
	}
	env := types.Mapping{}
	if withEnv {
		if env, err = dotenv.GetEnvFromFile(map[string]string{}, []string{filepath.Join(dir, EnvFile)}); err != nil {
			t.Fatal(err)
		}
	}
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{WorkingDir: dir, Environment: env,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, ComposeFile), Content: data}}},
		func(o *loader.Options) { o.SetProjectName(DefaultProject, true); o.Profiles = []string{"init"} })
}

// TestProjectLoadsWithComposeGo: compose-go's loader (schema, interpolation with the .env)
// accepts the file, and what Compose would run is what we meant.
func TestProjectLoadsWithComposeGo(t *testing.T) {
	dir := t.TempDir()
	s := siteSpec(dir)
	writeProject(t, s, trickySecrets)
	p, err := load(t, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.ServiceNames(); !slices.Equal(sorted(got), []string{"minio", "minio-init", "postgres", "postgres-exporter", "qdrant", "redis", "redis-exporter"}) {
		t.Fatalf("services %v", got)
	}
	for _, name := range s.Services() {
		svc := p.Services[name]
		if svc.HealthCheck == nil || len(svc.HealthCheck.Test) == 0 || svc.Restart != "unless-stopped" || svc.MemLimit == 0 {
			t.Errorf("%s: healthcheck %v restart %q mem %d", name, svc.HealthCheck, svc.Restart, svc.MemLimit)
		}
		for _, port := range svc.Ports {
			if port.HostIP != "10.0.0.11" {
				t.Errorf("%s publishes %s on %q, want the bind address only", name, port.Published, port.HostIP)
			}
		}
		for _, v := range svc.Volumes {
			if v.Type == "volume" && p.Volumes[v.Source].DriverOpts["device"] != filepath.Join(dir, VolumesDir, v.Source) {
				t.Errorf("%s: volume %s is not bound under the data directory: %v", name, v.Source, p.Volumes[v.Source].DriverOpts)
			}
		}
	}
	env := func(svc, key string) string {
		v := p.Services[svc].Environment[key]
		if v == nil {
			t.Fatalf("%s has no %s", svc, key)
		}
		return *v
	}
	// The secrets arrive exactly, after the .env's quoting and Compose's interpolation.
	for _, c := range []struct{ svc, key, want string }{
		{"postgres", "POSTGRES_PASSWORD", trickySecrets["XGEN_POSTGRES_ADMIN_PASSWORD"]},
		{"postgres", "XGEN_DB_PASSWORD", trickySecrets["XGEN_DB_PASSWORD"]},
		{"postgres", "XGEN_DB", "plateerag"},
		{"redis", "REDISCLI_AUTH", trickySecrets["XGEN_REDIS_PASSWORD"]},
		{"minio", "MINIO_ROOT_PASSWORD", trickySecrets[MinIORootPasswordEnv]},
		{"minio-init", "MC_HOST_local", "http://minio-user:s3cr%40t%2Fwith%3Acolon%3Fand%23hash@minio:9000"},
		{"postgres-exporter", "DATA_SOURCE_PASS", trickySecrets["XGEN_POSTGRES_ADMIN_PASSWORD"]},
		{"postgres-exporter", "DATA_SOURCE_URI", "postgres:5432/postgres?sslmode=disable"},
		{"redis-exporter", "REDIS_PASSWORD", trickySecrets["XGEN_REDIS_PASSWORD"]},
		{"redis-exporter", "REDIS_ADDR", "redis://redis:6379"},
	} {
		if got := env(c.svc, c.key); got != c.want {
			t.Errorf("%s %s = %q, want %q", c.svc, c.key, got, c.want)
		}
	}
	// The exporters: after their server is healthy, on the bind address, as nobody with
	// nothing writable and no capability; every service's log lines name it.
	for name, port := range map[string]string{"postgres-exporter": "9187", "redis-exporter": "9121"} {
		svc := p.Services[name]
		server := strings.TrimSuffix(name, "-exporter")
		if svc.User != "65534:65534" || !svc.ReadOnly || !slices.Equal(svc.CapDrop, []string{"ALL"}) ||
			!slices.Contains(svc.SecurityOpt, "no-new-privileges:true") || svc.Restart != "unless-stopped" {
			t.Errorf("%s is not hardened: user %q read-only %v cap_drop %v security_opt %v", name, svc.User, svc.ReadOnly, svc.CapDrop, svc.SecurityOpt)
		}
		if len(svc.Ports) != 1 || svc.Ports[0].Published != port || svc.Ports[0].HostIP != "10.0.0.11" {
			t.Errorf("%s ports %v, want %s on the bind address", name, svc.Ports, port)
		}
		if dep, ok := svc.DependsOn[server]; !ok || dep.Condition != types.ServiceConditionHealthy {
			t.Errorf("%s depends on %v, want %s healthy", name, svc.DependsOn, server)
		}
	}
	for name, svc := range p.Services {
		if name != "minio-init" && (svc.Logging == nil || svc.Logging.Options["labels"] != LogLabelProject+","+LogLabelService) {
			t.Errorf("%s logs without its project and service labels: %v", name, svc.Logging)
		}
	}
	if cmd := p.Services["minio-init"].Command; !slices.Equal(cmd, types.ShellCommand{"mb", "--ignore-existing", "local/documents", "local/files"}) {
		t.Errorf("buckets command %v", cmd)
	}
	// No secret is in the compose file, nor in any command or entrypoint.
	y, _ := os.ReadFile(filepath.Join(dir, ComposeFile))
	for _, secret := range []string{trickySecrets["XGEN_DB_PASSWORD"], trickySecrets["XGEN_REDIS_PASSWORD"], trickySecrets[MinIORootPasswordEnv], "s3cr"} {
		if strings.Contains(string(y), secret) {
			t.Errorf("compose.yaml holds a secret")
		}
	}
	// Without the .env Compose refuses to start: a required variable is unset.
	if _, err := load(t, dir, false); err == nil || !strings.Contains(err.Error(), "is set in .env") {
		t.Errorf("loading without .env: %v", err)
	}
}

// TestEnvRoundTrip: every value comes back exactly through Compose's .env reader.
func TestEnvRoundTrip(t *testing.T) {
	for _, v := range []string{"plain", `a"b`, `back\slash`, "dollar$VAR", "${X}", "hash # x", "new\nline", "tab\tx", "'single'", ""} {
		got, err := dotenv.Parse(strings.NewReader("K=" + QuoteEnv(v) + "\n"))
		if err != nil || got["K"] != v {
			t.Errorf("%q came back as %q (%v)", v, got["K"], err)
		}
	}
}

// TestDockerCompose129Validates: Debian's docker-compose (v1.29, offline `config -q`)
// accepts the file with its .env and refuses a misspelt key.
func TestDockerCompose129Validates(t *testing.T) {
	if err := debian.Ensure(map[string]string{"/usr/bin/docker-compose": "docker-compose"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := writeProject(t, siteSpec(dir), trickySecrets)
	run := func() (string, error) {
		out, err := exec.Command("docker-compose", "-p", DefaultProject, "--env-file", filepath.Join(dir, EnvFile), "-f", file, "config", "-q").CombinedOutput()
		return string(out), err
	}
	if out, err := run(); err != nil {
		t.Fatalf("docker-compose config -q: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(file)
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), "healthcheck:", "healthchek:", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(); err == nil || !strings.Contains(out, "healthchek") {
		t.Errorf("a misspelt key was accepted: %v\n%s", err, out)
	}
}

// TestProjectWithoutSomeServices: an external database leaves postgres (and its init
// script, secrets and exporter) out.
func TestProjectWithoutSomeServices(t *testing.T) {
	s := siteSpec("/srv/x")
	s.Postgres, s.MinIO = nil, nil
	files, err := s.Files()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files[InitDBFile]; ok {
		t.Error("init script without postgres")
	}
	if env, err := s.Env(trickySecrets); err != nil || strings.Contains(env, "XGEN_DB_PASSWORD") || strings.Contains(env, "MINIO") {
		t.Errorf(".env carries secrets of services that do not run:\n%s", env)
	}
	if !strings.Contains(files[ComposeFile], "redis:") || !strings.Contains(files[ComposeFile], "redis-exporter:") || strings.Contains(files[ComposeFile], "postgres") {
		t.Errorf("compose file:\n%s", files[ComposeFile])
	}
	if got := s.Ports(); !slices.Equal(got, []int{6333, 6334, 6379, RedisExporterPort}) {
		t.Errorf("ports %v", got)
	}
}

func TestCommandHeadersAreExact(t *testing.T) {
	s := siteSpec("/srv/xgen-infra")
	got := s.Up("h1", 300)
	want := "set -eu\nHOST='h1'\nLOG_TAG='xgen-infra'\nPROJECT='xgen-infra'\nDATA_DIR='/srv/xgen-infra'\nWAIT_TIMEOUT='300'\nINIT_DB='true'\nINIT_BUCKETS='true'\n# lib.sh:"
	if !strings.HasPrefix(got, want) {
		t.Errorf("up starts:\n%s\nwant:\n%s", got[:len(want)], want)
	}
	got = s.Preflight("h1", 5120, true)
	want = "set -eu\nHOST='h1'\nLOG_TAG='xgen-infra'\nPROJECT='xgen-infra'\nDATA_DIR='/srv/xgen-infra'\nPORTS='5432 6333 6334 6379 9000 9001 9121 9187'\nMIN_DISK_MB='5120'\nNEED_BACKUP='true'\n"
	if !strings.HasPrefix(got, want) {
		t.Errorf("preflight starts:\n%s", got[:len(want)])
	}
	got = s.DeleteProject("h1", "g1", false)
	if !strings.Contains(got, "GEN='g1'\nREMOVE_DATA='false'\n") {
		t.Errorf("project delete parameters:\n%.300s", got)
	}
	if got := s.WriteFile("h1", EnvFile, "0600"); !strings.Contains(got, "TARGET='/srv/xgen-infra/.env'\nMODE='0600'\n") {
		t.Errorf("write-file parameters:\n%.200s", got)
	}
	sha := strings.Repeat("c", 64)
	got = s.LoadImages("h1", []hostscript.StagedFile{{Name: "redis_8.0-alpine.tar", SHA256: sha, Staged: StagedPath("redis_8.0-alpine.tar", sha)}})
	if !strings.Contains(got, "DATA_DIR='/srv/xgen-infra'\nIMAGES='"+sha+" redis_8.0-alpine.tar /var/tmp/xgen-infra-cccccccccccc-redis_8.0-alpine.tar'\n") {
		t.Errorf("load-images parameters:\n%.400s", got)
	}
	job := s.BackupJob("h1", Backup{Time: "03:00", RetentionDays: 7, Dir: "/srv/b"})
	if !strings.HasPrefix(job, "#!/bin/sh\n") || !strings.Contains(job, "DBS='plateerag'\nQDRANTS='qdrant=http://10.0.0.11:6333'\n") {
		t.Errorf("backup job:\n%.400s", job)
	}
	// An environment beside the site's own: its database and its Qdrant are backed up too.
	s.Environments = []Environment{{Name: "prd", Database: "plateerag_prd", User: "xgen_prd", RedisPort: 6380, QdrantHTTPPort: 6343, QdrantGRPCPort: 6344,
		DBPasswordEnv: "XGEN_DB_PASSWORD_PRD", RedisPasswordEnv: "XGEN_REDIS_PASSWORD_PRD"}}
	job = s.BackupJob("h1", Backup{Time: "03:00", RetentionDays: 7, Dir: "/srv/b"})
	if !strings.Contains(job, "DBS='plateerag plateerag_prd'\nQDRANTS='qdrant=http://10.0.0.11:6333 qdrant-prd=http://10.0.0.11:6343'\n") {
		t.Errorf("backup job with environment prd:\n%.400s", job)
	}
}

// TestScriptsPassShellcheck lints every command exactly as it is sent to a host, and the
// scripts that run inside the containers.
func TestScriptsPassShellcheck(t *testing.T) {
	s := siteSpec("/srv/xgen-infra")
	b := Backup{Time: "03:00", RetentionDays: 7, Dir: "/srv/xgen-infra/backups"}
	sha := strings.Repeat("c", 64)
	commands := map[string]string{
		"preflight":        s.Preflight("h", 5120, true),
		"placement":        s.Placement("h", "192.0.2.31", false, true),
		"project":          s.CreateProject("h", "g"),
		"project-delete":   s.DeleteProject("h", "g", true),
		"write-file":       s.WriteFile("h", ComposeFile, "0600"),
		"up":               s.Up("h", 300),
		"backup":           s.BackupJob("h", b),
		"backup-install":   s.InstallBackup("h", b, "g"),
		"backup-delete":    s.DeleteBackup("h", "g"),
		"status":           s.Status("h", b.Dir),
		"migrate-check":    s.MigrateCheck("h", "k3s-infra"),
		"load-images":      s.LoadImages("h", []hostscript.StagedFile{{Name: "postgres_15.4.tar", SHA256: sha, Staged: StagedPath("postgres_15.4.tar", sha)}}),
		"initdb":           initDBScript,
		"redis-entrypoint": redisEntrypoint,
	}
	for _, name := range ScriptNames() {
		if _, ok := commands[name]; !ok {
			t.Errorf("scripts/%s.sh has no builder in this test", name)
		}
	}
	for name, cmd := range commands {
		if err := shellcheck.Check(cmd); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func sorted(s []string) []string { out := slices.Clone(s); slices.Sort(out); return out }

// TestEnvNeedsEverySecretTheProjectReads: a .env without one of the secrets the compose file
// refers to is refused, naming it (Compose would refuse to start the project on the host).
func TestEnvNeedsEverySecretTheProjectReads(t *testing.T) {
	s := siteSpec("/srv/x")
	if got, want := s.SecretEnv(), []string{"XGEN_DB_PASSWORD", "XGEN_MINIO_ROOT_PASSWORD", "XGEN_MINIO_ROOT_USER", "XGEN_POSTGRES_ADMIN_PASSWORD", "XGEN_REDIS_PASSWORD"}; !slices.Equal(got, want) {
		t.Fatalf("SecretEnv %v, want %v", got, want)
	}
	for _, name := range s.SecretEnv() {
		values := maps.Clone(trickySecrets)
		delete(values, name)
		if _, err := s.Env(values); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: %v", name, err)
		}
	}
	s.Postgres, s.MinIO = nil, nil
	if got := s.SecretEnv(); !slices.Equal(got, []string{"XGEN_REDIS_PASSWORD"}) {
		t.Errorf("redis and qdrant only: SecretEnv %v", got)
	}
}

// An environment beside the site's own gets its own Redis and Qdrant (own ports, volumes and
// Redis password), its own database in the one PostgreSQL, and its passwords only in .env.
func TestEnvironmentBesideHasItsOwnData(t *testing.T) {
	s := siteSpec("/srv/xgen-infra")
	s.Environments = []Environment{{Name: "prd", Database: "plateerag_prd", User: "xgen_prd", RedisPort: 6380, QdrantHTTPPort: 6343, QdrantGRPCPort: 6344,
		DBPasswordEnv: "XGEN_DB_PASSWORD_PRD", RedisPasswordEnv: "XGEN_REDIS_PASSWORD_PRD"}}
	if got, want := strings.Join(s.Services(), " "), "minio postgres qdrant qdrant-prd redis redis-prd"; got != want {
		t.Errorf("services %q, want %q", got, want)
	}
	if got, want := strings.Join(s.Volumes(), " "), "minio postgres qdrant qdrant-snapshots qdrant-prd qdrant-prd-snapshots redis redis-prd"; got != want {
		t.Errorf("volumes %q, want %q", got, want)
	}
	if got, want := strings.Join(s.SecretEnv(), " "), "XGEN_DB_PASSWORD XGEN_DB_PASSWORD_PRD XGEN_MINIO_ROOT_PASSWORD XGEN_MINIO_ROOT_USER XGEN_POSTGRES_ADMIN_PASSWORD XGEN_REDIS_PASSWORD XGEN_REDIS_PASSWORD_PRD"; got != want {
		t.Errorf(".env variables %q, want %q", got, want)
	}
	p := s.Project()
	for name, want := range map[string]string{"redis-prd": "10.0.0.11:6380:6379", "qdrant-prd": "10.0.0.11:6343:6333"} {
		svc, ok := p.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		got := fmt.Sprintf("%s:%s:%d", svc.Ports[0].HostIP, svc.Ports[0].Published, svc.Ports[0].Target)
		if got != want {
			t.Errorf("%s publishes %s, want %s", name, got, want)
		}
	}
	if got := *p.Services["redis-prd"].Environment["REDISCLI_AUTH"]; !strings.Contains(got, "XGEN_REDIS_PASSWORD_PRD") {
		t.Errorf("redis-prd's password is %q, want its own", got)
	}
	pg := p.Services["postgres"].Environment
	if *pg["XGEN_ENVIRONMENTS"] != "prd" || *pg["XGEN_DB_PRD"] != "plateerag_prd" || *pg["XGEN_DB_USER_PRD"] != "xgen_prd" {
		t.Errorf("postgres environment: %v", pg)
	}
	y, err := s.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range trickySecrets {
		if strings.Contains(y, secret) {
			t.Errorf("a secret is in the compose file")
		}
	}
}

// The migrate check, run as a host runs it (docker answered by a script that lists the old
// project's volumes only for the filter that asks for them): the data directory's state and
// the old volumes.
func TestMigrateCheckReadsTheDataDirAndOldVolumes(t *testing.T) {
	bin := t.TempDir()
	fakeDocker := "#!/bin/sh\ncase \"$*\" in\n*'label=com.docker.compose.project=k3s-infra'*) printf 'k3s-infra_postgre-data\\nk3s-infra_redis-data\\n' ;;\nesac\n"
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(fakeDocker), 0o755); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, tc := range []struct {
		name    string
		prepare func(dir string)
		want    string
	}{
		{"absent", func(string) {}, "data_dir absent\n"},
		{"empty", func(dir string) { _ = os.Mkdir(dir, 0o755) }, "data_dir empty\n"},
		{"not empty", func(dir string) {
			_ = os.MkdirAll(filepath.Join(dir, "volumes"), 0o755)
			_ = os.WriteFile(filepath.Join(dir, "compose.yaml"), nil, 0o600)
		}, "data_dir entries 2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(root, tc.name)
			tc.prepare(dir)
			s := siteSpec(dir)
			cmd := exec.Command("sh", "-c", s.MigrateCheck("h", "k3s-infra"))
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if want := tc.want + "volume k3s-infra_postgre-data\nvolume k3s-infra_redis-data\n"; string(out) != want {
				t.Errorf("output %q, want %q", out, want)
			}
		})
	}
}

// An environment beside without the .env names of its passwords is refused: the program
// never guesses a secret's variable (sites.SecretKeys names it).
func TestEnvironmentNeedsItsPasswordVariables(t *testing.T) {
	s := siteSpec("/srv/xgen-infra")
	s.Environments = []Environment{{Name: "prd", Database: "plateerag_prd", User: "xgen_prd", RedisPort: 6380, QdrantHTTPPort: 6343, QdrantGRPCPort: 6344}}
	if err := s.Check(); err == nil || !strings.Contains(err.Error(), "DBPasswordEnv") {
		t.Errorf("check: %v", err)
	}
	s.Environments[0].DBPasswordEnv, s.Environments[0].RedisPasswordEnv = "XGEN_DB_PASSWORD_PRD", "XGEN_REDIS_PASSWORD_PRD"
	if err := s.Check(); err != nil {
		t.Errorf("check: %v", err)
	}
}
