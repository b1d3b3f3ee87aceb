package hosts

// The host layer, layer 4 of our tests: bare test hosts (network namespaces, Debian's sshd)
// → K3s installed by exactly the commands K3sCluster registers, run over real SSH by
// testhosts.Engine (pulumi-command's semantics; its provider cannot be had here) → the apps
// applied through the kubeconfig read back from the first server. K3s itself is the
// TEST-ONLY stand-in of internal/testkit/testhosts/k3s-standin, uploaded as air-gapped artifacts.

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/harness"
	"xgen-infra/internal/testkit/livetest"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/internal/testkit/testhosts"
	"xgen-infra/sites"
	"xgen-infra/stack"
)

// hostStack is one site deployed to test hosts: its config and the engine's state.
type hostStack struct {
	t          testing.TB
	hosts      *testhosts.Hosts
	engine     *testhosts.Engine
	stackFile  string
	artifacts  string
	servers    []string
	agents     []string
	uninstall  bool
	hostKeyFor map[string]string // node name -> pinned key (tests swap one)
	labels     map[string]map[string]string
	taints     map[string][]string
	// imageBundle is cluster.k3s.imageBundle ("" for none).
	imageBundle string
}

// config is the stack's config with site.cluster pointing at the test hosts.
func (s *hostStack) config() (map[string]string, []string) {
	cluster := s.hosts.ClusterConfig(testhosts.Cluster{Servers: s.servers, Agents: s.agents,
		Artifacts: s.artifacts, Version: filepath.Base(s.artifacts), UninstallOnDestroy: s.uninstall, HostKeys: s.hostKeyFor,
		Labels: s.labels, Taints: s.taints})
	if s.imageBundle != "" {
		cluster["k3s"].(map[string]any)["imageBundle"] = s.imageBundle
	}
	config, secretKeys, err := s.hosts.StackConfig(s.stackFile, cluster)
	if err != nil {
		s.t.Fatal(err)
	}
	return config, secretKeys
}

func (s *hostStack) up(ctx context.Context) (*testhosts.Result, error) {
	config, secretKeys := s.config()
	res, err := s.engine.Up(ctx, stack.Program, sites.ConfigNamespace, sitetest.StackName(s.stackFile), config, secretKeys)
	if err != nil && !strings.Contains(err.Error(), "host key mismatch") && !strings.Contains(err.Error(), "i/o timeout") {
		// What the K3s services said, for the failure message.
		for _, h := range s.hosts.Hosts {
			out, _ := s.hosts.Run(ctx, h.Name, "sudo -n tail -n 15 /var/log/k3s.log /var/log/k3s-agent.log 2>/dev/null; ps -eo pid,stat,args | grep '[k]3s'; sudo -n cat /etc/rancher/k3s/config.yaml 2>/dev/null | grep server")
			s.t.Logf("%s:\n%s", h.Name, out)
		}
		// What the cluster says about its nodes (version, Ready, lease), from the first server.
		out, _ := s.hosts.Run(ctx, s.servers[0], "sudo -n /usr/local/bin/k3s kubectl get nodes -o "+
			"'custom-columns=NAME:.metadata.name,VERSION:.status.nodeInfo.kubeletVersion,READY:.status.conditions[?(@.type==\"Ready\")].status,REASON:.status.conditions[?(@.type==\"Ready\")].reason,HEARTBEAT:.status.conditions[?(@.type==\"Ready\")].lastHeartbeatTime,UNSCHEDULABLE:.spec.unschedulable' 2>&1; "+
			"sudo -n /usr/local/bin/k3s kubectl get leases -n kube-node-lease -o 'custom-columns=NAME:.metadata.name,HOLDER:.spec.holderIdentity,RENEW:.spec.renewTime' 2>&1; date -u")
		s.t.Logf("nodes:\n%s", out)
	}
	return res, err
}

// kubeconfig is what the program handed the Kubernetes provider: read back from the server.
func kubeconfigOf(t testing.TB, res *testhosts.Result) []byte {
	t.Helper()
	p, ok := res.Recorder.Find("pulumi:providers:kubernetes", "k8s")
	if !ok {
		t.Fatal("no kubernetes provider registered")
	}
	plain, secrets := p.PlainInputs()
	if !slices.Contains(secrets, "kubeconfig") {
		t.Error("the provider's kubeconfig is not a secret")
	}
	kc, _ := plain["kubeconfig"].(string)
	if !strings.Contains(kc, "server: https://"+"198.18.") {
		t.Fatalf("the kubeconfig does not point at the first server's address:\n%.300s", kc)
	}
	return []byte(kc)
}

