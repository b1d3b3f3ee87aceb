package testhosts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// StandInArtifacts builds air-gapped "release files" for version into dir: the TEST-ONLY
// k3s stand-in (./k3s-standin) as `k3s`, a small images tarball and sha256sum-amd64.txt,
// the layout cluster.k3s.artifacts expects. toolsDir is where the stand-in finds the
// control-plane binaries and kubectl.
func StandInArtifacts(dir, version, toolsDir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return fmt.Errorf("go list -m: %w", err)
	}
	tools, err := filepath.Abs(toolsDir)
	if err != nil {
		return err
	}
	build := exec.Command("go", "build", "-trimpath", "-ldflags",
		fmt.Sprintf("-X main.version=%s -X main.toolsDir=%s", version, tools),
		"-o", filepath.Join(dir, "k3s"), "./internal/testkit/testhosts/k3s-standin")
	build.Dir = strings.TrimSpace(string(root))
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the k3s stand-in: %v\n%s", err, out)
	}
	images := filepath.Join(dir, "k3s-airgap-images-amd64.tar")
	if err := os.WriteFile(images, []byte("stand-in image tarball for "+version+"\n"), 0o644); err != nil {
		return err
	}
	var sums strings.Builder
	for _, name := range []string{"k3s", "k3s-airgap-images-amd64.tar"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), name)
	}
	return os.WriteFile(filepath.Join(dir, "sha256sum-amd64.txt"), []byte(sums.String()), 0o644)
}
