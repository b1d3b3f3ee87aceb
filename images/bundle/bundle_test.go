package bundle

import (
	"archive/tar"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"xgen-infra/internal/testkit/debian"
	"xgen-infra/internal/testkit/testregistry"
)

func TestSkopeoArgsAreExact(t *testing.T) {
	cases := []struct {
		ref, registry string
		plain         bool
		want          []string
	}{
		{"reg.example.com/xgen/main/xgen-core:1.2", "reg.example.com", false,
			[]string{"copy", "--quiet", "docker://reg.example.com/xgen/main/xgen-core:1.2", "docker-archive:/b/x.tar:reg.example.com/xgen/main/xgen-core:1.2"}},
		{"10.0.0.11:30500/xgen/main/xgen-core:1.2", "10.0.0.11:30500", true,
			[]string{"copy", "--quiet", "--src-tls-verify=false", "docker://10.0.0.11:30500/xgen/main/xgen-core:1.2", "docker-archive:/b/x.tar:10.0.0.11:30500/xgen/main/xgen-core:1.2"}},
		// Plain HTTP is the site registry's only: docker.io stays on TLS.
		{"docker.io/istio/pilot:1.31.1", "10.0.0.11:30500", true,
			[]string{"copy", "--quiet", "docker://docker.io/istio/pilot:1.31.1", "docker-archive:/b/x.tar:docker.io/istio/pilot:1.31.1"}},
	}
	for _, tc := range cases {
		if got := SkopeoArgs(tc.ref, "/b/x.tar", tc.registry, tc.plain); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.ref, got, tc.want)
		}
	}
	if got := FileName("10.0.0.11:30500/xgen/main/xgen-core:1.2@sha256:ab"); got != "10.0.0.11_30500_xgen_main_xgen-core_1.2_sha256_ab.tar" {
		t.Errorf("file name %q", got)
	}
}

// A bundle written with the real skopeo from a real registry (authenticated, plain HTTP):
// one docker-archive per image that names the reference, a manifest and sums that
// `sha256sum -c` accepts; Read accepts it and refuses a damaged copy.
func TestBundleWithSkopeo(t *testing.T) {
	if err := debian.Ensure(map[string]string{"/usr/bin/skopeo": "skopeo"}); err != nil {
		t.Fatal(err)
	}
	reg := testregistry.Start(t)
	reg.Push("xgen/main/xgen-core", "1.2", "core build 7")
	reg.Push("istio/pilot", "1.31.1", "pilot")
	// skopeo reads the login from its auth file, as after `skopeo login`: nothing on argv.
	auth := filepath.Join(t.TempDir(), "auth.json")
	login := base64.StdEncoding.EncodeToString([]byte(reg.Username + ":" + reg.Password))
	if err := os.WriteFile(auth, []byte(`{"auths":{"`+reg.Host+`":{"auth":"`+login+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REGISTRY_AUTH_FILE", auth)

	dir := t.TempDir()
	images := []Image{
		{Ref: reg.Host + "/xgen/main/xgen-core:1.2", For: "xgen-core", Runtime: "cluster"},
		{Ref: reg.Host + "/istio/pilot:1.31.1", For: "istiod", Runtime: "cluster"},
		{Ref: reg.Host + "/xgen/main/xgen-core:1.2", For: "again", Runtime: "cluster"},
	}
	c, err := NewCopier("skopeo", reg.Host, true)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	m, err := Write(context.Background(), dir, "acme", images, c, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(m.Images) != 2 {
		t.Fatalf("%d images in the manifest, want 2 (one reference once)", len(m.Images))
	}
	for _, im := range m.Images {
		if tags := archiveTags(t, filepath.Join(dir, im.File)); !reflect.DeepEqual(tags, []string{im.Ref}) {
			t.Errorf("%s holds %v, want %s", im.File, tags, im.Ref)
		}
	}
	check := exec.Command("sha256sum", "--check", "--strict", SumsFile)
	check.Dir = dir
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum --check: %v\n%s", err, out)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("read back %+v, want %+v", got, m)
	}

	// A damaged copy is refused, naming the file.
	f, err := os.OpenFile(filepath.Join(dir, m.Images[0].File), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("x")
	f.Close()
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), m.Images[0].File+": sha256") {
		t.Errorf("damaged bundle: %v", err)
	}
	// A missing image fails with the reference and what runs it.
	_, err = Write(context.Background(), t.TempDir(), "acme", []Image{{Ref: reg.Host + "/xgen/main/xgen-model:1.2", For: "xgen-model", Runtime: "cluster"}}, c, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "xgen-model:1.2 (for xgen-model)") {
		t.Errorf("missing image: %v", err)
	}
}

func TestReadRefusesInconsistentManifests(t *testing.T) {
	cases := map[string]struct{ manifest, sums, want string }{
		"unknown field":  {`{"site":"a","images":[],"extra":1}`, "", "unknown field"},
		"bad runtime":    {`{"site":"a","images":[{"ref":"r","runtime":"vm","file":"cluster/r.tar","sha256":"00"}]}`, "00  cluster/r.tar\n", `runtime "vm"`},
		"escaping file":  {`{"site":"a","images":[{"ref":"r","runtime":"cluster","file":"../r.tar","sha256":"00"}]}`, "00  ../r.tar\n", `file "../r.tar"`},
		"sums disagree":  {`{"site":"a","images":[{"ref":"r","runtime":"cluster","file":"cluster/r.tar","sha256":"00"}]}`, "11  cluster/r.tar\n", "SHA256SUMS says"},
		"malformed sums": {`{"site":"a","images":[]}`, "00 cluster/r.tar\n", "is not"},
	}
	for name, tc := range cases {
		dir := t.TempDir()
		_ = os.WriteFile(filepath.Join(dir, ManifestFile), []byte(tc.manifest), 0o644)
		_ = os.WriteFile(filepath.Join(dir, SumsFile), []byte(tc.sums), 0o644)
		if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// archiveTags are the RepoTags of a docker-archive's manifest.json.
func archiveTags(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no manifest.json: %v", path, err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil || len(m) != 1 {
			t.Fatalf("%s: manifest.json: %v", path, err)
		}
		return m[0].RepoTags
	}
}