func opNames(ops []testhosts.Op) []string {
	var out []string
	for _, op := range ops {
		out = append(out, op.Verb+" "+op.Name)
	}
	return out
}

// TestHostLayerFromBareHosts: three bare hosts (server, agent, GPU agent) → K3s → every
// on-prem site's apps Available; then a second run does nothing, a version bump upgrades
// host by host, a removed agent is drained, deleted and uninstalled, a wrong host key and a
// cut link fail clearly, and no secret shows anywhere but in secrets.
func TestHostLayerFromBareHosts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	hosts := livetest.StartHosts(t, []testhosts.Spec{{Name: "xgen-1", Docker: livetest.Docker(t)}, {Name: "xgen-2"}, {Name: "xgen-gpu", GPU: true}})
	s := &hostStack{t: t, hosts: hosts, engine: testhosts.NewEngine(), stackFile: "Pulumi.xgen.yaml",
		artifacts: livetest.StandInArtifacts(t, livetest.HostsVersion), servers: []string{"xgen-1"}, agents: []string{"xgen-2", "xgen-gpu"},
		hostKeyFor: map[string]string{}}
	var allOps []testhosts.Op

	// 1. Bare hosts to a cluster.
	start := time.Now()
	res, err := s.up(ctx)
	if err != nil {
		t.Fatalf("first up: %v", err)
	}
	allOps = append(allOps, res.Ops...)
	t.Logf("bootstrap: %d remote operations in %s", len(res.Ops), time.Since(start).Round(time.Second))
	kc := kubeconfigOf(t, res)
	cluster, err := harness.Attach(kc)
	if err != nil {
		t.Fatal(err)
	}
	livetest.CheckNodes(ctx, t, cluster, map[string]string{"xgen-1": livetest.HostsVersion, "xgen-2": livetest.HostsVersion, "xgen-gpu": livetest.HostsVersion})
	gpu, err := cluster.Client.CoreV1().Nodes().Get(ctx, "xgen-gpu", metav1.GetOptions{})
	if err != nil || gpu.Labels["nvidia.com/gpu.present"] != "true" || len(gpu.Spec.Taints) != 1 || gpu.Spec.Taints[0].Key != "nvidia.com/gpu" {
		t.Errorf("GPU node labels %v taints %v (%v)", gpu.Labels, gpu.Spec.Taints, err)
	}

	// 2. The on-prem sites' apps, through the read-back kubeconfig.
	crds, err := os.ReadFile(filepath.Join(livetest.ToolsDir(t), "istio-crds.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.InstallCRDs(ctx, crds); err != nil { // the add-on issue installs Istio itself
		t.Fatal(err)
	}
	for i, stackFile := range []string{"Pulumi.xgen.yaml", "Pulumi.lotteimall.yaml", "Pulumi.xgen-jeju.yaml"} {
		objs := sitetest.RehearsalObjects(t, stackFile, sitetest.WithRehearsalHost)
		if i > 0 { // one cluster, one observability add-on: the first site's
			objs = slices.DeleteFunc(objs, func(o inprocess.Object) bool {
				return strings.Contains(o.Resource.URN, "xgen:index:Observability$")
			})
		}
		if _, err := cluster.Apply(ctx, sitetest.Bodies(objs)); err != nil {
			t.Fatalf("%s: apply: %v", stackFile, err)
		}
		ns, names := sitetest.DeploymentsOf(objs)
		if err := cluster.WaitAvailable(ctx, ns, names, 2*time.Minute); err != nil {
			t.Fatalf("%s: %v", stackFile, err)
		}
	}
	pods, err := cluster.PodNodes(ctx, "xgen")
	if err != nil {
		t.Fatal(err)
	}
	if nodes := pods["xgen-model"]; len(nodes) == 0 || nodes[0] != "xgen-gpu" {
		t.Errorf("xgen-model runs on %v, want the GPU host", nodes)
	}

	// 3. Converged: a second run runs nothing.
	res, err = s.up(ctx)
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	if len(res.Ops) != 0 {
		t.Errorf("second up ran %d remote operations: %v", len(res.Ops), opNames(res.Ops))
	}

	// 4a. Two minors ahead: refused by the preflights, naming the next release, before any
	// node is drained or any host changed.
	s.artifacts = livetest.StandInArtifacts(t, livetest.SkipVersion)
	res, err = s.up(ctx)
	if err == nil || !strings.Contains(err.Error(), "Kubernetes upgrades one minor at a time: set cluster.k3s.version to the next release, v1.36") {
		t.Errorf("an upgrade across two minors: want it refused naming v1.36, got %v", err)
	}
	for _, n := range opNames(res.Ops) {
		if strings.Contains(n, "drain-") || strings.Contains(n, "install-") || strings.Contains(n, "upload-") {
			t.Errorf("the refused upgrade ran %s", n)
		}
	}
	livetest.CheckNodes(ctx, t, cluster, map[string]string{"xgen-1": livetest.HostsVersion, "xgen-2": livetest.HostsVersion, "xgen-gpu": livetest.HostsVersion})

	// 4. A version bump, one minor: host by host, servers first, each drained and
	// uncordoned; nothing uninstalls.
	s.artifacts = livetest.StandInArtifacts(t, livetest.UpgradeVersion)
	res, err = s.up(ctx)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	allOps = append(allOps, res.Ops...)
	names := opNames(res.Ops)
	for _, n := range names {
		if strings.HasPrefix(n, "delete ") && !strings.Contains(n, "preflight-") && !strings.Contains(n, "upload-") {
			t.Errorf("upgrade ran %s", n)
		}
	}
	order := []string{}
	for _, n := range names {
		if strings.HasPrefix(n, "update install-") {
			order = append(order, strings.TrimPrefix(n, "update install-"))
		}
	}
	if strings.Join(order, ",") != "xgen-1,xgen-2,xgen-gpu" {
		t.Errorf("upgrade order %v, want the server, then the agents, one at a time; ops: %v", order, names)
	}
	for _, h := range []string{"xgen-2", "xgen-gpu"} {
		d, i, u := slices.Index(names, "update drain-"+h), slices.Index(names, "update install-"+h), slices.Index(names, "update uncordon-"+h)
		if d < 0 || i < 0 || u < 0 || d > i || i > u {
			t.Errorf("%s: drain %d, install %d, uncordon %d: want drain < install < uncordon", h, d, i, u)
		}
	}
	livetest.CheckNodes(ctx, t, cluster, map[string]string{"xgen-1": livetest.UpgradeVersion, "xgen-2": livetest.UpgradeVersion, "xgen-gpu": livetest.UpgradeVersion})

	// 5. A removed agent: drained and deleted on the server, then uninstalled on its host.
	s.agents = []string{"xgen-gpu"}
	res, err = s.up(ctx)
	if err != nil {
		t.Fatalf("removing an agent: %v", err)
	}
	allOps = append(allOps, res.Ops...)
	names = opNames(res.Ops)
	if m, h := slices.Index(names, "delete member-xgen-2"), slices.Index(names, "delete host-xgen-2"); m < 0 || h < 0 || m > h {
		t.Errorf("agent removal ran %v: want delete member-xgen-2, then delete host-xgen-2", names)
	}
	if _, err := cluster.Client.CoreV1().Nodes().Get(ctx, "xgen-2", metav1.GetOptions{}); err == nil {
		t.Error("node xgen-2 is still in the cluster")
	}
	if out, _ := hosts.Run(ctx, "xgen-2", "ls /usr/local/bin/k3s /etc/rancher/k3s 2>&1; sudo -n systemctl is-active k3s-agent || true"); !strings.Contains(out, "No such file") || !strings.Contains(out, "inactive") {
		t.Errorf("K3s still on the removed agent: %s", out)
	}
	if err := cluster.WaitAvailable(ctx, "xgen", []string{"xgen-core", "xgen-model"}, 2*time.Minute); err != nil {
		t.Errorf("apps after the agent left: %v", err)
	}

	// 6. Labels and taints follow the config both ways.
	s.labels = map[string]map[string]string{"xgen-gpu": {"xgen.ai/zone": "b"}}
	s.taints = map[string][]string{"xgen-gpu": {"dedicated=ml:NoSchedule"}}
	if _, err := s.up(ctx); err != nil {
		t.Fatalf("adding a label and a taint: %v", err)
	}
	checkNodeMetadata(ctx, t, cluster, "xgen-gpu", map[string]string{"xgen.ai/zone": "b", "nvidia.com/gpu.present": "true"},
		[]string{"dedicated=ml:NoSchedule", "nvidia.com/gpu=present:NoSchedule"})
	s.labels, s.taints = nil, nil
	if _, err := s.up(ctx); err != nil {
		t.Fatalf("removing them: %v", err)
	}
	checkNodeMetadata(ctx, t, cluster, "xgen-gpu", map[string]string{"nvidia.com/gpu.present": "true"},
		[]string{"nvidia.com/gpu=present:NoSchedule"})

	// 7. A changed host key is refused before anything runs on that host.
	s.hostKeyFor["xgen-1"] = hosts.Host("xgen-gpu").HostKey
	res, err = s.up(ctx)
	if err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Errorf("wrong host key: %v", err)
	}
	for _, op := range res.Ops {
		if op.Host == hosts.Host("xgen-1").Address && op.Stdout != "" {
			t.Errorf("%s %s ran on a host with the wrong key", op.Verb, op.Name)
		}
	}
	delete(s.hostKeyFor, "xgen-1")

	// 8. No secret in any command line, environment or log line.
	token, err := hosts.Run(ctx, "xgen-1", "sudo -n cat /var/lib/rancher/k3s/server/token")
	if err != nil {
		t.Fatal(err)
	}
	checkNoSecretsInOps(t, allOps, map[string]string{
		"join token": strings.TrimSpace(token), "SSH key": strings.Split(hosts.PrivateKey, "\n")[2],
		"kubeconfig key": livetest.ClientKey(kc),
	})
}

