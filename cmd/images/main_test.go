package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xgen-infra/sites"
)

var update = flag.Bool("update", false, "rewrite testdata/*.images")

// The image list of every site is golden: a change to what a site runs shows in review as
// a change of what a closed network must be given.
func TestImageListsAreGolden(t *testing.T) {
	stackFiles, err := filepath.Glob("../../Pulumi.*.yaml")
	if err != nil || len(stackFiles) == 0 {
		t.Fatalf("no stack files: %v", err)
	}
	for _, f := range stackFiles {
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		t.Run(stack, func(t *testing.T) {
			var out, errs bytes.Buffer
			if code := run(context.Background(), []string{"list", "--dir", "../..", "--stack", stack}, &out, &errs); code != 0 {
				t.Fatalf("exit %d: %s", code, errs.String())
			}
			golden := filepath.Join("testdata", stack+".images")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./cmd/images -update)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("image list of %s changed (go test ./cmd/images -update, and review):\n%s", stack, out.String())
			}
		})
	}
}

// The list is exactly the site's: every service it runs and none it does not (the
// xgen-jeju incident: xgen-model was asked for where it is not deployed).
func TestImageListHasOnlyTheSitesServices(t *testing.T) {
	cases := []struct {
		stack   string
		has     []string
		hasNone []string
	}{
		{"xgen-jeju", []string{"xgen-frontend", "xgen-core", "postgres", "minio-init"}, []string{"xgen-model", "istiod", "istio-ingressgateway"}},
		{"xgen", []string{"xgen-model", "istiod", "istio-ingressgateway", "postgres"}, nil},
		{"xgen-aww", []string{"xgen-core"}, []string{"xgen-model", "istiod", "postgres", "minio"}},
	}
	for _, tc := range cases {
		var out, errs bytes.Buffer
		if code := run(context.Background(), []string{"list", "--json", "--dir", "../..", "--stack", tc.stack}, &out, &errs); code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.stack, code, errs.String())
		}
		var list []sites.SiteImage
		if err := json.Unmarshal(out.Bytes(), &list); err != nil {
			t.Fatal(err)
		}
		runs := map[string]bool{}
		for _, im := range list {
			runs[im.For] = true
		}
		for _, want := range tc.has {
			if !runs[want] {
				t.Errorf("%s: no image for %s", tc.stack, want)
			}
		}
		for _, not := range tc.hasNone {
			if runs[not] {
				t.Errorf("%s: lists an image for %s, which it does not run", tc.stack, not)
			}
		}
	}
}

func TestUsageAndUnknownStack(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"list"}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "usage: images") {
		t.Errorf("no --stack: exit %d %s", code, errs.String())
	}
	errs.Reset()
	if code := run(context.Background(), []string{"list", "--dir", "../..", "--stack", "nowhere"}, &out, &errs); code != 1 || !strings.Contains(errs.String(), "Pulumi.nowhere.yaml") {
		t.Errorf("unknown stack: exit %d %s", code, errs.String())
	}
	errs.Reset()
	if code := run(context.Background(), []string{"bundle", "--dir", "../..", "--stack", "xgen", "--out", t.TempDir(), "--tool", "podman"}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "use skopeo or docker") {
		t.Errorf("unknown tool: exit %d %s", code, errs.String())
	}
}

// The stack's own bundle never stops the command that writes it: a bundle that lacks a newly
// added service is refused by the program, and `images bundle` is the way out. Relative
// paths in the stack resolve from the project directory, as under Pulumi.
func TestStaleBundleDoesNotStopTheList(t *testing.T) {
	project := t.TempDir()
	write := projectWriter(t, project)
	write("k3s-release/k3s", "binary")
	write("k3s-release/k3s-airgap-images-amd64.tar", "images")
	write("k3s-release/sha256sum-amd64.txt", sum("binary")+"  k3s\n"+sum("images")+"  k3s-airgap-images-amd64.tar\n")
	write("bundle/manifest.json", `{"site":"acme","images":[]}`) // made before xgen-core was added
	write("bundle/SHA256SUMS", "")
	write("Pulumi.acme.yaml", `config:
  xgen-infra:site:
    services: {xgen-frontend: {}, xgen-core: {}}
    cluster:
      k3s: {version: v1.31.4+k3s1, install: airgapped, artifacts: k3s-release, imageBundle: bundle}
      ssh: {user: xgen}
      servers: [{name: s1, address: 10.0.0.11, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMC7sdolJu6mTZshErUhkmf00a/2gf5ebVbOmQ61+JOb"}]
`)
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"list", "--dir", project, "--stack", "acme"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), "docker.x2bee.com/xgen/main/xgen-core:latest-amd64") {
		t.Errorf("list:\n%s", out.String())
	}
}

