package testimages

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"xgen-infra/internal/testkit/debian"
)

var (
	//go:embed docker-library-postgres/docker-entrypoint.sh
	postgresEntrypoint []byte
	//go:embed docker-library-postgres/docker-ensure-initdb.sh
	postgresEnsureInitdb []byte
)

func ports(p ...string) map[string]struct{} {
	out := map[string]struct{}{}
	for _, x := range p {
		out[x+"/tcp"] = struct{}{}
	}
	return out
}

func dirs(p ...string) map[string]struct{} {
	out := map[string]struct{}{}
	for _, x := range p {
		out[x] = struct{}{}
	}
	return out
}

// listenAll is the official image's one change to the sample configuration.
var listenAll = regexp.MustCompile(`(?m)^#?(listen_addresses)\s*=\s*\S+.*$`)

// postgres is the official postgres:15 image's layout (docker-library/postgres 15/bookworm)
// with Debian's PostgreSQL 15 packages.
func postgres() (*rootfs, Config, error) {
	const pgBin = "/usr/lib/postgresql/15/bin"
	if err := debian.Ensure(map[string]string{pgBin + "/initdb": "postgresql-15", pgBin + "/psql": "postgresql-client-15"}); err != nil {
		return nil, Config{}, err
	}
	fs, err := base([]string{"postgres:x:999:999::/var/lib/postgresql:/bin/bash\n"}, []string{"postgres:x:999:\n"})
	if err != nil {
		return nil, Config{}, err
	}
	// Not the JIT (LLVM, 100 MB; off unless asked for).
	if err := fs.pkg("postgresql-15", "usr/lib/postgresql/15/lib/llvmjit", "usr/lib/postgresql/15/lib/bitcode"); err != nil {
		return nil, Config{}, err
	}
	for _, p := range []string{"postgresql-client-15", "tzdata"} {
		if err := fs.pkg(p); err != nil {
			return nil, Config{}, err
		}
	}
	sample, err := os.ReadFile("/usr/share/postgresql/15/postgresql.conf.sample")
	if err != nil {
		return nil, Config{}, err
	}
	fs.file("/usr/share/postgresql/postgresql.conf.sample", listenAll.ReplaceAll(sample, []byte("$1 = '*'")), 0o644, 0, 0)
	fs.link("/usr/share/postgresql/15/postgresql.conf.sample", "../postgresql.conf.sample")
	fs.link("/var/run", "/run")
	fs.dir("/run/postgresql", 0o3777, 999, 999)
	fs.dir("/var/lib/postgresql", 0o1777, 999, 999)
	fs.dir("/var/lib/postgresql/data", 0o1777, 999, 999)
	fs.dir("/docker-entrypoint-initdb.d", 0o755, 0, 0)
	fs.file("/usr/local/bin/docker-entrypoint.sh", postgresEntrypoint, 0o755, 0, 0)
	fs.file("/usr/local/bin/docker-ensure-initdb.sh", postgresEnsureInitdb, 0o755, 0, 0)
	fs.link("/usr/local/bin/docker-enforce-initdb.sh", "docker-ensure-initdb.sh")
	version, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", "postgresql-15").Output()
	if err != nil {
		return nil, Config{}, err
	}
	return fs, Config{
		Env: []string{"PATH=" + basePath + ":" + pgBin, "LANG=C.UTF-8", "PG_MAJOR=15", "PG_VERSION=" + string(version),
			"PGDATA=/var/lib/postgresql/data"},
		Entrypoint: []string{"docker-entrypoint.sh"}, Cmd: []string{"postgres"}, StopSignal: "SIGINT",
		ExposedPorts: ports("5432"), Volumes: dirs("/var/lib/postgresql/data"),
	}, nil
}

// redis is the official redis alpine image's layout with Debian's Redis.
func redis() (*rootfs, Config, error) {
	if err := debian.Ensure(map[string]string{"/usr/bin/redis-server": "redis-server", "/usr/bin/redis-cli": "redis-tools"}); err != nil {
		return nil, Config{}, err
	}
	fs, err := base([]string{"redis:x:999:1000::/home/redis:/sbin/nologin\n"}, []string{"redis:x:1000:redis\n"})
	if err != nil {
		return nil, Config{}, err
	}
	for _, p := range []string{"redis-tools", "redis-server"} {
		if err := fs.pkg(p, "etc/"); err != nil {
			return nil, Config{}, err
		}
	}
	// The alpine image drops to the redis user with su-exec; gosu takes the same arguments.
	fs.link("/usr/local/bin/su-exec", "/usr/sbin/gosu")
	fs.dir("/data", 0o755, 999, 1000)
	return fs, Config{
		Env: []string{"PATH=" + basePath}, WorkingDir: "/data", Cmd: []string{"redis-server"},
		ExposedPorts: ports("6379"), Volumes: dirs("/data"),
	}, nil
}

// buildStandIns builds the stand-ins' one binary (./standins) into dir.
func buildStandIns(dir string) (string, error) {
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m: %w", err)
	}
	out := filepath.Join(dir, "standins")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./internal/testkit/testimages/standins")
	build.Dir = strings.TrimSpace(string(root))
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // static: the images have no libc of their own to match
	if msg, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the image stand-ins: %v\n%s", err, msg)
	}
	return out, nil
}

// standIn is Qdrant's, MinIO's or mc's image with the stand-in under the official image's
// paths (it acts on its program name).
func standIn(kind, binary string) (*rootfs, Config, error) {
	fs, err := base(nil, nil)
	if err != nil {
		return nil, Config{}, err
	}
	put := func(p string) { fs.put(p, binary, 0o755) }
	env := []string{"PATH=" + basePath}
	switch kind {
	case "qdrant":
		put("/qdrant/qdrant")
		fs.dir("/qdrant/storage", 0o755, 0, 0)
		fs.dir("/qdrant/snapshots", 0o755, 0, 0)
		return fs, Config{Env: env, WorkingDir: "/qdrant", Cmd: []string{"/qdrant/qdrant"},
			ExposedPorts: ports("6333", "6334")}, nil
	case "minio":
		put("/usr/bin/minio")
		put("/usr/bin/mc")
		fs.dir("/data", 0o755, 0, 0)
		return fs, Config{Env: env, Entrypoint: []string{"/usr/bin/minio"}, Cmd: []string{"server", "/data"},
			ExposedPorts: ports("9000"), Volumes: dirs("/data")}, nil
	default: // minio-init: the mc image
		put("/usr/bin/mc")
		return fs, Config{Env: env, Entrypoint: []string{"mc"}}, nil
	}
}

// exporter is Debian's Prometheus exporter package under the official image's entrypoint, as
// the nobody user (the packages are unpacked, never installed: nothing starts here).
func exporter(kind, debs string) (*rootfs, Config, error) {
	pkg, from, to, port := "prometheus-postgres-exporter", "/usr/bin/prometheus-postgres-exporter", "/bin/postgres_exporter", "9187"
	if kind == "redis-exporter" {
		pkg, from, to, port = "prometheus-redis-exporter", "/usr/bin/prometheus-redis-exporter", "/redis_exporter", "9121"
	}
	dir := filepath.Join(debs, pkg)
	if err := debian.Extract(pkg, dir); err != nil {
		return nil, Config{}, err
	}
	fs := newRootfs()
	fs.file("/etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"), 0o644, 0, 0)
	fs.file("/etc/group", []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644, 0, 0)
	fs.put(to, filepath.Join(dir, from), 0o755)
	return fs, Config{Entrypoint: []string{to}, User: "nobody", ExposedPorts: ports(port)}, nil
}
