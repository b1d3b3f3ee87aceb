package main

// Real services: with /etc/docker-standin/real-services on the host, the project's postgres
// and redis services are the real servers from Debian's postgresql-15 and redis-server
// packages, run as their images would run them (so that the backup → restore round trip
// and Redis persistence are tested on real data, not on stand-in output):
//   - postgres: an empty volume is initialised like the image does (initdb with
//     POSTGRES_USER and POSTGRES_PASSWORD, local trust, scram over TCP), then the scripts in
//     the project's initdb directory run once; the server listens on the published address
//     and keeps its data in the volume's directory. `exec -T postgres CMD` runs CMD (psql,
//     pg_dump, pg_restore, sh /docker-entrypoint-initdb.d/...) with the service's
//     environment against it.
//   - redis: our own entrypoint (the project's redis-entrypoint.sh) starts redis-server with
//     the service's environment, in the volume's directory (the image's /data), on the
//     published address. `exec -T redis CMD` runs CMD (redis-cli) with the service's
//     environment (REDISCLI_AUTH) against it.
// The servers stop on `down`. Qdrant and MinIO stay stand-ins.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

const (
	realServicesFile = "/etc/docker-standin/real-services"
	pgBin            = "/usr/lib/postgresql/15/bin"
)

func realServices() bool {
	_, err := os.Stat(realServicesFile)
	return err == nil
}

// published is the service's host address and port for the container port.
func published(s types.ServiceConfig, target uint32) (string, string) {
	for _, p := range s.Ports {
		if p.Target == target {
			return p.HostIP, p.Published
		}
	}
	fail("service %s publishes no port %d", s.Name, target)
	return "", ""
}

// volumeDir is the host directory of the service's volume mounted at target.
func volumeDir(p *types.Project, s types.ServiceConfig, target string) string {
	for _, v := range s.Volumes {
		if v.Target == target && v.Type == "volume" {
			if dev := p.Volumes[v.Source].DriverOpts["device"]; dev != "" {
				return dev
			}
		}
	}
	fail("service %s has no volume at %s", s.Name, target)
	return ""
}

// serviceEnv is the service's environment (as resolved from the .env) after the host's.
func serviceEnv(s types.ServiceConfig, extra ...string) []string {
	env := append(os.Environ(), extra...)
	keys := make([]string, 0, len(s.Environment))
	for k := range s.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := s.Environment[k]; v != nil {
			env = append(env, k+"="+*v)
		}
	}
	return env
}

