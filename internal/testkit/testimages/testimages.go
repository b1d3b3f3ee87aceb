// Package testimages builds, TEST-ONLY, the images of a site's compose project without a
// registry (nothing can be pulled here): one docker-archive per image (what `docker save`
// writes and our image bundle carries), under the exact name the site's compose file uses.
//
//   - postgres: Debian's PostgreSQL 15 (postgresql-15, postgresql-client-15) with the
//     official image's own entrypoint (docker-library/postgres, vendored unedited): its
//     POSTGRES_* variables, /docker-entrypoint-initdb.d, PGDATA, the postgres user (uid 999)
//     owning the data directory, gosu, STOPSIGNAL SIGINT, listen_addresses '*'.
//   - redis: Debian's redis-server (7.0: bookworm has no 8.0) as the official image lays it
//     out: user redis (uid 999, gid 1000), WORKDIR and volume /data, su-exec (Debian's gosu,
//     which takes the same arguments), redis-server and redis-cli on PATH.
//   - qdrant, minio, minio-init: honest stand-ins (no served module builds Qdrant or MinIO):
//     ./standins, serving what our compose project, backups and restores use.
//   - postgres-exporter, redis-exporter: Debian's prometheus-postgres-exporter and
//     prometheus-redis-exporter, under the official images' entrypoints and ports.
//
// Every image holds only files of Debian packages installed on this machine (and the
// libraries they link), never a download from a registry.
package testimages

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"xgen-infra/internal/testkit/debian"
	"xgen-infra/sites"
)

