// Package testhosts runs bare test hosts on this machine for the host-layer tests and the
// demo: each host has its own network namespace and address (a veth on a private bridge),
// its own mount and UTS namespaces (overlays over /etc, /var, /srv, /usr/local, /home and /root,
// so that scripts write /etc/rancher, /var/lib/rancher, /usr/local/bin and systemd units
// without touching the machine), and Debian's OpenSSH sshd with key-only login, a pinned
// ed25519 host key and a non-root user with passwordless sudo. A host's link can be cut and
// restored; everything is stopped by PID. A host can run a real Docker engine (Spec.Docker:
// Debian's docker.io with the compose plugin). Needs root, iproute2, openssh-server and sudo
// (EnsurePackages installs the last three; StartDocker docker.io).
package testhosts

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	_ "embed"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"xgen-infra/internal/testkit/debian"
)

var (
	//go:embed scripts/boot.sh
	bootScript []byte
	//go:embed scripts/systemctl.sh
	systemctlScript []byte
)

// Host is one test host.
type Host struct {
	Name, Address string
	// HostKey is the pinned public host key line ("ssh-ed25519 AAAA...").
	HostKey string
	GPU     bool

	// Docker is the host's Docker engine, nil for none.
	Docker *Docker

	netns, veth, dir string
	sshd             *exec.Cmd
}

// Spec asks for a host.
type Spec struct {
	Name string
	GPU  bool
	// Docker runs a real Docker engine on the host (nil: none, as on a K3s-only node).
	Docker *Docker
}

// Hosts is a running set of test hosts on one bridge.
type Hosts struct {
	Hosts []*Host
	// User logs in with PrivateKey (PEM) and has passwordless sudo.
	User, PrivateKey string
	// Gateway is this machine's address on the hosts' network.
	Gateway string

	id, bridge, dir string
}

// EnsurePackages installs what is missing with apt-get (a fresh CI machine has none).
func EnsurePackages() error {
	return debian.Ensure(map[string]string{"/usr/sbin/ip": "iproute2", "/usr/sbin/sshd": "openssh-server", "/usr/bin/sudo": "sudo"})
}

// Start starts one host per spec under dir. On error everything started is stopped.
func Start(ctx context.Context, dir string, specs []Spec) (*Hosts, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("testhosts: needs root (network and mount namespaces)")
	}
	if err := EnsurePackages(); err != nil {
		return nil, fmt.Errorf("testhosts: %w", err)
	}
	for _, s := range specs {
		if s.Docker != nil {
			if err := EnsureDockerPackages(); err != nil {
				return nil, fmt.Errorf("testhosts: %w", err)
			}
			break
		}
	}
	h := &Hosts{User: "xgen", dir: dir}
	if err := h.start(ctx, specs); err != nil {
		if stopErr := h.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	return h, nil
}

func (h *Hosts) start(ctx context.Context, specs []Spec) error {
	if err := os.MkdirAll(h.dir, 0o700); err != nil {
		return err
	}
	subnet, err := h.claimSubnet()
	if err != nil {
		return err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return err
	}
	h.PrivateKey = string(pem.EncodeToMemory(block))
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return err
	}
	authorized := ssh.MarshalAuthorizedKey(signer.PublicKey())

	for i, spec := range specs {
		host := &Host{
			Name: spec.Name, GPU: spec.GPU, Docker: spec.Docker, Address: fmt.Sprintf("198.18.%d.%d", subnet, 10+i),
			netns: fmt.Sprintf("xgh%s-%d", h.id, i), veth: fmt.Sprintf("xgv%s%d", h.id, i),
			dir: filepath.Join(h.dir, spec.Name),
		}
		h.Hosts = append(h.Hosts, host)
		if err := h.startHost(host, authorized); err != nil {
			return fmt.Errorf("testhosts: %s: %w", spec.Name, err)
		}
	}
	for _, host := range h.Hosts {
		if err := waitSSH(ctx, host.Address+":22", 10*time.Second); err != nil {
			return fmt.Errorf("testhosts: %s: sshd: %w\n%s", host.Name, err, tail(filepath.Join(host.dir, "sshd.log")))
		}
	}
	for _, host := range h.Hosts {
		if host.Docker != nil {
			if err := h.loadImages(ctx, host); err != nil {
				return fmt.Errorf("testhosts: %s: %w", host.Name, err)
			}
		}
	}
	return nil
}

