package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

func TestStartNamesMissingTools(t *testing.T) {
	_, err := Start(context.Background(), Options{ToolsDir: t.TempDir(), Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "etcd is missing") || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("got %v", err)
	}
}

// TestStartCleansUpWhenAComponentDies: stand-in binaries that exit at once make Start fail
// with the component's name and log, and return no cluster (and no panic).
func TestStartCleansUpWhenAComponentDies(t *testing.T) {
	tools := t.TempDir()
	bin := filepath.Join(tools, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		script := "#!/bin/sh\necho " + name + " refuses to start >&2\nexit 3\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Start(context.Background(), Options{ToolsDir: tools, Dir: filepath.Join(t.TempDir(), "relative-made-absolute")})
	if c != nil {
		t.Error("a cluster was returned with the error")
	}
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "refuses to start") {
		t.Fatalf("got %v", err)
	}
}

// TestCreateNodeRegistersWithItsVersion: a node appears with its version, addresses and
// capacity already in its status (as a kubelet registers), so kwok, which initialises a node's
// status the moment it sees it, never reports its own version instead: it did, now and then,
// when the version was written after the create, and K3s's uncordon then waited in vain.
func TestCreateNodeRegistersWithItsVersion(t *testing.T) {
	tools := os.Getenv("XGEN_TOOLS_DIR")
	if tools == "" {
		t.Skip("harness integration test: run through `make test` (it builds the tools and sets XGEN_TOOLS_DIR)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{ToolsDir: tools, Dir: t.TempDir(), Nodes: []Node{{Name: "s1", KubeletVersion: "v1.31.4+k3s1"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Stop() }()
	w, err := c.Client.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=agent-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	want := Node{Name: "agent-1", KubeletVersion: "v1.31.4+k3s1", Address: "10.0.0.7", Labels: map[string]string{"role": "agent"}}
	if err := c.CreateNode(ctx, want); err != nil {
		t.Fatal(err)
	}
	ev := <-w.ResultChan()
	node, ok := ev.Object.(*corev1.Node)
	if ev.Type != watch.Added || !ok {
		t.Fatalf("first event %s %T, want the node Added", ev.Type, ev.Object)
	}
	if got := node.Status.NodeInfo.KubeletVersion; got != want.KubeletVersion {
		t.Errorf("registered with version %q, want %q", got, want.KubeletVersion)
	}
	if len(node.Status.Addresses) == 0 || node.Status.Addresses[0].Address != want.Address {
		t.Errorf("registered with addresses %v, want InternalIP %s", node.Status.Addresses, want.Address)
	}
	if node.Labels["role"] != "agent" || node.Annotations[FakeNodeAnnotation] != "fake" {
		t.Errorf("registered with labels %v annotations %v", node.Labels, node.Annotations)
	}
	// Creating it again (a re-join) keeps it Ready on its version.
	if err := c.CreateNode(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := c.Client.CoreV1().Nodes().Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !NodeReady(got) || got.Status.NodeInfo.KubeletVersion != want.KubeletVersion {
		t.Errorf("after a re-join: Ready %v on %q", NodeReady(got), got.Status.NodeInfo.KubeletVersion)
	}
}