// Config is an image's run configuration (the part of the OCI image config Docker reads).
type Config struct {
	Env          []string            `json:"Env,omitempty"`
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	User         string              `json:"User,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
}

const basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// buildMu: one build at a time in a process (the stand-in binary is shared).
var buildMu sync.Mutex

// Build writes a docker-archive into dir for each compose image of images (those of
// sites.RuntimeDocker) and returns the file of each reference. An image kind it cannot build
// is an error naming it.
func Build(dir string, images []sites.SiteImage) (map[string]string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := map[string]string{}
	var standins string
	for _, im := range images {
		if im.Runtime != sites.RuntimeDocker || out[im.Ref] != "" {
			continue
		}
		var (
			fs  *rootfs
			cfg Config
			err error
		)
		switch im.For {
		case "postgres":
			fs, cfg, err = postgres()
		case "redis":
			fs, cfg, err = redis()
		case "qdrant", "minio", "minio-init":
			if standins == "" {
				if standins, err = buildStandIns(dir); err != nil {
					return nil, err
				}
			}
			fs, cfg, err = standIn(im.For, standins)
		case "postgres-exporter", "redis-exporter":
			fs, cfg, err = exporter(im.For, filepath.Join(dir, "debs"))
		default:
			err = fmt.Errorf("no test image for %s", im.For)
		}
		if err != nil {
			return nil, fmt.Errorf("testimages: %s (%s): %w", im.Ref, im.For, err)
		}
		file := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_", "@", "_").Replace(im.Ref)+".tar")
		if err := writeArchive(file, im.Ref, fs, cfg); err != nil {
			return nil, fmt.Errorf("testimages: %s: %w", im.Ref, err)
		}
		out[im.Ref] = file
	}
	return out, nil
}

// Defaults are the compose images of a site that names none of its own: every service's and
// the observability add-on's exporters.
func Defaults() []sites.SiteImage {
	var out []sites.SiteImage
	for _, im := range [][2]string{
		{"postgres", sites.DefaultPostgresImage}, {"redis", sites.DefaultRedisImage}, {"qdrant", sites.DefaultQdrantImage},
		{"minio", sites.DefaultMinIOImage}, {"minio-init", sites.DefaultMinIOInitImage},
		{"postgres-exporter", sites.DefaultObservabilityImages.PostgresExporter}, {"redis-exporter", sites.DefaultObservabilityImages.RedisExporter},
	} {
		out = append(out, sites.SiteImage{Ref: im[1], For: im[0], Runtime: sites.RuntimeDocker})
	}
	return out
}

// ProcessDir is this process's own directory under root (root/<pid>), for Build: test
// processes run side by side. Directories of processes that ended are removed.
func ProcessDir(root string) (string, error) {
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != os.Getpid() {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
				_ = os.RemoveAll(filepath.Join(root, e.Name()))
			}
		}
	}
	dir := filepath.Join(root, strconv.Itoa(os.Getpid()))
	return dir, os.MkdirAll(dir, 0o755)
}

// base is what every image's shell needs: sh, bash, coreutils, grep, sed, find, awk, the
// name service files, and the users.
func base(users []string, groups []string) (*rootfs, error) {
	if err := debian.Ensure(map[string]string{"/usr/sbin/gosu": "gosu", "/usr/share/zoneinfo/UTC": "tzdata"}); err != nil {
		return nil, err
	}
	fs := newRootfs()
	for _, p := range []string{"dash", "bash", "coreutils", "grep", "sed", "findutils", "mawk", "gosu"} {
		if err := fs.pkg(p); err != nil {
			return nil, err
		}
	}
	fs.link("/bin/sh", "dash")
	fs.link("/usr/bin/awk", "mawk")
	// C.UTF-8 is glibc's own locale (libc-bin); the official images build en_US.UTF-8 too.
	if err := fs.machine("/usr/lib/locale/C.utf8/LC_CTYPE"); err == nil {
		for _, f := range []string{"LC_ADDRESS", "LC_COLLATE", "LC_IDENTIFICATION", "LC_MEASUREMENT", "LC_MESSAGES/SYS_LC_MESSAGES",
			"LC_MONETARY", "LC_NAME", "LC_NUMERIC", "LC_PAPER", "LC_TELEPHONE", "LC_TIME"} {
			_ = fs.machine("/usr/lib/locale/C.utf8/" + f)
		}
	}
	fs.file("/etc/passwd", []byte("root:x:0:0:root:/root:/bin/bash\n"+strings.Join(users, "")+"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"), 0o644, 0, 0)
	fs.file("/etc/group", []byte("root:x:0:\n"+strings.Join(groups, "")+"nogroup:x:65534:\n"), 0o644, 0, 0)
	fs.file("/etc/nsswitch.conf", []byte("passwd: files\ngroup: files\nhosts: files dns\n"), 0o644, 0, 0)
	for _, lib := range []string{"libnss_files.so.2", "libnss_dns.so.2"} {
		if matches, _ := filepath.Glob("/usr/lib/x86_64-linux-gnu/" + lib); len(matches) > 0 {
			_ = fs.machine(matches[0])
		}
	}
	fs.dir("/root", 0o700, 0, 0)
	return fs, nil
}

// writeArchive writes a docker-archive of one image: manifest.json, its config and one layer.
func writeArchive(file, ref string, fs *rootfs, cfg Config) error {
	if err := fs.libraries(); err != nil {
		return err
	}
	layerFile, err := os.CreateTemp(filepath.Dir(file), ".layer-*")
	if err != nil {
		return err
	}
	defer os.Remove(layerFile.Name())
	defer layerFile.Close()
	sum := sha256.New()
	if err := fs.layer(io.MultiWriter(layerFile, sum)); err != nil {
		return err
	}
	diffID := hex.EncodeToString(sum.Sum(nil))
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z", "config": cfg,
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + diffID}},
		"history": []map[string]any{{"created": "1970-01-01T00:00:00Z", "created_by": "xgen-infra internal/testkit/testimages (TEST-ONLY)"}},
	})
	if err != nil {
		return err
	}
	configName := sha256Hex(config) + ".json"
	manifest, err := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{ref}, "Layers": []string{diffID + "/layer.tar"}}})
	if err != nil {
		return err
	}
	out, err := os.CreateTemp(filepath.Dir(file), ".archive-*")
	if err != nil {
		return err
	}
	tmp := out.Name()
	defer os.Remove(tmp)
	tw := tar.NewWriter(out)
	small := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := small(configName, config); err != nil {
		return err
	}
	info, err := layerFile.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: diffID + "/", Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: diffID + "/layer.tar", Mode: 0o644, Size: info.Size(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := layerFile.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(tw, layerFile); err != nil {
		return err
	}
	if err := small("manifest.json", manifest); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil { // docker load runs as root; the file is read by path
		return err
	}
	return os.Rename(tmp, file)
}

// MinimalArchive is a docker-archive that only names ref (its layer one file, content): for
// the images a test needs in a bundle but never runs in Docker (the cluster's, which the
// K3s stand-in's containerd only imports).
func MinimalArchive(ref, content string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	manifest, _ := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{ref}, "Layers": []string{"layer.tar"}}})
	for _, f := range []struct{ name, content string }{
		{"manifest.json", string(manifest)}, {"config.json", `{"architecture":"amd64","os":"linux"}`}, {"layer.tar", content},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.content))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.content)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
