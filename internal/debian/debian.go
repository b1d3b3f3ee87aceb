// Package debian installs the Debian packages a test needs when they are missing (a fresh
// CI machine has none of them): for tests and test tools only.
package debian

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
)

var mu sync.Mutex

// Ensure installs, with apt-get, the package of every file in files (path → package) that
// does not exist. Packages are installed once per call, together.
func Ensure(files map[string]string) error {
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]bool{}
	var missing []string
	for path, pkg := range files {
		if _, err := os.Stat(path); err != nil && !seen[pkg] {
			seen[pkg] = true
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	if os.Geteuid() != 0 {
		return fmt.Errorf("debian packages %s are missing and this is not root: apt-get install %s", strings.Join(missing, " "), strings.Join(missing, " "))
	}
	if out, err := exec.Command("apt-get", "update", "-qq").CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update: %v\n%s", err, out)
	}
	install := exec.Command("apt-get", append([]string{"install", "-y", "-qq", "--no-install-recommends"}, missing...)...)
	install.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get install %s: %v\n%s", strings.Join(missing, " "), err, out)
	}
	return nil
}
