package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"xgen-infra/internal/engine"
	"xgen-infra/internal/testkit/harness"
	"xgen-infra/internal/testkit/helmrender"
	"xgen-infra/internal/testkit/testhosts"
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
	hosts, err := testhosts.Start(ctx, hostsDir, []testhosts.Spec{{Name: "xgen-1"}, {Name: "xgen-2"}, {Name: "xgen-gpu", GPU: true}})
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
	// Docker for the infra's compose project: the TEST-ONLY stand-in (no engine here).
	docker, err := testhosts.BuildDockerStandIn(filepath.Join(demoDir, "hosts"))
	if err == nil {
		err = hosts.InstallDocker(ctx, docker)
	}
	if err != nil {
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

// attach reaches the cluster the hosts formed through the stack's kubeconfig output (the one
// the program read back from the first server), written to .harness/kubeconfig for kubectl.
func attach(ctx context.Context, ws *engine.Workspace) (*harness.Cluster, error) {
	out, err := ws.Outputs(ctx, true)
	if err != nil {
		return nil, err
	}
	kubeconfig, _ := out["kubeconfig"].(string)
	path, _ := filepath.Abs(filepath.Join(demoDir, "kubeconfig"))
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		return nil, err
	}
	c, err := harness.Attach([]byte(kubeconfig))
	if err != nil {
		return nil, err
	}
	c.Kubeconfig = path
	return c, nil
}

// printInfra shows the compose project as its host reports it, and its backup timer.
func printInfra(ctx context.Context, hosts *testhosts.Hosts, host string) {
	const dc = "sudo -n docker compose --project-name xgen-infra --project-directory /srv/xgen-infra " +
		"--file /srv/xgen-infra/compose.yaml --env-file /srv/xgen-infra/.env"
	out, err := hosts.Run(ctx, host, dc+" ps && sudo -n ls -l /srv/xgen-infra/.env && "+
		"{ ls /run/standin-systemd/ | sed -n 's/\\.enabled$/ (enabled)/p' | grep timer || true; }")
	if err != nil {
		fmt.Fprintln(os.Stderr, "warning: infra:", err)
		return
	}
	fmt.Printf("\ninfra on %s (%s), Docker Compose project xgen-infra:\n", host, hosts.Host(host).Address)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fmt.Println("  " + line)
	}
}

func printNodes(ctx context.Context, c *harness.Cluster) {
	nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(w, "\nNODE\tREADY\tVERSION\tADDRESS\tTAINTS\n")
	for _, n := range nodes.Items {
		var addr string
		for _, a := range n.Status.Addresses {
			if a.Type == "InternalIP" {
				addr = a.Address
			}
		}
		var taints []string
		for _, t := range n.Spec.Taints {
			taints = append(taints, t.Key+"="+t.Value+":"+string(t.Effect))
		}
		fmt.Fprintf(w, "%s\t%v\t%s\t%s\t%s\n", n.Name, harness.NodeReady(&n), n.Status.NodeInfo.KubeletVersion, addr, strings.Join(taints, ","))
	}
	_ = w.Flush()
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
	fmt.Println("\nThe hosts run the TEST-ONLY k3s and docker stand-ins.")
	fmt.Println("Press Ctrl-C (or run `make demo-down` elsewhere) to stop the hosts.")
	<-ctx.Done()
	return nil
}