// TestLock: `lock` writes the stack's lock file from its folders (every file checked); with
// it, the site parses on a machine without the folders; `--placeholder` writes one before
// they exist; a damaged folder writes nothing.
func TestLock(t *testing.T) {
	project := t.TempDir()
	write := projectWriter(t, project)
	write("airgap/k3s/k3s", "binary")
	write("airgap/k3s/k3s-airgap-images-amd64.tar", "images")
	write("airgap/k3s/sha256sum-amd64.txt", sum("binary")+"  k3s\n"+sum("images")+"  k3s-airgap-images-amd64.tar\n")
	write("Pulumi.acme.yaml", `config:
  xgen-infra:site:
    services: {xgen-frontend: {}, xgen-core: {}}
    cluster:
      k3s: {version: v1.36.1+k3s1, install: airgapped, artifacts: airgap/k3s}
      ssh: {user: xgen}
      servers: [{name: s1, address: 10.0.0.11, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMC7sdolJu6mTZshErUhkmf00a/2gf5ebVbOmQ61+JOb"}]
`)
	lockFile := filepath.Join(project, sites.LockFileName("acme"))
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"lock", "--dir", project, "--stack", "acme"}, &out, &errs); code != 0 {
		t.Fatalf("lock: exit %d: %s", code, errs.String())
	}
	l, err := sites.ReadLock(project, "acme")
	if err != nil || l == nil || l.Placeholder || l.K3s.Binary.SHA256 != sum("binary") || l.K3s.Images.File != "k3s-airgap-images-amd64.tar" {
		t.Fatalf("lock %+v (%v)", l, err)
	}
	// Without the folder: the list still works, from the lock.
	if err := os.Rename(filepath.Join(project, "airgap"), filepath.Join(project, "elsewhere")); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(context.Background(), []string{"list", "--dir", project, "--stack", "acme"}, &out, &errs); code != 0 || !strings.Contains(out.String(), "xgen-core") {
		t.Errorf("list from the lock: exit %d %s %s", code, out.String(), errs.String())
	}
	// A placeholder before the folder exists.
	if code := run(context.Background(), []string{"lock", "--dir", project, "--stack", "acme", "--placeholder"}, &out, &errs); code != 0 {
		t.Fatalf("lock --placeholder: %s", errs.String())
	}
	if l, _ := sites.ReadLock(project, "acme"); l == nil || !l.Placeholder {
		t.Errorf("placeholder lock: %+v", l)
	}
	// A damaged folder: refused, the lock unchanged.
	if err := os.Rename(filepath.Join(project, "elsewhere"), filepath.Join(project, "airgap")); err != nil {
		t.Fatal(err)
	}
	write("airgap/k3s/k3s", "damaged")
	before, _ := os.ReadFile(lockFile)
	errs.Reset()
	if code := run(context.Background(), []string{"lock", "--dir", project, "--stack", "acme"}, &out, &errs); code == 0 || !strings.Contains(errs.String(), "does not match its SHA-256") {
		t.Errorf("a damaged folder: exit %d %s", code, errs.String())
	}
	if after, _ := os.ReadFile(lockFile); string(after) != string(before) {
		t.Error("a refused lock changed the lock file")
	}
}

// projectWriter writes a file (and its folders) under the project directory.
func projectWriter(t *testing.T, project string) func(name, content string) {
	return func(name, content string) {
		t.Helper()
		p := filepath.Join(project, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sum is the SHA-256 of s, in hex (a release's sums file).
func sum(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
