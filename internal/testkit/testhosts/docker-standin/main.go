// Command docker-standin is a TEST-ONLY stand-in for `docker` on a test host (there is no
// Docker engine on our machines). It does what the compose host scripts ask of Docker and
// checks what they give it: `docker compose ... up` loads the project with compose-go and
// the .env (refused unless the .env is root's with mode 0600, and every volume directory
// exists), then records the project as running; `down [--volumes]`, `exec`, `run`, `ps`,
// `info` and `compose version` answer as Docker would; `compose stop|start SERVICE` marks
// one service stopped or running again (`ps --format` shows it); `load --input FILE` checks FILE is
// a docker-archive. Every call's arguments are appended
// to /var/log/docker-standin.log (what the tests scan for secrets). A running project with
// qdrant serves a stand-in of Qdrant's snapshot API on its published HTTP port, for the
// backup job. `touch /etc/docker-standin/stopped` makes the engine not answer. With
// /etc/docker-standin/real-services, postgres and redis are the real servers (real.go).
package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

const (
	logFile   = "/var/log/docker-standin.log"
	stateDir  = "/var/lib/docker-standin"
	stoppedAt = "/etc/docker-standin/stopped"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve-qdrant" {
		serveQdrant(os.Args[2], os.Args[3])
		return
	}
	if err := appendLog(os.Args[1:]); err != nil {
		fail("cannot log: %v", err)
	}
	if _, err := os.Stat(stoppedAt); err == nil {
		fail("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")
	}
	args := os.Args[1:]
	if len(args) == 0 {
		fail("usage: docker COMMAND")
	}
	switch args[0] {
	case "info":
		fmt.Println("Server Version: stand-in")
	case "ps":
		// docker ps -q --filter label=com.docker.compose.project=NAME
		for i, a := range args {
			if a == "--filter" && i+1 < len(args) {
				if name, ok := strings.CutPrefix(args[i+1], "label=com.docker.compose.project="); ok && running(name) {
					fmt.Println("c0ffee" + name)
				}
			}
		}
	case "compose":
		composeCmd(args[1:])
	case "load":
		// docker load --input FILE: the file must be a docker-archive (its tags are logged).
		if len(args) != 3 || args[1] != "--input" {
			fail("docker-standin: load wants --input FILE")
		}
		tags, err := archiveTags(args[2])
		if err != nil {
			fail("open %s: %v", args[2], err)
		}
		for _, tag := range tags {
			fmt.Printf("Loaded image: %s\n", tag)
		}
	default:
		fail("docker-standin: %s is not supported", args[0])
	}
}

type globals struct {
	project, dir, file, envFile string
	profiles                    []string
}