func (h *Hosts) startHost(host *Host, authorizedKey []byte) error {
	if err := os.MkdirAll(host.dir, 0o700); err != nil {
		return err
	}
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(hostPriv, "")
	if err != nil {
		return err
	}
	signer, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return err
	}
	host.HostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	files := map[string][]byte{
		"ssh_host_ed25519_key": pem.EncodeToMemory(block),
		"authorized_keys":      authorizedKey,
		"boot.sh":              bootScript,
		"systemctl":            systemctlScript,
		"sshd_config": []byte(fmt.Sprintf(`# TEST-ONLY sshd of test host %s
ListenAddress %s
Port 22
HostKey /run/testhost/ssh_host_ed25519_key
PidFile /run/sshd.pid
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
`, host.Name, host.Address)),
	}
	if host.Docker != nil {
		if err := host.Docker.files(host, files); err != nil {
			return err
		}
	}
	for name, data := range files {
		mode := os.FileMode(0o600)
		if name == "systemctl" || name == "boot.sh" || name == dockerComposeFile {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(host.dir, name), data, mode); err != nil {
			return err
		}
	}
	steps := [][]string{
		{"netns", "add", host.netns},
		{"link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns},
		{"link", "set", host.veth, "master", h.bridge, "up"},
		{"-n", host.netns, "addr", "add", host.Address + "/24", "dev", "eth0"},
		{"-n", host.netns, "link", "set", "eth0", "up"},
		{"-n", host.netns, "link", "set", "lo", "up"},
		{"-n", host.netns, "route", "add", "default", "via", h.Gateway},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	return h.boot(host)
}

// boot starts the host's init (boot.sh: mounts, user, the enabled units, then sshd) in its
// network namespace, with fresh mount, UTS and PID namespaces.
func (h *Hosts) boot(host *Host) error {
	logFile, err := os.OpenFile(filepath.Join(host.dir, "sshd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", host.netns, "unshare", "--mount", "--uts", "--pid", "--fork", "--mount-proc", "--propagation", "private",
		"/bin/sh", filepath.Join(host.dir, "boot.sh"), host.dir, host.Name, h.User, strconv.FormatBool(host.GPU))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	host.sshd = cmd
	go func() { _ = cmd.Wait(); logFile.Close() }()
	return nil
}

// Reboot restarts a host as a reboot would: every process on it is stopped (SIGTERM, then
// SIGKILL after 15 s), its files stay (the overlays' upper layers are its disk; /run is
// fresh), and it boots again: the units enabled with systemctl start, then sshd. It returns
// once SSH answers.
func (h *Hosts) Reboot(ctx context.Context, name string) error {
	host := h.Host(name)
	if err := stopHost(host); err != nil {
		return fmt.Errorf("testhosts: reboot %s: %w", name, err)
	}
	if err := h.boot(host); err != nil {
		return fmt.Errorf("testhosts: reboot %s: %w", name, err)
	}
	if err := waitSSH(ctx, host.Address+":22", 30*time.Second); err != nil {
		return fmt.Errorf("testhosts: reboot %s: sshd: %w\n%s", name, err, tail(filepath.Join(host.dir, "sshd.log")))
	}
	return nil
}

// stopHost stops every process on a host as a shutdown would: its Docker engine first (which
// stops the containers with their stop signals, as systemd stops docker.service), then
// everything in its network namespace. The containers run in namespaces of their own, inside
// the host's PID namespace: when its init (sshd) ends, the kernel ends them too.
func stopHost(host *Host) error {
	if host.Docker != nil {
		stopDocker(host)
	}
	err := stopNetns(host.netns)
	if host.Docker != nil {
		removeCgroups(host.cgroupParent())
	}
	return err
}

// stopNetns stops every process in a network namespace: SIGTERM, then SIGKILL after 15 s.
func stopNetns(ns string) error {
	for _, pid := range netnsPIDs(ns) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(netnsPIDs(ns)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range netnsPIDs(ns) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for i := 0; i < 50 && len(netnsPIDs(ns)) > 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if left := netnsPIDs(ns); len(left) > 0 {
		return fmt.Errorf("processes %v did not stop", left)
	}
	return nil
}

// claimSubnet gives the set a private /24 of 198.18.0.0/15 (RFC 2544, for network tests)
// that no interface on this machine has, and its bridge. Sets are started by parallel tests
// in several test processes: the choice and the bridge's address are made under a lock
// file, so that two sets never share a subnet (their hosts' addresses would clash).
func (h *Hosts) claimSubnet() (int, error) {
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "xgen-testhosts.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return 0, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return 0, fmt.Errorf("testhosts: lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too
	out, err := exec.Command("ip", "-o", "-4", "addr", "show").Output()
	if err != nil {
		return 0, fmt.Errorf("testhosts: ip addr: %w", err)
	}
	var b [2]byte
	_, _ = rand.Read(b[:])
	start := int(binary.BigEndian.Uint16(b[:]))
	for i := 0; i < 250; i++ {
		subnet := 1 + (start+i)%250
		if strings.Contains(string(out), fmt.Sprintf(" 198.18.%d.", subnet)) {
			continue
		}
		h.id = fmt.Sprintf("%04x", (start+i)%0x10000)
		h.bridge = "xgb" + h.id
		h.Gateway = fmt.Sprintf("198.18.%d.1", subnet)
		if err := ip("link", "add", h.bridge, "type", "bridge"); err != nil {
			return 0, err
		}
		for _, args := range [][]string{{"addr", "add", h.Gateway + "/24", "dev", h.bridge}, {"link", "set", h.bridge, "up"}} {
			if err := ip(args...); err != nil {
				return 0, err
			}
		}
		return subnet, nil
	}
	return 0, fmt.Errorf("testhosts: every subnet of 198.18.1-250.0/24 is in use")
}

// Host returns the host of that name.
func (h *Hosts) Host(name string) *Host {
	for _, host := range h.Hosts {
		if host.Name == name {
			return host
		}
	}
	return nil
}

// CutLink takes a host off the network (its link on the bridge goes down).
func (h *Hosts) CutLink(name string) error { return ip("link", "set", h.Host(name).veth, "down") }

// RestoreLink puts a host back on the network.
func (h *Hosts) RestoreLink(name string) error { return ip("link", "set", h.Host(name).veth, "up") }

// Processes lists the command lines of the processes running on a host, by PID: its own and
// its containers'.
func (h *Hosts) Processes(name string) map[int]string {
	out := map[int]string{}
	host := h.Host(name)
	pids := netnsPIDs(host.netns)
	if host.Docker != nil {
		pids = append(pids, cgroupPIDs(host.cgroupParent())...)
	}
	for _, pid := range pids {
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
			out[pid] = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

// AsRoot runs a shell script as root on a host from outside it (in its mount, UTS and
// network namespaces), for what the host's user cannot do for itself: repair its sudo.
func (h *Hosts) AsRoot(ctx context.Context, name, script string) (string, error) {
	for pid, cmdline := range h.Processes(name) {
		if strings.Contains(cmdline, "sshd -D") { // the listener, in the host's namespaces
			out, err := exec.CommandContext(ctx, "nsenter", "--target", strconv.Itoa(pid), "--mount", "--uts", "--net",
				"/bin/sh", "-euc", script).CombinedOutput()
			if err != nil {
				return string(out), fmt.Errorf("testhosts: %s: as root: %w: %s", name, err, out)
			}
			return string(out), nil
		}
	}
	return "", fmt.Errorf("testhosts: %s: its sshd is not running", name)
}

// DropSSH ends every SSH session on a host at once, as a dropped connection would (its
// sshd session processes are killed; the listener stays, so the next connection works).
// It returns how many sessions it ended.
func (h *Hosts) DropSSH(name string) int {
	n := 0
	for pid, cmdline := range h.Processes(name) {
		// Sessions are "sshd: USER [priv]" and "sshd: USER@notty"; the listener (its title
		// "sshd: /usr/sbin/sshd -D ... [listener] ...") stays.
		if strings.HasPrefix(cmdline, "sshd: ") && !strings.Contains(cmdline, "[listener]") && syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// Stop kills every process in every host's network namespace (sshd, and whatever the
// scripts started: the K3s stand-ins and their control planes), then removes the
// namespaces and the bridge.
func (h *Hosts) Stop() error {
	var errs []error
	for _, host := range h.Hosts {
		if err := stopHost(host); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", host.Name, err))
		}
		_ = ip("link", "del", host.veth)
		if err := ip("netns", "del", host.netns); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
	}
	if h.bridge != "" {
		_ = ip("link", "del", h.bridge)
	}
	return errors.Join(errs...)
}

// Alive lists the processes still running in any host's namespaces, its containers' too.
func (h *Hosts) Alive() []int {
	var pids []int
	for _, host := range h.Hosts {
		pids = append(pids, netnsPIDs(host.netns)...)
		if host.Docker != nil {
			pids = append(pids, cgroupPIDs(host.cgroupParent())...)
		}
	}
	return pids
}

func netnsPIDs(ns string) []int {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func waitSSH(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			buf := make([]byte, 4)
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, err = conn.Read(buf)
			conn.Close()
			if err == nil && string(buf) == "SSH-" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no SSH banner at %s after %s: %v", addr, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 3000 {
		data = data[len(data)-3000:]
	}
	return string(data)
}

// FileWith is a file on a host (on its disk, in its /run, or a mktemp file in /tmp), its mode
// and its owner.
type FileWith struct {
	Path string // as the host sees it, e.g. /srv/xgen-infra/.env
	Mode os.FileMode
	UID  uint32
	// Private: no user but root can read it: the file is root's and closed to others, or a
	// directory on its path is root's and closed to others (no search permission for its group
	// and the rest), e.g. a 0644 file under Docker's 0700 state directories.
	Private bool
}

// FilesContaining lists the files a host's scripts left whose content contains needle:
// everything written on its disk (its overlays' upper layers), its private /run (read
// through its mount namespace, /proc/<sshd>/root/run), and the mktemp files (tmp.*) in /tmp,
// which stays the machine's. A Docker engine's image and container layers (/var/lib/docker's
// storage driver directories: the images' files, copied for each container) and its
// namespace handles (/run/docker/netns) are not what a script wrote and are left out; its
// containers' configuration (/var/lib/docker/containers) is searched.
func (h *Hosts) FilesContaining(name, needle string) ([]FileWith, error) {
	host := h.Host(name)
	type place struct{ dir, as string }
	var places []place
	layers, err := filepath.Glob(filepath.Join(host.dir, "fs", "*", "upper"))
	if err != nil {
		return nil, err
	}
	for _, upper := range layers {
		places = append(places, place{upper, strings.ReplaceAll(filepath.Base(filepath.Dir(upper)), "_", "/")}) // "_var" → "/var"
	}
	if host.sshd != nil && host.sshd.Process != nil {
		places = append(places, place{fmt.Sprintf("/proc/%d/root/run", host.sshd.Process.Pid), "/run"})
	}
	temps, err := filepath.Glob("/tmp/tmp.*")
	if err != nil {
		return nil, err
	}
	var out []FileWith
	check := func(path, as, root string, info os.FileInfo) error {
		if !info.Mode().IsRegular() || info.Size() > 64<<20 {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(data), needle) {
			f := FileWith{Path: as, Mode: info.Mode().Perm()}
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				f.UID = st.Uid
			}
			f.Private = f.UID == 0 && f.Mode&0o077 == 0 || closedDirOnPath(path, root)
			out = append(out, f)
		}
		return nil
	}
	for _, p := range places {
		err := filepath.WalkDir(p.dir, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(p.dir, path)
			as := filepath.Join(p.as, rel)
			if d.IsDir() && slices.Contains([]string{"/var/lib/docker/vfs", "/var/lib/docker/image", "/run/docker/netns"}, as) {
				return filepath.SkipDir
			}
			if !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			return check(path, as, p.dir, info)
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	for _, path := range temps {
		info, err := os.Lstat(path)
		if err != nil {
			continue // gone meanwhile
		}
		if info.IsDir() {
			continue
		}
		if err := check(path, path, "/tmp", info); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return out, nil
}

// closedDirOnPath: a directory from path's up to root (inclusive) is root's and gives its
// group and the rest no search permission.
func closedDirOnPath(path, root string) bool {
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		info, err := os.Stat(dir)
		if err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid == 0 && info.Mode().Perm()&0o011 == 0 {
				return true
			}
		}
		if dir == root || dir == filepath.Dir(dir) || !strings.HasPrefix(dir, root) {
			return false
		}
	}
}
