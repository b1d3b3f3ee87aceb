package sites

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"xgen-infra/images/bundle"
)

// closedSite is a one-server air-gapped site with K3s' release files (and its image list) and
// a bundle of every image the site runs, in folders under root; project is where the stack's
// lock file goes (the working directory of the parse).
func closedSite(t *testing.T) (siteYAML, artifacts, bundleDir, project string) {
	t.Helper()
	root := t.TempDir()
	artifacts, bundleDir, project = filepath.Join(root, "k3s"), filepath.Join(root, "images"), filepath.Join(root, "project")
	for _, d := range []string{artifacts, project} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeRelease(t, artifacts, "binary")
	siteYAML = minimalSite + "cluster:\n  k3s: {version: v1.36.1+k3s1, install: airgapped, artifacts: '" + artifacts + "', imageBundle: '" + bundleDir + "'}\n" +
		"  ssh: {user: xgen}\n" + oneServer
	var images []bundle.Image
	for _, ref := range []string{"docker.x2bee.com/xgen/main/xgen-core:latest-amd64", "docker.x2bee.com/xgen/main/xgen-frontend:latest-amd64"} {
		images = append(images, bundle.Image{Ref: ref, For: "x", Runtime: RuntimeCluster})
	}
	if _, err := bundle.Write(context.Background(), bundleDir, "test", images, refCopier{}, io.Discard); err != nil {
		t.Fatal(err)
	}
	return siteYAML, artifacts, bundleDir, project
}

