// Package livetest is what the tests of the live layers share (tests/apiserver,
// tests/realengine, tests/hosts): the tools `make tools` builds, a local control plane, bare
// test hosts with the K3s stand-in and real Docker engines, and the checks they all make on a cluster's
// nodes. TEST-ONLY; the mock layer (tests/mock) does not link it.
package livetest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/harness"
	"xgen-infra/internal/testkit/testhosts"
	"xgen-infra/internal/testkit/testimages"
	"xgen-infra/sites"
)

const (
	// HostsVersion is the K3s release the test hosts install (as the K3s stand-in's
	// artifacts): the minor before the stack files' release.
	HostsVersion = "v1.35.6+k3s1"
	// UpgradeVersion is the release an upgrade test moves them to: the stack files' release,
	// one minor up (the last step of the running sites' upgrade path).
	UpgradeVersion = "v1.36.1+k3s1"
	// SkipVersion is two minors ahead of HostsVersion: the upgrade is refused.
	SkipVersion = "v1.37.2+k3s1"
)

// ToolsDir is the directory `make tools` builds into (XGEN_TOOLS_DIR, which `make test`
// sets); without it the test is skipped, saying how to run it.
func ToolsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("XGEN_TOOLS_DIR")
	if dir == "" {
		t.Skip("harness integration test: run through `make test` (it builds the tools and sets XGEN_TOOLS_DIR)")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// StartCluster starts a local control plane with Istio's CRDs, stopped when the test ends.
func StartCluster(t testing.TB) *harness.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := harness.Start(ctx, harness.Options{ToolsDir: ToolsDir(t), Dir: t.TempDir(), InstallIstioCRDs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// StartOwnersCluster starts a local control plane standing in for a cluster the program does
// not make (a kubeconfig site, where a stack is only its Kubernetes layer): the owner's GPU
// device plugin is on it, as it is on the real one.
func StartOwnersCluster(t testing.TB) *harness.Cluster {
	t.Helper()
	c := StartCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.InstallOwnersDevicePlugin(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// StartHosts starts bare test hosts (those whose spec asks for Docker run a real engine:
// Docker or ClosedDocker), stopped (and checked for processes left behind) when the test ends.
func StartHosts(t testing.TB, specs []testhosts.Spec) *testhosts.Hosts {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hosts, err := testhosts.Start(ctx, t.TempDir(), specs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := hosts.Stop(); err != nil {
			t.Errorf("stopping test hosts: %v", err)
		}
		if left := hosts.Alive(); len(left) > 0 {
			t.Errorf("processes left on the test hosts: %v", left)
		}
	})
	return hosts
}

var composeImages struct {
	once  sync.Once
	files map[string]string
	err   error
}

// ComposeImages are the compose project's test images (testimages.Defaults, built by
// testimages once per test process): reference → docker-archive.
func ComposeImages(t testing.TB) map[string]string {
	t.Helper()
	tools := ToolsDir(t)
	composeImages.once.Do(func() {
		dir, err := testimages.ProcessDir(filepath.Join(tools, "testimages"))
		if err == nil {
			composeImages.files, err = testimages.Build(dir, testimages.Defaults())
		}
		composeImages.err = err
	})
	if composeImages.err != nil {
		t.Fatal(composeImages.err)
	}
	return composeImages.files
}

// Docker is a real Docker engine for a compose test host on an online network: the compose
// plugin `make tools` builds, and the compose images loaded before the test starts (what the
// host would pull from the registries; nothing can be pulled here).
func Docker(t testing.TB) *testhosts.Docker {
	t.Helper()
	return testhosts.NewDocker(ToolsDir(t), ComposeImages(t))
}

// ClosedDocker is a real Docker engine for a compose host on a closed network: no image
// until the site's image bundle brings them.
func ClosedDocker(t testing.TB) *testhosts.Docker {
	t.Helper()
	return testhosts.NewDocker(ToolsDir(t), nil)
}

// StandInArtifacts are the K3s stand-in's air-gapped artifacts of a version, in a directory
// named after it.
func StandInArtifacts(t testing.TB, version string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), version)
	if err := testhosts.StandInArtifacts(dir, version, ToolsDir(t)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// CheckNodes waits up to a minute for the Ready, schedulable nodes and their kubelet
// versions to be exactly want.
func CheckNodes(ctx context.Context, t testing.TB, c *harness.Cluster, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		got := map[string]string{}
		if err == nil {
			for _, n := range nodes.Items {
				if harness.NodeReady(&n) && !n.Spec.Unschedulable {
					got[n.Name] = n.Status.NodeInfo.KubeletVersion
				}
			}
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ready, schedulable nodes %v, want %v (%v)", got, want, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// ClientKey is a kubeconfig's client key (client-key-data), to look for it where it must
// not be.
func ClientKey(kubeconfig []byte) string {
	for _, line := range strings.Split(string(kubeconfig), "\n") {
		if k, ok := strings.CutPrefix(strings.TrimSpace(line), "client-key-data: "); ok {
			return k
		}
	}
	return "no client key found"
}

// ImageBundle writes the image bundle of a site (as `images bundle` would) into a new
// directory and returns it: what a closed network's stack names in cluster.k3s.imageBundle.
func ImageBundle(t testing.TB, site *sites.Site) string {
	t.Helper()
	dir := t.TempDir()
	if err := testimages.WriteBundle(context.Background(), dir, site, ComposeImages(t)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// WithDocker gives the named hosts (the one that runs a stack file's compose project: the
// first server, where testhosts.Site puts it; and any it may move to) a real Docker engine:
// without any image for a closed network's site (its stack file names an image bundle: the
// images come only from it), with them preloaded otherwise. It returns the specs and
// whether the site is closed.
func WithDocker(t testing.TB, stackFile string, names []string, specs []testhosts.Spec) ([]testhosts.Spec, bool) {
	t.Helper()
	config, _, err := inprocess.LoadStackFile(stackFile)
	if err != nil {
		t.Fatal(err)
	}
	var site map[string]any
	if err := json.Unmarshal([]byte(config[sites.SiteKey]), &site); err != nil {
		t.Fatal(err)
	}
	if inprocess.Get(site, "infra", "compose", "host") == nil {
		return specs, false
	}
	closed := inprocess.Get(site, "cluster", "k3s", "imageBundle") != nil
	out := slices.Clone(specs)
	for i := range out {
		if slices.Contains(names, out[i].Name) {
			if closed {
				out[i].Docker = ClosedDocker(t)
			} else {
				out[i].Docker = Docker(t)
			}
		}
	}
	return out, closed
}

// WithImageBundle writes the image bundle of the site a stack file's config describes with
// site (its cluster pointed at test hosts) and names it in site's cluster.k3s.imageBundle.
func WithImageBundle(t testing.TB, stackFile string, site map[string]any) {
	t.Helper()
	parsed, err := inprocess.ParseWithSite(stackFile, site)
	if err != nil {
		t.Fatal(err)
	}
	k3s, _ := inprocess.Get(site, "cluster", "k3s").(map[string]any)
	if k3s == nil {
		t.Fatal("the site has no cluster.k3s section to name its image bundle in")
	}
	k3s["imageBundle"] = ImageBundle(t, parsed)
}

// WaitComposeHealthy waits up to two minutes for exactly the services want of a compose
// project on a host to run and, where they have a health check, be healthy (docker compose
// ps, as root).
func WaitComposeHealthy(ctx context.Context, t testing.TB, hosts *testhosts.Hosts, host, project string, want []string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := hosts.Run(ctx, host, "sudo -n docker compose -p "+project+" ps -a --format '{{.Service}} {{.State}} {{.Health}}'")
		var got []string
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[1] == "running" && (len(f) == 2 || f[2] == "healthy") {
				got = append(got, f[0])
			}
		}
		slices.Sort(got)
		if err == nil && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: compose project %s: running and healthy %v, want %v (%v):\n%s", host, project, got, want, err, out)
		}
		time.Sleep(time.Second)
	}
}
