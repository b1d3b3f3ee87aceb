package fleet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The kubernetes provider leaves the kubeconfig it was given (cluster-admin credentials on a
// K3s site) in a temp file. A stand-in CLI does the same here: after each fleet run nothing
// of it may remain under the operator's temp directory.
func TestCLIRunsInAPrivateTempDirThatGoes(t *testing.T) {
	parent := t.TempDir()
	t.Setenv("TMPDIR", parent)
	bin := filepath.Join(t.TempDir(), "pulumi")
	script := `#!/bin/sh
set -eu
umask 077
printf 'client-key-data: secret\n' > "$(mktemp "${TMPDIR:-/tmp}/kubeconfigXXXXXX")"
printf '{"tmpdir": "%s"}\n' "${TMPDIR:-/tmp}"
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s := CLIStack{Stack: "xgen-jeju", Dir: t.TempDir(), Pulumi: bin}
	for run := range 2 {
		out, err := s.Outputs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		dir, _ := out["tmpdir"].(string)
		if dir == parent || !strings.HasPrefix(dir, parent+string(os.PathSeparator)) {
			t.Fatalf("run %d: the CLI's TMPDIR is %q, want a private directory under %s", run, dir, parent)
		}
		left, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 0 {
			t.Fatalf("run %d: left in the temp directory: %v", run, left)
		}
	}
}
