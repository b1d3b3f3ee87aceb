package sites

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xgen-infra/images/bundle"
)

// refCopier writes the reference itself as the "tarball".
type refCopier struct{}

func (refCopier) Copy(_ context.Context, ref, file string, _ io.Writer) error {
	return os.WriteFile(file, []byte(ref), 0o644)
}

// airgappedSite is a one-server air-gapped site (fake release files) with an image bundle.
func airgappedSite(t *testing.T, bundleDir string) string {
	t.Helper()
	dir := t.TempDir()
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	for name, content := range map[string]string{"k3s": "binary", "k3s-airgap-images-amd64.tar": "images",
		"sha256sum-amd64.txt": sum("binary") + "  k3s\n" + sum("images") + "  k3s-airgap-images-amd64.tar\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return minimalSite + "cluster:\n  k3s: {version: v1.31.4+k3s1, install: airgapped, artifacts: '" + dir + "', imageBundle: '" + bundleDir + "'}\n" +
		"  ssh: {user: xgen}\n" + oneServer
}

func TestImageBundleMustHoldEveryClusterImage(t *testing.T) {
	dir := t.TempDir()
	write := func(refs ...string) {
		var images []bundle.Image
		for _, r := range refs {
			images = append(images, bundle.Image{Ref: r, For: "x", Runtime: RuntimeCluster})
		}
		if _, err := bundle.Write(context.Background(), dir, "acme", images, refCopier{}, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	core := "docker.x2bee.com/xgen/main/xgen-core:latest-amd64"
	frontend := "docker.x2bee.com/xgen/main/xgen-frontend:latest-amd64"

	write(core)
	_, err := parseSite(t, airgappedSite(t, dir))
	if err == nil || !strings.Contains(err.Error(), "xgen-infra:site.cluster.k3s.imageBundle") ||
		!strings.Contains(err.Error(), "lacks "+frontend+" (for xgen-frontend)") || strings.Contains(err.Error(), "lacks "+core) ||
		!strings.Contains(err.Error(), "go run ./cmd/images bundle --stack test --out") {
		t.Errorf("a bundle without the frontend: %v", err)
	}

	write(core, frontend)
	site := mustParse(t, airgappedSite(t, dir))
	if site.ImageBundle == nil || len(site.ImageBundle.Images) != 2 {
		t.Errorf("bundle read as %+v", site.ImageBundle)
	}
	// With a bundle the imported tags run as they are, and no registry is asked.
	if im := site.Config.Image; im.PullPolicy != "IfNotPresent" || *im.Preflight || site.Services[0].PullPolicy != "IfNotPresent" {
		t.Errorf("with a bundle: pullPolicy %q, preflight %v, service pull policy %q", im.PullPolicy, *im.Preflight, site.Services[0].PullPolicy)
	}
	if _, err := parseSite(t, "image: {pullPolicy: Always}\n"+airgappedSite(t, dir)); err == nil || !strings.Contains(err.Error(), "xgen-infra:site.image.pullPolicy") {
		t.Errorf("Always with a bundle: %v", err)
	}

	// A damaged copy is refused before anything is registered.
	if err := os.WriteFile(filepath.Join(dir, site.ImageBundle.Images[0].File), []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parseSite(t, airgappedSite(t, dir)); err == nil || !strings.Contains(err.Error(), "a damaged copy") {
		t.Errorf("a damaged bundle: %v", err)
	}
}

func TestImageBundleOnlyAirgapped(t *testing.T) {
	_, err := parseSite(t, clusterSite(oneServer)+"") // sanity: the base is valid
	if err != nil {
		t.Fatal(err)
	}
	site := minimalSite + "cluster:\n  k3s: {version: v1.31.4+k3s1, imageBundle: ./bundle}\n  ssh: {user: xgen}\n" + oneServer
	if _, err := parseSite(t, site); err == nil || !strings.Contains(err.Error(), "xgen-infra:site.cluster.k3s.imageBundle") || !strings.Contains(err.Error(), "only used with install: airgapped") {
		t.Errorf("a bundle on an online install: %v", err)
	}
}

// The add-ons' images are the site's too: Istio's two, the registry's.
func TestAddonImagesAreListed(t *testing.T) {
	site := mustParse(t, istioSite("  addons: {registry: {enabled: true}, istio: {hub: '10.0.0.11:30500/istio', version: 1.31.2}}\n"))
	list, err := site.Images()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, im := range list {
		got[im.For] = im.Ref + " " + im.Runtime
	}
	for forWhat, want := range map[string]string{
		"istiod":               "10.0.0.11:30500/istio/pilot:1.31.2 cluster",
		"istio-ingressgateway": "10.0.0.11:30500/istio/proxyv2:1.31.2 cluster",
		"registry":             DefaultRegistryAddonImage + " cluster",
	} {
		if got[forWhat] != want {
			t.Errorf("%s: %q, want %q", forWhat, got[forWhat], want)
		}
	}
}

// With a compose project the bundle carries its images too: the host cannot pull them.
func TestImageBundleMustHoldTheComposeImages(t *testing.T) {
	dir := t.TempDir()
	images := []bundle.Image{
		{Ref: "docker.x2bee.com/xgen/main/xgen-core:latest-amd64", For: "xgen-core", Runtime: RuntimeCluster},
		{Ref: "docker.x2bee.com/xgen/main/xgen-frontend:latest-amd64", For: "xgen-frontend", Runtime: RuntimeCluster},
		// The right reference for the wrong place does not count.
		{Ref: DefaultPostgresImage, For: "postgres", Runtime: RuntimeCluster},
	}
	if _, err := bundle.Write(context.Background(), dir, "test", images, refCopier{}, io.Discard); err != nil {
		t.Fatal(err)
	}
	_, err := parseSite(t, airgappedSite(t, dir)+"infra:\n  compose: {}\n")
	if err == nil || !strings.Contains(err.Error(), "lacks "+DefaultPostgresImage+" (for postgres), "+DefaultRedisImage+" (for redis)") {
		t.Errorf("a bundle without the compose images: %v", err)
	}
}

// toolVersions reads tools/versions.env: the releases the tests run.
func toolVersions(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "tools", "versions.env"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// TestObservabilityImagesAreTheTestedReleases: the images the add-on runs are the releases
// its real-tool tests run, so a bump of one without the other fails here.
func TestObservabilityImagesAreTheTestedReleases(t *testing.T) {
	v := toolVersions(t)
	im := DefaultObservabilityImages
	for _, tc := range []struct{ image, version string }{
		{im.Alertmanager, v["ALERTMANAGER_VERSION"]},
		{im.BlackboxExporter, v["BLACKBOX_VERSION"]},
		// Prometheus' Go module numbers release 3.X.Y as v0.30X.Y.
		{im.Prometheus, prometheusRelease(v["PROMETHEUS_VERSION"])},
		// The collector's image drops the module's leading v.
		{im.Collector, strings.TrimPrefix(v["STANZA_VERSION"], "v")},
	} {
		if tc.version == "" || !strings.HasSuffix(tc.image, ":"+tc.version) {
			t.Errorf("image %s is not the tested release %q (tools/versions.env)", tc.image, tc.version)
		}
	}
}

// prometheusRelease is the Prometheus release of its Go module's version: v0.313.2 is v3.13.2.
func prometheusRelease(module string) string {
	parts := strings.Split(strings.TrimPrefix(module, "v0."), ".")
	if len(parts) != 2 || len(parts[0]) != 3 || parts[0][0] != '3' {
		return ""
	}
	return "v3." + strings.TrimLeft(parts[0][1:], "0") + "." + parts[1]
}
