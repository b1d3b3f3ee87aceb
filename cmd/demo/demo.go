package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"xgen-infra/internal/testkit/harness"
	"xgen-infra/internal/testkit/testhosts"
)

// toolsDir is where `make tools` built the tools, absolute (the test hosts see paths only).
func toolsDir() string {
	dir := os.Getenv("XGEN_TOOLS_DIR")
	if dir == "" {
		dir = ".tools"
	}
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// startLocal starts the harness in .harness/cluster, recording this process's PID for
// `down`. The returned stop function stops everything it started.
func startLocal(ctx context.Context) (*harness.Cluster, func(), error) {
	pidFile := filepath.Join(demoDir, "demo.pid")
	if pid, alive := runningPID(pidFile); alive {
		return nil, nil, fmt.Errorf("a local cluster is already running (pid %d); stop it with `make demo-down`", pid)
	}
	if err := os.MkdirAll(demoDir, 0o755); err != nil {
		return nil, nil, err
	}
	start := time.Now()
	cluster, err := harness.Start(ctx, harness.Options{
		ToolsDir: toolsDir(), Dir: filepath.Join(demoDir, "cluster"), InstallIstioCRDs: true, Progress: os.Stdout,
	})
	if err != nil {
		return nil, nil, err
	}
	stop := func() {
		fmt.Println("stopping the local cluster...")
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "warning:", err)
		}
		os.Remove(pidFile)
		fmt.Println("stopped; nothing is left running.")
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		stop()
		return nil, nil, err
	}
	fmt.Printf("cluster up in %.1fs\n", time.Since(start).Seconds())
	return cluster, stop, nil
}

// emptyCluster runs the bare harness (nodes, Istio CRDs, nothing deployed) until stopped.
func emptyCluster() error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	cluster, stop, err := startLocal(ctx)
	if err != nil {
		return err
	}
	defer stop()
	printInspect(cluster)
	fmt.Println("\nPress Ctrl-C (or run `make demo-down` elsewhere) to stop.")
	<-ctx.Done()
	return nil
}

func printInspect(c *harness.Cluster) {
	abs, _ := filepath.Abs(c.Kubeconfig)
	fmt.Printf("\nInspect it:\n  export KUBECONFIG=%s\n  .tools/bin/kubectl get nodes,deploy,svc,endpointslices,virtualservices -A\n", abs)
}

// down stops a running demo or cluster: SIGTERM to the demo process (it destroys its stack
// and stops its cluster), then any leftover cluster process it recorded.
func down() error {
	pidFile := filepath.Join(demoDir, "demo.pid")
	pid, alive := runningPID(pidFile)
	if alive {
		fmt.Printf("stopping demo (pid %d)...\n", pid)
		_ = syscall.Kill(pid, syscall.SIGTERM)
		// The demo destroys its stack first: give it time.
		for i := 0; i < 3000 && processAlive(pid); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if processAlive(pid) {
			return errors.New("the demo did not stop in 5 minutes")
		}
	}
	data, _ := os.ReadFile(filepath.Join(demoDir, "cluster", "pids"))
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			if p, err := strconv.Atoi(f[0]); err == nil && processAlive(p) {
				fmt.Printf("stopping leftover %s (pid %d)\n", f[1], p)
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
	}
	if n := testhosts.CleanupAll(); n > 0 {
		fmt.Printf("removed %d leftover test hosts\n", n)
	}
	os.Remove(pidFile)
	fmt.Println("demo is down.")
	return nil
}

func runningPID(pidFile string) (int, bool) {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid, err == nil && processAlive(pid)
}

func processAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}