func composeCmd(args []string) {
	var g globals
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-"); i++ {
		flag := args[i]
		if flag == "--short" {
			continue
		}
		if i+1 >= len(args) {
			fail("compose: %s needs a value", flag)
		}
		i++
		switch flag {
		case "--project-name", "-p":
			g.project = args[i]
		case "--project-directory":
			g.dir = args[i]
		case "--file", "-f":
			g.file = args[i]
		case "--env-file":
			g.envFile = args[i]
		case "--profile":
			g.profiles = append(g.profiles, args[i])
		default:
			fail("compose: unknown flag %s", flag)
		}
	}
	if i >= len(args) {
		fail("compose: no command")
	}
	cmd, rest := args[i], args[i+1:]
	if cmd == "version" {
		fmt.Println("2.29.1")
		return
	}
	p := loadProject(g)
	switch cmd {
	case "up":
		for _, v := range p.Volumes {
			if dev := v.DriverOpts["device"]; dev != "" {
				if st, err := os.Stat(dev); err != nil || !st.IsDir() {
					fail("Error response from daemon: failed to mount local volume: %s: no such file or directory", dev)
				}
			}
		}
		if err := os.MkdirAll(filepath.Join(stateDir, g.project), 0o700); err != nil {
			fail("%v", err)
		}
		if err := os.WriteFile(filepath.Join(stateDir, g.project, "running"), []byte(strings.Join(p.ServiceNames(), " ")), 0o600); err != nil {
			fail("%v", err)
		}
		stoppedOnes, _ := filepath.Glob(filepath.Join(stateDir, g.project, "stopped-*"))
		for _, m := range stoppedOnes {
			_ = os.Remove(m)
		}
		if q, ok := p.Services["qdrant"]; ok {
			startQdrant(g.project, q)
		}
		if realServices() {
			if _, ok := p.Services["postgres"]; ok {
				startPostgres(p, g.dir)
			}
			if _, ok := p.Services["redis"]; ok {
				startRedis(p)
			}
		}
		for _, name := range p.ServiceNames() {
			fmt.Fprintf(os.Stderr, " Container %s-%s-1  Healthy\n", g.project, name)
		}
	case "down":
		stopQdrant(g.project)
		if realServices() {
			stopPostgres(p)
			stopRedis(g.project)
		}
		_ = os.RemoveAll(filepath.Join(stateDir, g.project))
		if len(rest) > 0 && contains(rest, "--volumes") {
			for _, v := range p.Volumes {
				if dev := v.DriverOpts["device"]; dev != "" {
					entries, _ := os.ReadDir(dev)
					for _, e := range entries {
						_ = os.RemoveAll(filepath.Join(dev, e.Name()))
					}
				}
			}
		}
	case "exec":
		requireRunning(g.project)
		// exec -T SERVICE CMD...
		if len(rest) < 3 || rest[0] != "-T" {
			fail("exec: want -T SERVICE COMMAND")
		}
		svc, command := rest[1], rest[2:]
		if _, ok := p.Services[svc]; !ok {
			fail("service %q is not running", svc)
		}
		if realServices() && (svc == "postgres" || svc == "redis") {
			execReal(p, g.dir, svc, command)
			return
		}
		switch {
		case len(command) == 2 && command[0] == "sh" && strings.HasPrefix(command[1], "/docker-entrypoint-initdb.d/"):
			// The script is bind-mounted from the project's initdb directory.
			host := filepath.Join(g.dir, "initdb", filepath.Base(command[1]))
			if _, err := os.Stat(host); err != nil {
				fail("sh: %s: not found", command[1])
			}
		case command[0] == "pg_dump":
			fmt.Println("PGDMP stand-in dump of", command[len(command)-1])
		default:
			fail("exec: %v is not supported", command)
		}
	case "run":
		requireRunning(g.project)
		if len(rest) < 2 || rest[0] != "--rm" {
			fail("run: want --rm SERVICE")
		}
		if _, ok := p.Services[rest[1]]; !ok {
			fail("no such service: %s (profiles %v)", rest[1], g.profiles)
		}
	case "ps":
		// ps [--all] [--format '{{.Service}} {{.State}} {{.Health}}']
		if !running(g.project) {
			return
		}
		format := ""
		for i, a := range rest {
			if a == "--format" && i+1 < len(rest) {
				format = rest[i+1]
			}
		}
		for _, name := range p.ServiceNames() {
			state, health := "running", ""
			if p.Services[name].HealthCheck != nil {
				health = "healthy"
			}
			if stopped(g.project, name) {
				state, health = "exited", ""
			}
			if format == "" {
				fmt.Printf("%s-%s-1  %s\n", g.project, name, state)
				continue
			}
			r := strings.NewReplacer("{{.Service}}", name, "{{.State}}", state, "{{.Health}}", health)
			fmt.Println(r.Replace(format))
		}
	case "stop", "start":
		// stop|start SERVICE...: one service of a running project (what an operator or a
		// crash does); `up` starts every service again.
		requireRunning(g.project)
		for _, name := range rest {
			if _, ok := p.Services[name]; !ok {
				fail("no such service: %s", name)
			}
			marker := filepath.Join(stateDir, g.project, "stopped-"+name)
			if cmd == "stop" {
				_ = os.WriteFile(marker, nil, 0o600)
			} else {
				_ = os.Remove(marker)
			}
		}
	default:
		fail("compose: %s is not supported", cmd)
	}
}