// writeRelease writes fake K3s release files whose binary is binary, with their sums and
// image list.
func writeRelease(t *testing.T, dir, binary string) {
	t.Helper()
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	for name, content := range map[string]string{"k3s": binary, "k3s-airgap-images-amd64.tar": "images",
		"sha256sum-amd64.txt": sum(binary) + "  k3s\n" + sum("images") + "  k3s-airgap-images-amd64.tar\n",
		K3sImagesList:         "docker.io/rancher/mirrored-pause:3.6\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClosedSiteFromItsLock: with the folders, the site is read from them and its lock is
// written from them; without them (another machine), the lock alone gives the same site,
// marked absent for `pulumi up`; folders that differ from the lock are refused, saying how to
// relock; neither folder nor lock is refused.
func TestClosedSiteFromItsLock(t *testing.T) {
	siteYAML, artifacts, bundleDir, project := closedSite(t)
	parse := func() (*Site, error) {
		return inDir(t, project, func() (*Site, error) { return parseSite(t, siteYAML) })
	}

	here, err := parse()
	if err != nil {
		t.Fatal(err)
	}
	if here.Artifacts == nil || here.ImageBundle == nil || len(here.AbsentInputs) > 0 {
		t.Fatalf("with the folders: %+v %+v absent %v", here.Artifacts, here.ImageBundle, here.AbsentInputs)
	}
	lock, err := LockOf(here)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteLock(project, "test", lock); err != nil {
		t.Fatal(err)
	}
	if again, err := parse(); err != nil || len(again.AbsentInputs) > 0 {
		t.Fatalf("folders that match the lock: %v", err)
	}

	// Another machine: the lock only.
	for _, d := range []string{artifacts, bundleDir} {
		if err := os.Rename(d, d+".elsewhere"); err != nil {
			t.Fatal(err)
		}
	}
	away, err := parse()
	if err != nil {
		t.Fatalf("without the folders: %v", err)
	}
	wantAbsent := []string{"cluster.k3s.artifacts " + artifacts, "cluster.k3s.imageBundle " + bundleDir}
	if away.Artifacts.BinarySHA256 != here.Artifacts.BinarySHA256 || !sameImages(away.ImageBundle.Images, here.ImageBundle.Images) ||
		!slices.Equal(away.AbsentInputs, wantAbsent) {
		t.Errorf("from the lock: %+v bundle %+v absent %v", away.Artifacts, away.ImageBundle, away.AbsentInputs)
	}
	hereImages, _ := here.Images()
	awayImages, _ := away.Images()
	if !slices.Equal(hereImages, awayImages) || !slices.ContainsFunc(awayImages, func(im SiteImage) bool { return im.For == ForK3s }) {
		t.Errorf("images from the lock %v, from the folders %v", awayImages, hereImages)
	}
	for _, d := range []string{artifacts, bundleDir} {
		if err := os.Rename(d+".elsewhere", d); err != nil {
			t.Fatal(err)
		}
	}

	// Folders that are not the locked ones: another K3s binary (its sums agree with it), a
	// bundle with another image.
	writeRelease(t, artifacts, "another build")
	_, err = parse()
	if err == nil || !strings.Contains(err.Error(), "xgen-infra:site.cluster.k3s.artifacts") ||
		!strings.Contains(err.Error(), "does not match Pulumi.test.lock.json") || !strings.Contains(err.Error(), "run go run ./cmd/images lock --stack test and commit the lock") {
		t.Errorf("other release files: %v", err)
	}
	writeRelease(t, artifacts, "binary")
	if _, err := bundle.Write(context.Background(), bundleDir, "test", []bundle.Image{
		{Ref: "docker.x2bee.com/xgen/main/xgen-core:latest-amd64", For: "x", Runtime: RuntimeCluster},
		{Ref: "docker.x2bee.com/xgen/main/xgen-frontend:latest-amd64", For: "x", Runtime: RuntimeCluster},
		{Ref: "docker.x2bee.com/xgen/main/extra:1", For: "x", Runtime: RuntimeCluster},
	}, refCopier{}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := parse(); err == nil || !strings.Contains(err.Error(), "xgen-infra:site.cluster.k3s.imageBundle") || !strings.Contains(err.Error(), "does not match Pulumi.test.lock.json") {
		t.Errorf("another bundle: %v", err)
	}

	// Neither the folders nor a lock: nothing identifies them.
	if err := os.Remove(filepath.Join(project, LockFileName("test"))); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{artifacts, bundleDir} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := parse(); err == nil || !strings.Contains(err.Error(), "is not on this machine and Pulumi.test.lock.json does not identify it") {
		t.Errorf("no folder, no lock: %v", err)
	}
}

// A lock about other folders does not hold a stack pointed elsewhere (the test hosts' own
// release files) to it; a placeholder lock previews with a warning.
func TestLockIsAboutItsFolders(t *testing.T) {
	siteYAML, artifacts, bundleDir, project := closedSite(t)
	site, err := inDir(t, project, func() (*Site, error) { return parseSite(t, siteYAML) })
	if err != nil {
		t.Fatal(err)
	}
	ph, err := PlaceholderLock(site)
	if err != nil {
		t.Fatal(err)
	}
	if !ph.Placeholder || len(ph.ImageBundle.Images) == 0 || ph.ImageBundle.Images[0].SHA256 != strings.Repeat("0", 64) {
		t.Fatalf("placeholder lock: %+v", ph)
	}
	// With the folders present, the placeholder's digests are not theirs.
	if err := WriteLock(project, "test", ph); err != nil {
		t.Fatal(err)
	}
	if _, err := inDir(t, project, func() (*Site, error) { return parseSite(t, siteYAML) }); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("folders against a placeholder lock: %v", err)
	}
	// Without them: the plan, with a warning; the bundle covers the site's images.
	for _, d := range []string{artifacts, bundleDir} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	away, err := inDir(t, project, func() (*Site, error) { return parseSite(t, siteYAML) })
	if err != nil || len(away.AbsentInputs) != 2 || !slices.ContainsFunc(away.Warnings, func(w string) bool { return strings.Contains(w, "placeholder digests") }) {
		t.Fatalf("from a placeholder lock: %v %+v", err, away)
	}
	// The same lock, the stack pointed at other folders: not held to it.
	ph.K3s.Dir, ph.ImageBundle.Dir = "somewhere/else", "somewhere/else/images"
	if err := WriteLock(project, "test", ph); err != nil {
		t.Fatal(err)
	}
	if _, err := inDir(t, project, func() (*Site, error) { return parseSite(t, siteYAML) }); err == nil || !strings.Contains(err.Error(), "does not identify it") {
		t.Errorf("a lock about other folders: %v", err)
	}
}

// A lock file that is not one is refused with how to write it again.
func TestBrokenLockFile(t *testing.T) {
	siteYAML, _, _, project := closedSite(t)
	if err := os.WriteFile(filepath.Join(project, LockFileName("test")), []byte(`{"k3s": {"dir": "x"}, "extra": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := inDir(t, project, func() (*Site, error) { return parseSite(t, siteYAML) }); err == nil ||
		!strings.Contains(err.Error(), `unknown field "extra"`) || !strings.Contains(err.Error(), "go run ./cmd/images lock --stack test") {
		t.Errorf("a broken lock: %v", err)
	}
}