// checkNodeMetadata: the node's xgen.ai/* and GPU labels and all its taints are exactly these.
func checkNodeMetadata(ctx context.Context, t *testing.T, c *harness.Cluster, name string, labels map[string]string, taints []string) {
	t.Helper()
	node, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for k, v := range node.Labels {
		if strings.HasPrefix(k, "xgen.ai/") || strings.HasPrefix(k, "nvidia.com/") {
			got[k] = v
		}
	}
	var gotTaints []string
	for _, tt := range node.Spec.Taints {
		gotTaints = append(gotTaints, tt.Key+"="+tt.Value+":"+string(tt.Effect))
	}
	slices.Sort(gotTaints)
	if fmt.Sprint(got) != fmt.Sprint(labels) || fmt.Sprint(gotTaints) != fmt.Sprint(taints) {
		t.Errorf("node %s: labels %v taints %v, want %v %v", name, got, gotTaints, labels, taints)
	}
}

// checkNoSecretsInOps: commands, their environment and what they printed (logged unless the
// command reads a secret: those have logging off and secret stdout) never hold a secret.
func checkNoSecretsInOps(t *testing.T, ops []testhosts.Op, secrets map[string]string) {
	t.Helper()
	secretReads := map[string]bool{"join-token": true, "kubeconfig": true}
	for _, op := range ops {
		fields := map[string]string{"command": op.Command, "stderr": op.Stderr}
		for k, v := range op.Env {
			fields["env "+k] = v
		}
		if !secretReads[op.Name] {
			fields["stdout"] = op.Stdout
		}
		for what, secret := range secrets {
			if secret == "" {
				t.Fatalf("empty %s", what)
			}
			for field, text := range fields {
				if strings.Contains(text, secret) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(secret))) {
					t.Errorf("%s %s: the %s is in its %s", op.Verb, op.Name, what, field)
				}
			}
		}
	}
}

