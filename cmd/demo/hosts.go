package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"xgen-infra/internal/engine"
	"xgen-infra/internal/testkit/helmrender"
	"xgen-infra/internal/testkit/testhosts"
	"xgen-infra/internal/testkit/testimages"
)

// demoVersion is the K3s release the stand-in artifacts claim to be.
const demoVersion = "v1.36.1+k3s1"

// lab is the running test hosts and the site.cluster section that points at them.
type lab struct {
	hosts   *testhosts.Hosts
	cluster map[string]any
}

// startHosts starts three bare hosts (a server, an agent, a GPU agent) and builds the
// TEST-ONLY stand-in K3s artifacts, recording this process's PID for `down`.
func startHosts(ctx context.Context) (*lab, func(), error) {
	pidFile := filepath.Join(demoDir, "demo.pid")
	if pid, alive := runningPID(pidFile); alive {
		return nil, nil, fmt.Errorf("a rehearsal is already running (pid %d); stop it with `make demo-down`", pid)
	}
	if err := os.MkdirAll(demoDir, 0o755); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return nil, nil, err
	}
	fmt.Println("\n[1/2] bare test hosts (network namespaces, Debian's sshd, a user with sudo)")
	start := time.Now()
	hostsDir, _ := filepath.Abs(filepath.Join(demoDir, "hosts"))
	if err := os.RemoveAll(hostsDir); err != nil {
		return nil, nil, err
	}
	// The compose project's host runs a real Docker engine, with the compose images built
	// here from Debian's packages (TEST-ONLY testimages) loaded: nothing can be pulled.
	fmt.Println("  building the compose test images (Debian's PostgreSQL and Redis, stand-ins for Qdrant and MinIO)...")
	imagesDir, err := testimages.ProcessDir(filepath.Join(toolsDir(), "testimages"))
	var images map[string]string
	if err == nil {
		images, err = testimages.Build(imagesDir, testimages.Defaults())
	}
	if err != nil {
		os.Remove(pidFile)
		return nil, nil, err
	}
	hosts, err := testhosts.Start(ctx, hostsDir, []testhosts.Spec{{Name: "xgen-1", Docker: testhosts.NewDocker(toolsDir(), images)}, {Name: "xgen-2"}, {Name: "xgen-gpu", GPU: true}})
	if err != nil {
		os.Remove(pidFile)
		return nil, nil, err
	}
	stop := func() {
		fmt.Println("stopping the test hosts...")
		if err := hosts.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "warning:", err)
		}
		os.Remove(pidFile)
		fmt.Println("stopped; nothing is left running.")
	}
	for _, h := range hosts.Hosts {
		fmt.Printf("  %-9s %-15s %s\n", h.Name, h.Address, h.HostKey)
	}
	artifacts, _ := filepath.Abs(filepath.Join(demoDir, "artifacts", demoVersion))
	fmt.Println("  building the stand-in K3s artifacts (TEST-ONLY k3s, air-gapped layout)...")
	if err := testhosts.StandInArtifacts(artifacts, demoVersion, toolsDir()); err != nil {
		stop()
		return nil, nil, err
	}
	fmt.Printf("hosts up in %.1fs\n", time.Since(start).Seconds())
	cluster := hosts.ClusterConfig(testhosts.Cluster{Servers: []string{"xgen-1"}, Agents: []string{"xgen-2", "xgen-gpu"},
		Artifacts: artifacts, Version: demoVersion})
	return &lab{hosts: hosts, cluster: cluster}, stop, nil
}

// writeStackFile writes the xgen stack file as an operator would have it for these hosts: its
// cluster section pointed at them, the compose host on the first server, and Istio's charts
// from the istio.io/istio module's local copy (a closed network's layout; nothing downloads).
func (l *lab) writeStackFile(path string) error {
	_, site, _, err := testhosts.Site(demoStack, l.cluster)
	if err != nil {
		return err
	}
	charts, err := helmrender.IstioChartsDir()
	if err != nil {
		return err
	}
	testhosts.WithIstioCharts(site["cluster"].(map[string]any), charts)
	return testhosts.WriteStackFile(demoStack, path, site)
}

// hostsOnly starts the test hosts and prints the exact commands that run the xgen site on
// them by hand with the CLI `make tools` built, until Ctrl-C.
func hostsOnly() error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	lab, stop, err := startHosts(ctx)
	if err != nil {
		return err
	}
	defer stop()
	dir, _ := filepath.Abs(filepath.Join(demoDir, "hosts"))
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, []byte(lab.hosts.PrivateKey), 0o600); err != nil {
		return err
	}
	// A project directory of its own: Pulumi.yaml pointing at this checkout, the stack file.
	project := filepath.Join(dir, "project")
	if err := os.MkdirAll(project, 0o700); err != nil {
		return err
	}
	if err := lab.writeStackFile(filepath.Join(project, "Pulumi.xgen.yaml")); err != nil {
		return err
	}
	repo, _ := os.Getwd()
	main, _ := filepath.Rel(project, repo)
	// The checkout's program, run as its prebuilt binary (tools/program.sh rebuilds it when stale).
	pulumiYAML := fmt.Sprintf("name: xgen-infra\nmain: %s\nruntime:\n  name: go\n  options:\n    binary: %s\n",
		main, filepath.Join(repo, "tools", "program.sh"))
	if err := os.WriteFile(filepath.Join(project, "Pulumi.yaml"), []byte(pulumiYAML), 0o600); err != nil {
		return err
	}
	tools, _ := filepath.Abs(toolsDir())
	required, err := engine.RequiredSecrets(filepath.Join(project, "Pulumi.xgen.yaml"))
	if err != nil {
		return err
	}
	fmt.Printf("\nThe xgen site pointed at these hosts: %s/Pulumi.xgen.yaml. Run it by hand:\n\n", project)
	fmt.Printf("  cd %s\n", project)
	fmt.Printf("  export PATH=%s/bin:$PATH PULUMI_HOME=%s/pulumi-home PULUMI_BACKEND_URL=file://%s/backend \\\n", tools, tools, dir)
	fmt.Printf("    PULUMI_CONFIG_PASSPHRASE=rehearsal PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true \\\n")
	fmt.Printf("    XGEN_IMAGE_PREFLIGHT=off TMPDIR=%s/tmp\n", dir)
	fmt.Printf("  mkdir -p %s/backend %s/tmp\n", dir, dir)
	fmt.Println("  pulumi stack init xgen")
	for _, key := range required {
		src := "<(openssl rand -hex 16)   # throwaway"
		if key == "sshPrivateKey" {
			src = keyFile
		}
		fmt.Printf("  pulumi config set --secret %s < %s\n", key, src)
	}
	fmt.Println("  pulumi up --stack xgen")
	fmt.Println("  pulumi destroy --stack xgen --yes   # before stopping the hosts")
	fmt.Println("\nThe hosts run the TEST-ONLY k3s stand-in; xgen-1 runs Debian's Docker engine with test images.")
	fmt.Println("Press Ctrl-C (or run `make demo-down` elsewhere) to stop the hosts.")
	<-ctx.Done()
	return nil
}
