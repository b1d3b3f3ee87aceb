package compose

// The container scripts against the real servers (Debian's PostgreSQL 15 and redis-server),
// started the way the images start them.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"xgen-infra/internal/testkit/debian"
)

const pgBin = "/usr/lib/postgresql/15/bin"

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// asPostgres runs a PostgreSQL binary as the postgres user (initdb refuses root), with env.
func asPostgres(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pgBin, name)}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestInitDBOnPostgres15: the init script on an empty server creates the role and database;
// the role logs in with its secret, has exactly its database, and no more; running the script
// again with a new password (what `up` does after a rotation) converges and keeps the data.
func TestInitDBOnPostgres15(t *testing.T) {
	if err := debian.Ensure(map[string]string{pgBin + "/initdb": "postgresql-15", "/usr/sbin/runuser": "util-linux"}); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "xgen-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if out, err := exec.Command("chown", "-R", "postgres:postgres", dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	_ = os.Chmod(dir, 0o755)
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	adminPw := filepath.Join(dir, "pw")
	for _, p := range []string{sock} {
		if out, err := exec.Command("runuser", "-u", "postgres", "--", "mkdir", "-p", p).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	if err := os.WriteFile(adminPw, []byte("admin-Secret-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// As the image: superuser postgres with a password, scram over TCP, trust on the socket.
	if out, err := asPostgres(t, nil, "initdb", "-D", data, "-U", "postgres", "--pwfile", adminPw,
		"--auth-local=trust", "--auth-host=scram-sha-256"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	start := func(listen string) {
		t.Helper()
		opts := fmt.Sprintf("-k %s -p %d -c listen_addresses='%s'", sock, port, listen)
		if out, err := asPostgres(t, nil, "pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start"); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
		}
	}
	stop := func() { _, _ = asPostgres(t, nil, "pg_ctl", "-D", data, "-m", "fast", "-w", "stop") }
	t.Cleanup(stop)
	initScript := filepath.Join(dir, "10-xgen-app.sh")
	if err := os.WriteFile(initScript, []byte(initDBScript), 0o644); err != nil {
		t.Fatal(err)
	}
	runInit := func(password string) {
		t.Helper()
		env := []string{"POSTGRES_USER=postgres", "XGEN_DB=plateerag", "XGEN_DB_USER=xgen", "XGEN_DB_PASSWORD=" + password,
			// The prd environment beside: its own database, role and password.
			"XGEN_ENVIRONMENTS=prd", "XGEN_DB_PRD=plateerag_prd", "XGEN_DB_USER_PRD=xgen_prd", "XGEN_DB_PASSWORD_PRD=prd-" + password,
			"PGHOST=" + sock, "PGPORT=" + strconv.Itoa(port)}
		cmd := exec.Command("runuser", "-u", "postgres", "--", "sh", initScript)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("init script: %v\n%s", err, out)
		}
	}
	psql := func(user, password, db, sql string) (string, error) {
		cmd := exec.Command(filepath.Join(pgBin, "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
			"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", user, "-d", db, "-c", sql)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=5")
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}

	// The image's init phase: socket only; then the server as it serves (TCP, scram).
	start("")
	firstPw := `app 'pw' "with" $quotes\ and; DROP`
	runInit(firstPw)
	stop()
	start("127.0.0.1")

	if out, err := psql("xgen", firstPw, "plateerag", "CREATE TABLE docs(id int); INSERT INTO docs VALUES (42); SELECT id FROM docs"); err != nil || out != "42" {
		t.Fatalf("the app role cannot use its database: %v %s", err, out)
	}
	for _, c := range []struct{ what, db, sql, want string }{
		{"create a database", "plateerag", "CREATE DATABASE other", "permission denied to create database"},
		{"create a role", "plateerag", "CREATE ROLE other", "permission denied to create role"},
		{"become superuser", "plateerag", "ALTER ROLE xgen SUPERUSER", "must be superuser"},
		{"connect to postgres", "postgres", "SELECT 1", "permission denied for database"},
	} {
		if out, err := psql("xgen", firstPw, c.db, c.sql); err == nil || !strings.Contains(out, c.want) {
			t.Errorf("the app role could %s: %v %s", c.what, err, out)
		}
	}
	// Each environment's role owns its own database and reaches no other.
	if out, err := psql("xgen_prd", "prd-"+firstPw, "plateerag_prd", "CREATE TABLE docs(id int); SELECT count(*) FROM docs"); err != nil || out != "0" {
		t.Fatalf("the prd role cannot use its database: %v %s", err, out)
	}
	for _, c := range []struct{ user, password, db string }{
		{"xgen_prd", "prd-" + firstPw, "plateerag"},
		{"xgen", firstPw, "plateerag_prd"},
	} {
		if out, err := psql(c.user, c.password, c.db, "SELECT 1"); err == nil || !strings.Contains(out, "permission denied for database") {
			t.Errorf("role %s reached database %s: %v %s", c.user, c.db, err, out)
		}
	}
	if out, err := psql("xgen", "wrong", "plateerag", "SELECT 1"); err == nil || !strings.Contains(out, "password authentication failed") {
		t.Errorf("a wrong password: %v %s", err, out)
	}
	attrs, err := psql("postgres", "admin-Secret-1", "postgres", "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = 'xgen'")
	if err != nil || attrs != "f|f|f|f|f" {
		t.Errorf("role attributes %q (%v)", attrs, err)
	}

	// Rotation: `up` runs the script again in the running container.
	runInit("rotated-Secret-2")
	runInit("rotated-Secret-2") // idempotent
	if _, err := psql("xgen", firstPw, "plateerag", "SELECT 1"); err == nil {
		t.Error("the old password still works after a rotation")
	}
	if out, err := psql("xgen", "rotated-Secret-2", "plateerag", "SELECT id FROM docs"); err != nil || out != "42" {
		t.Errorf("after the rotation: %v %s (data must be kept)", err, out)
	}
}

// TestRedisEntrypoint: redis-server started by the entrypoint refuses unauthenticated
// commands, takes the password (quotes, backslashes, $ and spaces), has the memory policy,
// and the password is on no command line.
func TestRedisEntrypoint(t *testing.T) {
	if err := debian.Ensure(map[string]string{"/usr/bin/redis-server": "redis-server", "/usr/bin/redis-cli": "redis-tools"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "entrypoint.sh")
	if err := os.WriteFile(script, []byte(redisEntrypoint), 0o644); err != nil {
		t.Fatal(err)
	}
	password := `pa ss"w\o'rd$HOME#1`
	port := freePort(t)
	cmd := exec.Command("sh", script, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--daemonize", "no")
	cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+password, "XGEN_REDIS_MAXMEMORY=2gb", "XGEN_REDIS_POLICY=allkeys-lru", "XGEN_REDIS_CONFIG_DIR="+dir)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	cli := func(auth string, args ...string) string {
		c := exec.Command("redis-cli", append([]string{"-p", strconv.Itoa(port)}, args...)...)
		c.Env = os.Environ()
		if auth != "" {
			c.Env = append(c.Env, "REDISCLI_AUTH="+auth)
		}
		out, _ := c.CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	deadline := time.Now().Add(10 * time.Second)
	for cli(password, "ping") != "PONG" {
		if time.Now().After(deadline) {
			t.Fatalf("redis did not answer PONG with the password:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := cli("", "set", "k", "v"); !strings.Contains(out, "NOAUTH") {
		t.Errorf("an unauthenticated command: %q", out)
	}
	if out := cli("wrong", "ping"); strings.Contains(out, "PONG") {
		t.Errorf("a wrong password: %q", out)
	}
	for key, want := range map[string]string{"maxmemory": "2147483648", "maxmemory-policy": "allkeys-lru", "appendonly": "yes"} {
		if out := cli(password, "config", "get", key); !strings.HasSuffix(out, want) {
			t.Errorf("config %s = %q, want %s", key, out, want)
		}
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cmdline), "pa ss") || !strings.Contains(string(cmdline), "redis-server") {
		t.Errorf("redis-server's command line: %q", cmdline)
	}
	if conf, _ := os.Stat(filepath.Join(dir, "redis.conf")); conf == nil || conf.Mode().Perm() != 0o600 {
		t.Errorf("redis.conf mode: %v", conf)
	}
}