func postgresUser() *syscall.Credential {
	u, err := user.Lookup("postgres")
	if err != nil {
		fail("real services: no postgres user (install postgresql-15): %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func pgSocketDir(project string) string { return "/run/docker-standin-" + project + "-postgres" }

func run(cmd *exec.Cmd) {
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fail("real services: %s: %v", strings.Join(cmd.Args, " "), err)
	}
}

// pgData is where the server sees its volume: DATA_DIR is root's (0700), so, as Docker
// mounts the volume into the container, the volume's directory is bind-mounted under /run.
func pgData(project string) string { return pgSocketDir(project) + "-data" }

// startPostgres initialises an empty volume as the image does and starts the server.
func startPostgres(p *types.Project, dir string) {
	s := p.Services["postgres"]
	volume := volumeDir(p, s, "/var/lib/postgresql/data")
	host, port := published(s, 5432)
	cred := postgresUser()
	socket, data := pgSocketDir(p.Name), pgData(p.Name)
	for _, d := range []string{socket, data} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			fail("%v", err)
		}
	}
	if !mounted(data) {
		if err := syscall.Mount(volume, data, "", syscall.MS_BIND, ""); err != nil {
			fail("real services: mount %s on %s: %v", volume, data, err)
		}
	}
	for _, d := range []string{socket, data} {
		if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
			fail("%v", err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			fail("%v", err)
		}
	}
	asPostgres := func(name string, args ...string) *exec.Cmd {
		if !filepath.IsAbs(name) {
			name = filepath.Join(pgBin, name)
		}
		cmd := exec.Command(name, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Dir = data
		cmd.Env = serviceEnv(s, "PGHOST="+socket, "PGPORT="+port, "PATH="+pgBin+":/usr/bin:/bin")
		return cmd
	}
	if st := asPostgres("pg_ctl", "status", "-D", data); st.Run() == nil {
		return // already running
	}
	entries, _ := os.ReadDir(data)
	fresh := len(entries) == 0
	if fresh {
		pw := filepath.Join(socket, "pwfile")
		if err := os.WriteFile(pw, []byte(*s.Environment["POSTGRES_PASSWORD"]+"\n"), 0o600); err != nil {
			fail("%v", err)
		}
		_ = os.Chown(pw, int(cred.Uid), int(cred.Gid))
		run(asPostgres("initdb", "-D", data, "-U", *s.Environment["POSTGRES_USER"], "--pwfile="+pw,
			"--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C"))
		_ = os.Remove(pw)
		hba, err := os.OpenFile(filepath.Join(data, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			fail("%v", err)
		}
		fmt.Fprintln(hba, "host all all all scram-sha-256") // as the image does
		hba.Close()
	}
	run(asPostgres("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", filepath.Join(socket, "server.log"),
		"-o", fmt.Sprintf("-c listen_addresses=%s -p %s -k %s", host, port, socket)))
	if fresh { // the image runs /docker-entrypoint-initdb.d once, on a new data directory
		scripts, _ := filepath.Glob(filepath.Join(dir, "initdb", "*.sh"))
		sort.Strings(scripts)
		for _, script := range scripts {
			body, err := os.ReadFile(script) // root's; the server's user cannot read it in place
			if err != nil {
				fail("%v", err)
			}
			cmd := asPostgres("/bin/sh", "-s")
			cmd.Stdin = strings.NewReader(string(body))
			run(cmd)
		}
	}
}

func mounted(dir string) bool {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

func stopPostgres(p *types.Project) {
	if _, ok := p.Services["postgres"]; !ok {
		return
	}
	data := pgData(p.Name)
	cmd := exec.Command(filepath.Join(pgBin, "pg_ctl"), "stop", "-m", "fast", "-w", "-D", data)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: postgresUser()}
	cmd.Dir = "/"
	_ = cmd.Run() // not running: nothing to stop
	// Detached (lazily): a server still closing its files keeps the old mount busy, and a
	// mount left behind would make the next `up` run on the old volume, even when the
	// volume's directory was removed and made anew (a restore does that).
	if mounted(data) {
		if err := syscall.Unmount(data, syscall.MNT_DETACH); err != nil {
			fail("real services: unmount %s: %v", data, err)
		}
	}
}

func redisPIDFile(project string) string { return filepath.Join(stateDir, project+".redis.pid") }

// startRedis runs the service's entrypoint (our redis-entrypoint.sh) detached.
func startRedis(p *types.Project) {
	s := p.Services["redis"]
	if pid := readPID(redisPIDFile(p.Name)); pid > 0 && syscall.Kill(pid, 0) == nil {
		return
	}
	data := volumeDir(p, s, "/data")
	host, port := published(s, 6379)
	var entrypoint string
	for _, v := range s.Volumes {
		if v.Type == "bind" && v.Target == s.Entrypoint[len(s.Entrypoint)-1] {
			entrypoint = v.Source
		}
	}
	confDir := filepath.Join(stateDir, p.Name+".redis")
	if err := os.MkdirAll(confDir, 0o700); err != nil {
		fail("%v", err)
	}
	env := serviceEnv(s)
	for i, e := range env {
		if strings.HasPrefix(e, "XGEN_REDIS_CONFIG_DIR=") {
			env[i] = "XGEN_REDIS_CONFIG_DIR=" + confDir // the image's tmpfs
		}
	}
	log, err := os.OpenFile(filepath.Join(stateDir, p.Name+".redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		fail("%v", err)
	}
	cmd := exec.Command("/bin/sh", entrypoint, "--bind", host, "--port", port)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = data, env, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fail("%v", err)
	}
	_ = os.WriteFile(redisPIDFile(p.Name), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", net.JoinHostPort(host, port)); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			fail("redis did not listen on %s:%s in 30s", host, port)
		}
	}
}

// stopRedis stops the server as `docker stop` would (SIGTERM: Redis writes its append-only
// file and exits).
func stopRedis(project string) {
	pid := readPID(redisPIDFile(project))
	if pid <= 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	_ = os.Remove(redisPIDFile(project))
}

func readPID(file string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// execReal runs `exec -T SERVICE CMD...` against the real server, as the container would.
func execReal(p *types.Project, dir, svc string, command []string) {
	s := p.Services[svc]
	var env []string
	switch svc {
	case "postgres":
		_, port := published(s, 5432)
		env = serviceEnv(s, "PGHOST="+pgSocketDir(p.Name), "PGPORT="+port, "PATH="+pgBin+":/usr/bin:/bin")
		if len(command) == 2 && command[0] == "sh" && strings.HasPrefix(command[1], "/docker-entrypoint-initdb.d/") {
			command = []string{"/bin/sh", filepath.Join(dir, "initdb", filepath.Base(command[1]))}
		}
	case "redis":
		host, port := published(s, 6379)
		env = serviceEnv(s)
		if command[0] == "redis-cli" {
			command = append([]string{"redis-cli", "-h", host, "-p", port}, command[1:]...)
		}
	default:
		fail("exec: %s is a stand-in", svc)
	}
	path, err := exec.LookPath(command[0])
	if svc == "postgres" && !strings.Contains(command[0], "/") {
		path, err = filepath.Join(pgBin, command[0]), nil
	}
	if err != nil {
		fail("exec: %v", err)
	}
	cmd := exec.Command(path, command[1:]...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		fail("exec: %v", err)
	}
}
