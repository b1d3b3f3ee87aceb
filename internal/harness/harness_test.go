package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