// TestHostLayerHAAndFailures: three servers (embedded etcd: the first initialises, the others
// join one at a time) and an agent; a link cut mid-install fails clearly within the connect
// timeout and the rerun converges; `pulumi destroy` keeps K3s unless uninstallOnDestroy, and
// with it uninstalls every host.
func TestHostLayerHAAndFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	hosts := livetest.StartHosts(t, []testhosts.Spec{{Name: "s1", Docker: livetest.Docker(t)}, {Name: "s2"}, {Name: "s3"}, {Name: "a1"}})
	s := &hostStack{t: t, hosts: hosts, engine: testhosts.NewEngine(), stackFile: "Pulumi.xgen-jeju.yaml",
		artifacts: livetest.StandInArtifacts(t, livetest.HostsVersion), servers: []string{"s1", "s2", "s3"}, agents: []string{"a1"},
		hostKeyFor: map[string]string{}}

	// A link cut just before the agent's install.
	cut := false
	s.engine.Before = func(name, verb string) error {
		if name == "install-a1" && !cut {
			cut = true
			return hosts.CutLink("a1")
		}
		return nil
	}
	start := time.Now()
	res, err := s.up(ctx)
	if err == nil {
		t.Fatal("up with a cut link succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "install-a1") || !strings.Contains(msg, hosts.Host("a1").Address) || !strings.Contains(msg, "timeout") {
		t.Errorf("cut link error does not name the command, the host and the timeout: %v", err)
	}
	t.Logf("failed after %s (%d operations): %v", time.Since(start).Round(time.Second), len(res.Ops), err)
	if err := hosts.RestoreLink("a1"); err != nil {
		t.Fatal(err)
	}
	res, err = s.up(ctx)
	if err != nil {
		t.Fatalf("rerun after the link came back: %v", err)
	}
	names := opNames(res.Ops)
	if slices.Contains(names, "create install-s1") || !slices.Contains(names, "create install-a1") {
		t.Errorf("rerun ran %v: want only what had not run", names)
	}
	cluster, err := harness.Attach(kubeconfigOf(t, res))
	if err != nil {
		t.Fatal(err)
	}
	livetest.CheckNodes(ctx, t, cluster, map[string]string{"s1": livetest.HostsVersion, "s2": livetest.HostsVersion, "s3": livetest.HostsVersion, "a1": livetest.HostsVersion})
	for _, n := range []string{"s1", "s2", "s3"} {
		node, err := cluster.Client.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
		if err != nil || node.Labels["node-role.kubernetes.io/control-plane"] != "true" {
			t.Errorf("%s is not a control-plane node: %v", n, err)
		}
	}
	cfg, err := hosts.Run(ctx, "s1", "sudo -n cat /etc/rancher/k3s/config.yaml")
	if err != nil || !strings.Contains(cfg, "cluster-init: true") {
		t.Errorf("first server config: %v\n%s", err, cfg)
	}
	cfg, err = hosts.Run(ctx, "s3", "sudo -n cat /etc/rancher/k3s/config.yaml; sudo -n stat -c %a /etc/rancher/k3s/config.yaml /etc/rancher/k3s/token")
	if err != nil || !strings.Contains(cfg, "server: https://"+hosts.Host("s1").Address+":6443") || !strings.Contains(cfg, "600\n600\n") {
		t.Errorf("joining server config (and modes): %v\n%s", err, cfg)
	}

	// Destroy without uninstallOnDestroy: K3s keeps running everywhere, nodes stay.
	ops, err := s.engine.Destroy(ctx)
	if err != nil {
		t.Fatalf("destroy: %v", err)
	}
	for _, h := range []string{"s1", "s2", "s3", "a1"} {
		unit := "k3s"
		if h == "a1" {
			unit = "k3s-agent"
		}
		if out, err := hosts.Run(ctx, h, "sudo -n systemctl is-active "+unit); err != nil || out != "active\n" {
			t.Errorf("%s: K3s not running after a destroy that keeps it: %q %v (ops %v)", h, out, err, opNames(ops))
		}
	}
	livetest.CheckNodes(ctx, t, cluster, map[string]string{"s1": livetest.HostsVersion, "s2": livetest.HostsVersion, "s3": livetest.HostsVersion, "a1": livetest.HostsVersion})

	// With uninstallOnDestroy: up (adopts the running cluster), then destroy uninstalls.
	s.uninstall = true
	if _, err := s.up(ctx); err != nil {
		t.Fatalf("up with uninstallOnDestroy: %v", err)
	}
	if ops, err = s.engine.Destroy(ctx); err != nil {
		t.Fatalf("destroy with uninstallOnDestroy: %v", err)
	}
	for _, h := range []string{"s1", "s2", "s3", "a1"} {
		if out, _ := hosts.Run(ctx, h, "ls /usr/local/bin/k3s /var/lib/rancher/k3s 2>&1 || true"); !strings.Contains(out, "No such file") {
			t.Errorf("%s: K3s left after an uninstalling destroy: %s (ops %v)", h, out, opNames(ops))
		}
	}
}
