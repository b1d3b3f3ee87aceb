package testhosts

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"xgen-infra/internal/testkit/debian"
)

// Docker is a real Docker engine on a test host: Debian's docker.io (dockerd, containerd,
// runc) started at every boot, as systemd starts an enabled docker.service, with the real
// `docker compose` plugin. It runs inside the host's namespaces: its data under the host's
// /var (its disk), its sockets in the host's /run, its bridges in the host's network
// namespace. Nothing can be pulled here: images reach it by `docker load` (Images, or the
// site's own image bundle).
type Docker struct {
	// ComposePlugin is the docker-compose CLI plugin binary (tools: .tools/bin/docker-compose).
	ComposePlugin string
	// Images are docker-archives loaded once the engine answers at start: what a host on an
	// online network would pull from the registries. A closed-network host gets none (its
	// images come only from the site's image bundle).
	Images []string
}

// NewDocker is a Docker engine with the compose plugin `make tools` builds into toolsDir and
// images (reference → docker-archive) loaded at start.
func NewDocker(toolsDir string, images map[string]string) *Docker {
	d := &Docker{ComposePlugin: filepath.Join(toolsDir, "bin", "docker-compose")}
	for _, file := range images {
		d.Images = append(d.Images, file)
	}
	slices.Sort(d.Images)
	return d
}

// Docker's addresses on every test host: 198.19.0.0/16, the upper half of the test range
// 198.18.0.0/15 (RFC 2544) whose lower half the hosts' own subnets take (198.18.1-250.0/24,
// claimSubnet). Each host's bridges live in its own network namespace, so the hosts can all
// use the same pool: the only other network a host sees is its own 198.18.x.0/24.
const (
	dockerBridgeIP = "198.19.0.1/24"
	dockerPool     = "198.19.0.0/16"
	// dockerComposeFile is the plugin's copy in the host's directory (boot.sh installs it).
	dockerComposeFile = "docker-compose"
)

// EnsureDockerPackages installs Debian's Docker engine when it is missing.
func EnsureDockerPackages() error {
	return debian.Ensure(map[string]string{"/usr/sbin/dockerd": "docker.io"})
}

// cgroupParent is the cgroup the host's containers run under (in every hierarchy): one per
// host, so that two hosts' engines never share one and the host's containers can be found.
func (h *Host) cgroupParent() string { return "xgen-testhost-" + h.netns }

// files adds the engine's configuration and the compose plugin to the host's boot files.
func (d *Docker) files(h *Host, files map[string][]byte) error {
	config, err := json.MarshalIndent(map[string]any{
		// vfs: the host's /var is an overlay, where overlay2 cannot stack; vfs works anywhere.
		"storage-driver": "vfs",
		// The machine's firewall is not the test host's to change; published ports go
		// through docker-proxy, containers reach each other on their bridge.
		"iptables":              false,
		"ip-masq":               false,
		"bip":                   dockerBridgeIP,
		"default-address-pools": []map[string]any{{"base": dockerPool, "size": 24}},
		"cgroup-parent":         h.cgroupParent(),
		"log-level":             "warn",
	}, "", "  ")
	if err != nil {
		return err
	}
	files["daemon.json"] = config
	plugin, err := os.ReadFile(d.ComposePlugin)
	if err != nil {
		return fmt.Errorf("docker compose plugin: %w", err)
	}
	files[dockerComposeFile] = plugin
	return nil
}

// waitDocker waits until the host's engine answers `docker info` over SSH, as root.
func (h *Hosts) waitDocker(ctx context.Context, host *Host, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := h.Run(ctx, host.Name, "sudo -n docker info --format '{{.ServerVersion}}'")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("docker: the engine did not answer in %s: %v\n%s", timeout, err, tail(dockerLogPath(host)))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// loadImages waits for the engine and loads the host's images.
func (h *Hosts) loadImages(ctx context.Context, host *Host) error {
	if err := h.waitDocker(ctx, host, time.Minute); err != nil {
		return err
	}
	for _, archive := range host.Docker.Images {
		if out, err := h.Run(ctx, host.Name, "sudo -n docker load --quiet --input "+shellQuote(archive)); err != nil {
			return fmt.Errorf("docker load %s: %w\n%s", archive, err, out)
		}
	}
	return nil
}

// DockerVersion is the version of the engine running on a host (docker info).
func (h *Hosts) DockerVersion(ctx context.Context, name string) (string, error) {
	host := h.Host(name)
	if err := h.waitDocker(ctx, host, time.Minute); err != nil {
		return "", err
	}
	out, err := h.Run(ctx, name, "sudo -n docker info --format '{{.ServerVersion}}'")
	return strings.TrimSpace(out), err
}

// StopDocker stops a host's engine as `systemctl stop docker` would (its containers stop
// with it); the host runs on. The engine starts again at the host's next boot.
func (h *Hosts) StopDocker(name string) { stopDocker(h.Host(name)) }

// stopDocker sends dockerd SIGTERM (it stops the containers, each with its stop signal and
// grace period) and waits for it to end.
func stopDocker(host *Host) {
	pid := dockerdPID(host)
	if pid == 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 300 && processExists(pid); i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

func dockerdPID(host *Host) int {
	for _, pid := range netnsPIDs(host.netns) {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.HasPrefix(string(cmdline), "dockerd\x00") {
			return pid
		}
	}
	return 0
}

func processExists(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	// A zombie (state Z) has ended; its parent has not reaped it yet.
	return err == nil && !strings.Contains(string(data), ") Z ")
}

// cgroupHierarchies are the machine's cgroup v1 hierarchies (the host's engine puts its
// containers under cgroupParent in each).
func cgroupHierarchies() []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*")
	return dirs
}

// cgroupPIDs lists the processes in a cgroup parent (any hierarchy), its children's too.
func cgroupPIDs(parent string) []int {
	seen := map[int]bool{}
	var pids []int
	for _, h := range cgroupHierarchies() {
		_ = filepath.WalkDir(filepath.Join(h, parent), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}

// removeCgroups kills what is left in a cgroup parent and removes its (then empty) cgroups.
func removeCgroups(parent string) {
	for _, pid := range cgroupPIDs(parent) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for i := 0; i < 50 && len(cgroupPIDs(parent)) > 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	for _, h := range cgroupHierarchies() {
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(h, parent), func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- { // children first
			_ = syscall.Rmdir(dirs[i])
		}
	}
}

// removeAllCgroups removes every test host's cgroups (CleanupAll).
func removeAllCgroups() {
	seen := map[string]bool{}
	for _, h := range cgroupHierarchies() {
		dirs, _ := filepath.Glob(filepath.Join(h, "xgen-testhost-*"))
		for _, d := range dirs {
			if name := filepath.Base(d); !seen[name] {
				seen[name] = true
				removeCgroups(name)
			}
		}
	}
}

// DockerLog is the end of the host engine's log (for a failing test's message).
func (h *Hosts) DockerLog(name string) string { return tail(dockerLogPath(h.Host(name))) }

func dockerLogPath(host *Host) string {
	return filepath.Join(host.dir, "fs", "_var", "upper", "log", "dockerd.log")
}
