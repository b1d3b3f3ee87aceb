package testimages

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

// image is what a docker-archive holds: its tags, run configuration and layer entries.
type image struct {
	tags    []string
	config  Config
	entries map[string]*tar.Header
	files   map[string]string // small files' content, by path
}

func readArchive(t *testing.T, file string) image {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	im := image{entries: map[string]*tar.Header{}, files: map[string]string{}}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	raw := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(h.Name, "/layer.tar") {
			lr := tar.NewReader(tr)
			for {
				lh, err := lr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				name := strings.TrimSuffix(lh.Name, "/")
				im.entries[name] = lh
				if lh.Typeflag == tar.TypeReg && lh.Size < 64<<10 {
					data, _ := io.ReadAll(lr)
					im.files[name] = string(data)
				}
			}
			continue
		}
		raw[h.Name], _ = io.ReadAll(tr)
	}
	if err := json.Unmarshal(raw["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v %s", err, raw["manifest.json"])
	}
	im.tags = manifest[0].RepoTags
	var cfg struct{ Config Config }
	if err := json.Unmarshal(raw[manifest[0].Config], &cfg); err != nil {
		t.Fatalf("config: %v", err)
	}
	im.config = cfg.Config
	return im
}

// TestImagesKeepTheOfficialContracts: each compose image is under the name the compose file
// uses, and keeps what our project relies on of the official image (docs/development.md
// "Docker on the compose test host").
func TestImagesKeepTheOfficialContracts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("builds from Debian packages it may install: needs root (make test)")
	}
	files, err := Build(t.TempDir(), Defaults())
	if err != nil {
		t.Fatal(err)
	}
	for _, def := range Defaults() {
		if files[def.Ref] == "" {
			t.Errorf("no archive for %s (%s)", def.Ref, def.For)
		}
	}
	read := map[string]image{}
	for _, def := range Defaults() {
		im := readArchive(t, files[def.Ref])
		if !slices.Equal(im.tags, []string{def.Ref}) {
			t.Errorf("%s: tags %v", def.For, im.tags)
		}
		read[def.For] = im
	}
	dir := func(im image, path string, mode int64, uid int) string {
		h := im.entries[path]
		if h == nil || h.Typeflag != tar.TypeDir || h.Mode != mode || h.Uid != uid {
			return path + ": not a directory with that mode and owner"
		}
		return ""
	}
	pg, redis := read["postgres"], read["redis"]
	// postgres: the official entrypoint and its layout.
	for _, problem := range []string{dir(pg, "var/lib/postgresql/data", 0o1777, 999), dir(pg, "run/postgresql", 0o3777, 999),
		dir(pg, "docker-entrypoint-initdb.d", 0o755, 0)} {
		if problem != "" {
			t.Error("postgres: " + problem)
		}
	}
	if !slices.Equal(pg.config.Entrypoint, []string{"docker-entrypoint.sh"}) || !slices.Equal(pg.config.Cmd, []string{"postgres"}) || pg.config.StopSignal != "SIGINT" {
		t.Errorf("postgres: entrypoint %v cmd %v stop %q", pg.config.Entrypoint, pg.config.Cmd, pg.config.StopSignal)
	}
	if !slices.Contains(pg.config.Env, "PGDATA=/var/lib/postgresql/data") || !strings.Contains(strings.Join(pg.config.Env, " "), ":/usr/lib/postgresql/15/bin") {
		t.Errorf("postgres: env %v", pg.config.Env)
	}
	if e := pg.files["usr/local/bin/docker-entrypoint.sh"]; !strings.Contains(e, "docker_process_init_files /docker-entrypoint-initdb.d/*") {
		t.Error("postgres: the official entrypoint is not the image's")
	}
	if !strings.Contains(pg.files["etc/passwd"], "postgres:x:999:999:") {
		t.Errorf("postgres: passwd %q", pg.files["etc/passwd"])
	}
	for _, bin := range []string{"postgres", "initdb", "pg_ctl", "psql", "pg_dump", "pg_restore", "pg_isready"} {
		if h := pg.entries["usr/lib/postgresql/15/bin/"+bin]; h == nil {
			t.Errorf("postgres: no %s", bin)
		}
	}
	if h := pg.entries["usr/share/postgresql/postgresql.conf.sample"]; h == nil {
		t.Error("postgres: no sample configuration")
	} else if s := pg.files["usr/share/postgresql/postgresql.conf.sample"]; s != "" && !strings.Contains(s, "listen_addresses = '*'") {
		t.Error("postgres: the sample does not listen on every address")
	}
	// redis: the alpine image's user, data directory and su-exec.
	if d := dir(redis, "data", 0o755, 999); d != "" || redis.entries["data"].Gid != 1000 || redis.config.WorkingDir != "/data" {
		t.Errorf("redis: %s workdir %q", d, redis.config.WorkingDir)
	}
	if h := redis.entries["usr/local/bin/su-exec"]; h == nil || h.Linkname != "/usr/sbin/gosu" {
		t.Error("redis: no su-exec")
	}
	for _, bin := range []string{"usr/bin/redis-server", "usr/bin/redis-cli", "usr/bin/od", "usr/bin/grep"} {
		if redis.entries[bin] == nil {
			t.Errorf("redis: no %s (redis-entrypoint.sh and the health check need it)", bin)
		}
	}
	// The exporters run as nobody from the official entrypoints; the stand-ins under the
	// official programs' paths.
	for kind, entry := range map[string]string{"postgres-exporter": "/bin/postgres_exporter", "redis-exporter": "/redis_exporter"} {
		im := read[kind]
		if !slices.Equal(im.config.Entrypoint, []string{entry}) || im.config.User != "nobody" || im.entries[strings.TrimPrefix(entry, "/")] == nil &&
			im.entries["usr"+entry] == nil {
			t.Errorf("%s: entrypoint %v user %q", kind, im.config.Entrypoint, im.config.User)
		}
	}
	for kind, path := range map[string]string{"qdrant": "qdrant/qdrant", "minio": "usr/bin/minio", "minio-init": "usr/bin/mc"} {
		if read[kind].entries[path] == nil {
			t.Errorf("%s: no %s", kind, path)
		}
	}
}
