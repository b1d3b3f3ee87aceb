// Package debian installs the Debian packages a test needs when they are missing (a fresh
// CI machine has none of them): for tests and test tools only.
package debian

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
)

var mu sync.Mutex

// Ensure installs, with apt-get, the package of every file in files (path → package) that
// does not exist. Packages are installed once per call, together. Test binaries run in
// parallel (go test -p), so the whole check-and-install holds a lock that other processes
// wait on: two apt-gets at once would fail on dpkg's lock.
func Ensure(files map[string]string) error {
	mu.Lock()
	defer mu.Unlock()
	if missing(files) == nil {
		return nil
	}
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "xgen-infra-apt.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("apt lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too
	return install(missing(files))
}

// missing lists the packages whose file is absent, sorted, once each.
func missing(files map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for path, pkg := range files {
		if _, err := os.Stat(path); err != nil && !seen[pkg] {
			seen[pkg] = true
			out = append(out, pkg)
		}
	}
	sort.Strings(out)
	return out
}

func install(missing []string) error {
	if len(missing) == 0 {
		return nil // another process installed them while this one waited
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("debian packages %s are missing and this is not root: apt-get install %s", strings.Join(missing, " "), strings.Join(missing, " "))
	}
	// Another apt user (not a test) may hold dpkg's lock: wait for it rather than fail.
	if out, err := exec.Command("apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-qq").CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update: %v\n%s", err, out)
	}
	install := exec.Command("apt-get", append([]string{"-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "--no-install-recommends"}, missing...)...)
	install.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get install %s: %v\n%s", strings.Join(missing, " "), err, out)
	}
	return nil
}
