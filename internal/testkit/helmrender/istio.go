package helmrender

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// IstioModule carries Istio's charts (manifests/charts) for the tests: the module proxy
// serves istio.io/istio only as this pseudo-version, whose charts match the 1.31 line the
// site stacks pin (the harness' CRDs are istio.io/api v1.31.1).
const IstioModule = "istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad"

var istioCharts = sync.OnceValues(func() (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", IstioModule)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", IstioModule, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s %v", IstioModule, m.Error, err)
	}
	return filepath.Join(m.Dir, "manifests", "charts"), nil
})

// IstioChartsDir is a local Istio charts directory (base/, istio-control/istio-discovery/,
// gateway/), fetched into the module cache on first use.
func IstioChartsDir() (string, error) { return istioCharts() }
