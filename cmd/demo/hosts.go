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
	"sigs.k8s.io/yaml"

	"xgen-infra/internal/harness"
	"xgen-infra/internal/testhosts"
)

// demoVersion is the K3s release the stand-in artifacts claim to be.
const demoVersion = "v1.31.4+k3s1"

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
	fmt.Println("\n[1/3] bare test hosts (network namespaces, Debian's sshd, a user with sudo)")
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

// attach reaches the cluster the hosts formed through the kubeconfig the program read back
// from the first server, and installs Istio's CRDs (the add-on work installs Istio itself).
func attach(ctx context.Context, res *testhosts.Result) (*harness.Cluster, error) {
	p, ok := res.Recorder.Find("pulumi:providers:kubernetes", "k8s")
	if !ok {
		return nil, fmt.Errorf("the program registered no kubernetes provider")
	}
	plain, _ := p.PlainInputs()
	kubeconfig, _ := plain["kubeconfig"].(string)
	path, _ := filepath.Abs(filepath.Join(demoDir, "kubeconfig"))
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		return nil, err
	}
	c, err := harness.Attach([]byte(kubeconfig))
	if err != nil {
		return nil, err
	}
	c.Kubeconfig = path
	crds, err := os.ReadFile(filepath.Join(toolsDir(), "istio-crds.yaml"))
	if err != nil {
		return nil, err
	}
	return c, c.InstallCRDs(ctx, crds)
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

// hostsOnly starts the test hosts and prints how to point a site at them, until Ctrl-C.
func hostsOnly() error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	lab, stop, err := startHosts(ctx)
	if err != nil {
		return err
	}
	defer stop()
	keyFile, _ := filepath.Abs(filepath.Join(demoDir, "hosts", "id_ed25519"))
	if err := os.WriteFile(keyFile, []byte(lab.hosts.PrivateKey), 0o600); err != nil {
		return err
	}
	section, err := yaml.Marshal(map[string]any{"cluster": lab.cluster})
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(string(section)), "\n")
	fmt.Println("\nPoint a site at these hosts: put this under `xgen-infra:site:` in its stack file")
	fmt.Println("(replacing its `cluster:` section):")
	for _, l := range lines {
		fmt.Println("    " + l)
	}
	fmt.Printf("\nthen set the SSH key (the program reads it from standard input, never from a path):\n")
	fmt.Printf("  pulumi config set --secret sshPrivateKey --stack <site> < %s\n", keyFile)
	fmt.Println("and run `pulumi up --stack <site>` with a Pulumi installation that has the command")
	fmt.Println("provider plugin (not available on this machine). The hosts run the TEST-ONLY k3s stand-in.")
	fmt.Println("\nPress Ctrl-C (or run `make demo-down` elsewhere) to stop the hosts.")
	<-ctx.Done()
	return nil
}
