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
	return withAptLock(func() error { return install(missing(files)) })
}

// withAptLock runs f holding the machine-wide lock of the tests' apt-get calls.
func withAptLock(f func() error) error {
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "xgen-infra-apt.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("apt lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too
	return f()
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

// Extract unpacks Debian's package pkg (the version apt offers) into dir without installing it:
// `apt-get download` and `dpkg-deb -x`, so none of its maintainer scripts runs and nothing it
// ships starts on this machine. A dir that holds that version already is kept.
func Extract(pkg, dir string) error {
	mu.Lock()
	defer mu.Unlock()
	return withAptLock(func() error { return extract(pkg, dir) })
}

func extract(pkg, dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".deb-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	download := func() ([]byte, error) {
		cmd := exec.Command("apt-get", "download", "-qq", pkg)
		cmd.Dir = tmp
		return cmd.CombinedOutput()
	}
	if _, err := download(); err != nil { // a fresh machine has no package lists yet
		if out, err := exec.Command("apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-qq").CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get update: %v\n%s", err, out)
		}
		if out, err := download(); err != nil {
			return fmt.Errorf("apt-get download %s: %v\n%s", pkg, err, out)
		}
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, pkg+"_*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download %s: no single .deb in %s", pkg, tmp)
	}
	stamp := filepath.Join(dir, ".deb")
	if old, err := os.ReadFile(stamp); err == nil && string(old) == filepath.Base(debs[0]) {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], dir).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %v\n%s", debs[0], err, out)
	}
	return os.WriteFile(stamp, []byte(filepath.Base(debs[0])), 0o644)
}
