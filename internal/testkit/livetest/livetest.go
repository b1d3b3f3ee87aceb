// Package livetest is what the tests of the live layers share (tests/apiserver,
// tests/realengine, tests/hosts): the tools `make tools` builds, a local control plane, bare
// test hosts with the K3s and Docker stand-ins, and the checks they all make on a cluster's
// nodes. TEST-ONLY; the mock layer (tests/mock) does not link it.
package livetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"xgen-infra/internal/testkit/harness"
	"xgen-infra/internal/testkit/testhosts"
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

// StartHosts starts bare test hosts with the Docker stand-in installed, stopped (and checked
// for processes left behind) when the test ends.
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
	// Docker for the sites' compose projects: the TEST-ONLY stand-in.
	docker, err := testhosts.BuildDockerStandIn(t.TempDir())
	if err == nil {
		err = hosts.InstallDocker(ctx, docker)
	}
	if err != nil {
		t.Fatal(err)
	}
	return hosts
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