// loadProject loads the project the way Compose does, refusing an .env another user could read.
func loadProject(g globals) *types.Project {
	if g.project == "" || g.file == "" || g.envFile == "" || g.dir == "" {
		fail("docker-standin: the scripts must pass --project-name, --project-directory, --file and --env-file")
	}
	st, err := os.Stat(g.envFile)
	if err != nil {
		fail("couldn't find env file: %s", g.envFile)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Uid != 0 || st.Mode().Perm() != 0o600 {
		fail("docker-standin: %s must be root's with mode 0600 (it is %v)", g.envFile, st.Mode().Perm())
	}
	env, err := dotenv.GetEnvFromFile(map[string]string{}, []string{g.envFile})
	if err != nil {
		fail("%v", err)
	}
	data, err := os.ReadFile(g.file)
	if err != nil {
		fail("%v", err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{WorkingDir: g.dir, Environment: env,
		ConfigFiles: []types.ConfigFile{{Filename: g.file, Content: data}}},
		func(o *loader.Options) { o.SetProjectName(g.project, true); o.Profiles = g.profiles })
	if err != nil {
		fail("%v", err)
	}
	return p
}

func running(project string) bool {
	_, err := os.Stat(filepath.Join(stateDir, project, "running"))
	return err == nil
}

// stopped says whether a service of a running project was stopped (compose stop).
func stopped(project, service string) bool {
	_, err := os.Stat(filepath.Join(stateDir, project, "stopped-"+service))
	return err == nil
}

func requireRunning(project string) {
	if !running(project) {
		fail("service is not running (project %s)", project)
	}
}

// startQdrant serves the snapshot API on qdrant's published HTTP port, detached.
func startQdrant(project string, q types.ServiceConfig) {
	stopQdrant(project)
	for _, p := range q.Ports {
		if p.Target != 6333 {
			continue
		}
		addr := net.JoinHostPort(p.HostIP, p.Published)
		cmd := exec.Command(os.Args[0], "serve-qdrant", addr, filepath.Join(stateDir, project))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			fail("%v", err)
		}
		_ = os.WriteFile(filepath.Join(stateDir, project+".qdrant.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)
	}
}

func stopQdrant(project string) {
	pidFile := filepath.Join(stateDir, project+".qdrant.pid")
	if data, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(string(data)); err == nil {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
		_ = os.Remove(pidFile)
	}
}

// serveQdrant: POST /snapshots creates one, GET /snapshots/NAME downloads it, DELETE removes it.
func serveQdrant(addr, dir string) {
	var n int
	mux := http.NewServeMux()
	mux.HandleFunc("POST /snapshots", func(w http.ResponseWriter, _ *http.Request) {
		n++
		name := fmt.Sprintf("full-snapshot-%d.snapshot", n)
		_ = os.WriteFile(filepath.Join(dir, name), []byte("qdrant stand-in snapshot "+name+"\n"), 0o600)
		_ = json.NewEncoder(w).Encode(map[string]any{"result": map[string]any{"name": name}, "status": "ok"})
	})
	mux.HandleFunc("GET /snapshots/{name}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(dir, filepath.Base(r.PathValue("name"))))
	})
	mux.HandleFunc("DELETE /snapshots/{name}", func(w http.ResponseWriter, r *http.Request) {
		_ = os.Remove(filepath.Join(dir, filepath.Base(r.PathValue("name"))))
		_ = json.NewEncoder(w).Encode(map[string]any{"result": true})
	})
	if err := http.ListenAndServe(addr, mux); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func appendLog(args []string) error {
	if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(logFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	line, _ := json.Marshal(args)
	_, err = fmt.Fprintf(f, "%s\n", line)
	return err
}

// archiveTags reads a docker-archive's manifest.json: the tags it carries.
func archiveTags(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("not a docker-archive (no manifest.json): %w", err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil || len(m) == 0 {
			return nil, fmt.Errorf("manifest.json: %v", err)
		}
		return m[0].RepoTags, nil
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
