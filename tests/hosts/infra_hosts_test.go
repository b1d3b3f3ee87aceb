package hosts

// InfraCompose over real SSH on a test host (layer 4): exactly the commands the component
// registers, run by testhosts.Engine with pulumi-command's semantics, against a real Docker
// engine on the test host (Debian's docker.io, the real compose plugin, the test images).

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/debian"
	"xgen-infra/internal/testkit/livetest"
	"xgen-infra/internal/testkit/testhosts"
	"xgen-infra/sites"
	"xgen-infra/stack"
)

// infraStack is xgen-jeju's site with its infra on one test host outside a cluster (the
// Kubernetes objects are only recorded), every secret a distinct value.
type infraStack struct {
	t       *testing.T
	hosts   *testhosts.Hosts
	compose map[string]any
	secrets map[string]string // config key -> value
}

func (s *infraStack) config() (map[string]string, []string) {
	s.t.Helper()
	config, secretKeys, err := inprocess.LoadStackFile("Pulumi.xgen-jeju.yaml")
	if err != nil {
		s.t.Fatal(err)
	}
	var site map[string]any
	if err := json.Unmarshal([]byte(config[sites.SiteKey]), &site); err != nil {
		s.t.Fatal(err)
	}
	delete(site, "cluster")
	infra := site["infra"].(map[string]any)
	services := infra["compose"].(map[string]any)["services"]
	cc := s.hosts.ComposeHost("infra-1", map[string]any{"services": services})
	for k, v := range s.compose {
		cc[k] = v
	}
	infra["compose"] = cc
	data, _ := json.Marshal(site)
	config[sites.SiteKey] = string(data)
	required, err := sites.RequiredSecrets(config)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, k := range required {
		key := sites.ConfigNamespace + ":" + k
		switch k {
		case "kubeconfig":
			config[key] = inprocess.KubeconfigWith("TOPSECRET-kubeconfig-token")
		case "sshPrivateKey":
			config[key] = s.hosts.PrivateKey
		default:
			if _, ok := s.secrets[key]; !ok {
				s.secrets[key] = "TOPSECRET-" + k + `-"q'$x\`
			}
			config[key] = s.secrets[key]
		}
		secretKeys = append(secretKeys, key)
	}
	return config, secretKeys
}

func (s *infraStack) up(ctx context.Context, eng *testhosts.Engine) (*testhosts.Result, error) {
	config, secretKeys := s.config()
	return eng.Up(ctx, stack.Program, sites.ConfigNamespace, "xgen-jeju", config, secretKeys)
}

func sortedOps(ops []testhosts.Op) []string {
	out := opNames(ops)
	slices.Sort(out)
	return out
}

func TestInfraComposeOverSSH(t *testing.T) {
	if err := debian.Ensure(map[string]string{"/usr/bin/curl": "curl"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	hosts := livetest.StartHosts(t, []testhosts.Spec{{Name: "infra-1", Docker: livetest.Docker(t)}})
	run := func(cmd string) string {
		t.Helper()
		out, err := hosts.Run(ctx, "infra-1", cmd)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	s := &infraStack{t: t, hosts: hosts, secrets: map[string]string{},
		compose: map[string]any{"backup": map[string]any{"dir": "/srv/backups", "retentionDays": 3}}}
	eng := testhosts.NewEngine()
	scan := func(ops []testhosts.Op) {
		t.Helper()
		composeFile := run("sudo -n cat /srv/xgen-infra/compose.yaml")
		processes := hosts.Processes("infra-1") // the host's and its containers'
		if len(processes) < 8 {
			t.Fatalf("only %d processes on the host: %v", len(processes), processes)
		}
		for key, secret := range s.secrets {
			for _, op := range ops {
				env, _ := json.Marshal(op.Env)
				for what, text := range map[string]string{"command": op.Command, "environment": string(env), "stdout": op.Stdout, "stderr": op.Stderr} {
					if strings.Contains(text, secret) {
						t.Errorf("%s %s: %s holds %s", op.Verb, op.Name, what, key)
					}
				}
				if strings.Contains(op.Stdin, secret) && op.Name != "infra-env" {
					t.Errorf("%s %s: stdin holds %s (only the .env's may)", op.Verb, op.Name, key)
				}
			}
			if strings.Contains(composeFile, secret) {
				t.Errorf("%s is in compose.yaml", key)
			}
			for pid, cmdline := range processes {
				if strings.Contains(cmdline, secret) {
					t.Errorf("%s is in the command line of process %d on the host: %s", key, pid, cmdline)
				}
			}
		}
	}

	// 1. A bare host to a running project.
	res, err := s.up(ctx, eng)
	if err != nil {
		out, _ := hosts.Run(ctx, "infra-1", "sudo -n docker compose -p xgen-infra ps -a; sudo -n docker compose -p xgen-infra logs --tail 20")
		t.Fatalf("first up: %v\n%s", err, out)
	}
	want := []string{"create infra-backup", "create infra-env", "create infra-file-10-xgen-app", "create infra-file-compose",
		"create infra-file-redis-entrypoint", "create infra-preflight", "create infra-project", "create infra-up"}
	if got := sortedOps(res.Ops); !slices.Equal(got, want) {
		t.Errorf("first up ran %v, want %v", got, want)
	}
	if got := run("sudo -n stat -c '%a %U' /srv/xgen-infra/.env"); got != "600 root" {
		t.Errorf(".env is %q, want 600 root", got)
	}
	if got := run("sudo -n stat -c '%a %U' /srv/xgen-infra"); got != "700 root" {
		t.Errorf("the data directory is %q, want 700 root", got)
	}
	t.Logf("Docker engine %s", run("sudo -n docker info --format '{{.ServerVersion}}'"))
	livetest.WaitComposeHealthy(ctx, t, hosts, "infra-1", "xgen-infra", []string{"minio", "postgres", "qdrant", "redis"})
	// The init script ran: the app's role logs in over TCP with its password, to its database.
	if got := run(`sudo -n docker compose -p xgen-infra exec -T postgres sh -c 'PGPASSWORD=$XGEN_DB_PASSWORD psql -h 127.0.0.1 -U "$XGEN_DB_USER" -d "$XGEN_DB" -tAc "select current_user || '"'"' '"'"' || current_database()"'`); got != "xgen plateerag" {
		t.Errorf("the app's login: %q, want xgen plateerag", got)
	}
	// minio-init made the buckets (the MinIO stand-in keeps a bucket as a directory).
	if got := run("sudo -n ls /srv/xgen-infra/volumes/minio"); got != "documents\nfiles" {
		t.Errorf("buckets %q", got)
	}
	if !strings.Contains(run("ls /run/standin-systemd/"), "xgen-infra-backup-xgen-infra.timer.enabled") {
		t.Error("the backup timer is not enabled")
	}
	// Backups are expected from now on: the time is where node-exporter reads it (BackupStale).
	checkBackupMetric(t, run, "backup-xgen-infra-installed.prom", "xgen_backup_timer_installed_timestamp_seconds")
	if got := run("ls /var/lib/xgen-infra/metrics"); strings.Contains(got, "backup-xgen-infra.prom") {
		t.Errorf("a success is recorded before any backup ran: %s", got)
	}
	address := hosts.Host("infra-1").Address
	for _, r := range res.Recorder.Resources {
		if r.Type != "kubernetes:discovery.k8s.io/v1:EndpointSlice" {
			continue
		}
		plain, _ := r.PlainInputs()
		if got := inprocess.Get(plain, "endpoints", 0, "addresses", 0); got != address {
			t.Errorf("EndpointSlice %s points at %v, want the compose host %s", r.Name, got, address)
		}
	}
	scan(res.Ops)

	// 2. Converged: nothing runs.
	res, err = s.up(ctx, eng)
	if err != nil || len(res.Ops) != 0 {
		t.Fatalf("second up: %v, ran %v", err, opNames(res.Ops))
	}

	// 3. A rotated Redis password: the .env, preflight and up, nothing else.
	s.secrets[sites.ConfigNamespace+":redisPassword"] = "TOPSECRET-rotated-redis"
	res, err = s.up(ctx, eng)
	if err != nil {
		t.Fatalf("rotation: %v", err)
	}
	if got := sortedOps(res.Ops); !slices.Equal(got, []string{"create infra-preflight", "create infra-up", "update infra-env"}) {
		t.Errorf("a new Redis password ran %v", got)
	}
	scan(res.Ops)

	// 4. The nightly job: a dump and a snapshot; backups past the retention go.
	run("sudo -n mkdir -p /srv/backups && sudo -n touch -d '10 days ago' /srv/backups/postgres-plateerag-old.dump /srv/backups/qdrant-old.snapshot" +
		" && sudo -n touch -d '1 day ago' /srv/backups/postgres-plateerag-recent.dump")
	run("sudo -n /usr/local/sbin/xgen-infra-backup-xgen-infra")
	files := run("sudo -n ls /srv/backups")
	for _, want := range []string{"postgres-plateerag-2", "qdrant-2", "postgres-plateerag-recent.dump"} {
		if !strings.Contains(files, want) {
			t.Errorf("backups %q lack %s", files, want)
		}
	}
	if strings.Contains(files, "-old.") {
		t.Errorf("backups past the retention were kept: %s", files)
	}
	if dump := run("sudo -n sh -c 'cat /srv/backups/postgres-plateerag-2*.dump'"); !strings.Contains(dump, "PGDMP") {
		t.Errorf("dump: %q", dump)
	}
	checkBackupMetric(t, run, "backup-xgen-infra.prom", "xgen_backup_last_success_timestamp_seconds")

	// 5. Destroy stops the project and keeps the data (volumes, backups); the .env goes.
	ops, err := eng.Destroy(ctx)
	if err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if got := opNames(ops); !slices.Equal(got, []string{"delete infra-backup", "delete infra-project"}) {
		t.Errorf("destroy ran %v", got)
	}
	if got := run("sudo -n docker ps -aq --filter label=com.docker.compose.project=xgen-infra"); got != "" {
		t.Errorf("containers left after destroy: %s", got)
	}
	if got := run("sudo -n docker volume ls -q --filter label=com.docker.compose.project=xgen-infra | sort | tr '\\n' ' '"); !strings.Contains(got, "xgen-infra_postgres") {
		t.Errorf("destroy removed the project's volumes: %q", got)
	}
	if got := run("sudo -n cat /srv/xgen-infra/volumes/postgres/PG_VERSION"); got != "15" {
		t.Errorf("the database's files after destroy: PG_VERSION %q", got)
	}
	if got := run("sudo -n sh -c 'ls -d /srv/xgen-infra/volumes/postgres /srv/backups; ls -a /srv/xgen-infra; ls /etc/systemd/system'"); strings.Contains(got, ".env") ||
		!strings.Contains(got, "/srv/xgen-infra/volumes/postgres") || strings.Contains(got, "xgen-infra-backup") {
		t.Errorf("after destroy:\n%s", got)
	}
	// No backup is expected any more: no metric left to go stale.
	if got := run("ls -A /var/lib/xgen-infra/metrics"); strings.Contains(got, "backup-") {
		t.Errorf("backup metrics left after the job was removed: %s", got)
	}

	// 6. With removeDataOnDestroy the volumes and the data directory go too.
	s.compose = map[string]any{"removeDataOnDestroy": true}
	eng = testhosts.NewEngine()
	if _, err := s.up(ctx, eng); err != nil {
		t.Fatalf("up with removeDataOnDestroy: %v", err)
	}
	if _, err := eng.Destroy(ctx); err != nil {
		t.Fatalf("destroy with removeDataOnDestroy: %v", err)
	}
	if got := run("sudo -n docker volume ls -q --filter label=com.docker.compose.project=xgen-infra"); got != "" {
		t.Errorf("volumes left after destroy with removeDataOnDestroy: %s", got)
	}
	if got := run("sudo -n sh -c 'test -e /srv/xgen-infra && echo present || echo gone'"); got != "gone" {
		t.Errorf("the data directory is %s after destroy with removeDataOnDestroy", got)
	}

	// 7. An engine that does not answer stops everything at preflight.
	hosts.StopDocker("infra-1")
	eng = testhosts.NewEngine()
	res, err = s.up(ctx, eng)
	if err == nil || !strings.Contains(err.Error(), "infra-preflight") || !strings.Contains(err.Error(), "the Docker engine does not answer") {
		t.Errorf("a stopped engine: %v", err)
	}
	if got := opNames(res.Ops); len(got) != 1 {
		t.Errorf("with a stopped engine ran %v, want only the preflight", got)
	}
}

// checkBackupMetric: the host's textfile, read by the parser node-exporter's textfile collector
// reads it with, holds one gauge of the project, a time within the last ten minutes;
// world-readable (node-exporter does not run as root).
func checkBackupMetric(t *testing.T, run func(string) string, file, metric string) {
	t.Helper()
	path := "/var/lib/xgen-infra/metrics/" + file
	if mode := strings.TrimSpace(run("stat -c %a " + path)); mode != "644" {
		t.Errorf("%s: mode %q, want 644", path, mode)
	}
	// run trims its output: the dot keeps the file's last newline, which the format requires.
	text := strings.TrimSuffix(run("cat "+path+"; echo ."), ".")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	mf := families[metric]
	if err != nil || mf == nil || mf.GetType() != dto.MetricType_GAUGE || len(mf.GetMetric()) != 1 {
		t.Fatalf("%s: no gauge %s (%v):\n%s", path, metric, err, text)
	}
	m := mf.GetMetric()[0]
	if l := m.GetLabel(); len(l) != 1 || l[0].GetName() != "project" || l[0].GetValue() != "xgen-infra" {
		t.Errorf("%s: labels %v, want project=xgen-infra", path, l)
	}
	value := m.GetGauge().GetValue()
	if age := time.Since(time.Unix(int64(value), 0)); age < 0 || age > 10*time.Minute {
		t.Errorf("%s: %s is %v old", path, metric, age)
	}
}
