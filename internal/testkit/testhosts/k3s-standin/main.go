// Command k3s-standin is a TEST-ONLY stand-in for the K3s binary, built by the test hosts
// as the `k3s` of stand-in air-gapped artifacts (the real binary cannot be downloaded on
// the machines we test on). It is never shipped. It does what the host scripts rely on:
//
//	k3s server   the first server starts a real control plane (etcd, kube-apiserver,
//	             controller-manager, scheduler, kwok: the harness) on the host's address,
//	             port 6443, honouring /etc/rancher/k3s/config.yaml (token, tls-san, node
//	             name/ip/labels/taints), registers its own node and writes
//	             /etc/rancher/k3s/k3s.yaml and the join token; a joining server (config
//	             `server:`) registers as a control-plane node of the first (no second
//	             control plane: the stand-in's limit)
//	k3s agent    checks the token with its server (port 6444, the stand-in's join endpoint)
//	             and registers its node (kwok) with its labels and taints
//	k3s --version, k3s kubectl
//	k3s ctr version; k3s ctr [--namespace N] images import FILE: checks that FILE is a
//	             docker-archive and appends its tags and digest to /var/log/k3s-ctr.log
//
// A GPU node (label nvidia.com/gpu.present=true) has one GPU, advertised as nvidia.com/gpu
// only while a device plugin runs on it (the harness' device plugin stand-in). The first
// server also plays K3s' ServiceLB, local-path, `runtimes` and istiod's admission webhooks
// (standins.go).
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"xgen-infra/internal/testkit/harness"
)

// Set at build time.
var (
	version  = "v0.0.0+k3s0"
	toolsDir = ""
)

const (
	configPath     = "/etc/rancher/k3s/config.yaml"
	kubeconfigPath = "/etc/rancher/k3s/k3s.yaml"
	serverDir      = "/var/lib/rancher/k3s/server"
	agentKubecfg   = "/var/lib/rancher/k3s/agent/kubelet.kubeconfig"
	joinPort       = 6444
)

type config struct {
	NodeName  string   `json:"node-name"`
	NodeIP    string   `json:"node-ip"`
	Server    string   `json:"server"`
	Token     string   `json:"token"`
	TokenFile string   `json:"token-file"`
	TLSSAN    []string `json:"tls-san"`
	NodeLabel []string `json:"node-label"`
	NodeTaint []string `json:"node-taint"`
	Disable   []string `json:"disable"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "k3s (stand-in): %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: k3s server|agent|kubectl|--version")
	}
	switch args[0] {
	case "--version", "-v", "version":
		fmt.Printf("k3s version %s (stand-in)\ngo version %s\n", version, "go")
		return nil
	case "kubectl":
		return kubectl(args[1:])
	case "ctr":
		return ctr(args[1:])
	case "server", "agent":
		cfg, err := readConfig()
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		if args[0] == "server" && cfg.Server == "" {
			return firstServer(ctx, cfg)
		}
		return join(ctx, cfg, args[0])
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// ctrLog records what containerd was asked to import.
const ctrLog = "/var/log/k3s-ctr.log"

func ctr(args []string) error {
	var rest []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--namespace" || a == "-n":
			i++
		case strings.HasPrefix(a, "--namespace="):
		default:
			rest = append(rest, a)
		}
	}
	switch {
	case len(rest) == 1 && rest[0] == "version":
		fmt.Println("Client: containerd (k3s stand-in)")
		return nil
	case len(rest) == 3 && rest[0] == "images" && rest[1] == "import":
		tags, digest, err := archiveTags(rest[2])
		if err != nil {
			return fmt.Errorf("ctr: %s: %w", rest[2], err)
		}
		f, err := os.OpenFile(ctrLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = fmt.Fprintf(f, "import %s %s %s\n", filepath.Base(rest[2]), digest, strings.Join(tags, ","))
		return err
	}
	return fmt.Errorf("ctr %s: not supported by the stand-in", strings.Join(args, " "))
}

// archiveTags reads a docker-archive's manifest.json: the tags it carries.
func archiveTags(file string) ([]string, string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(data)
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, "", fmt.Errorf("not a docker-archive (no manifest.json): %w", err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil || len(m) == 0 {
			return nil, "", fmt.Errorf("manifest.json: %v", err)
		}
		return m[0].RepoTags, hex.EncodeToString(sum[:]), nil
	}
}

func kubectl(args []string) error {
	hasKubeconfig := false
	for _, a := range args {
		if strings.HasPrefix(a, "--kubeconfig") {
			hasKubeconfig = true
		}
	}
	if !hasKubeconfig {
		args = append([]string{"--kubeconfig=" + kubeconfigPath}, args...)
	}
	cmd := exec.Command(filepath.Join(toolsDir, "bin", "kubectl"), args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		return err
	}
	return nil
}

func readConfig() (*config, error) {
	data, err := os.ReadFile(configPath)
	if err != nil {
		return nil, err
	}
	var c config
	// Keys the stand-in does not act on (cluster-cidr, ...) are ignored; of `disable` it acts on servicelb.
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", configPath, err)
	}
	if c.TokenFile != "" {
		tok, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return nil, err
		}
		c.Token = strings.TrimSpace(string(tok))
	}
	if c.NodeName == "" || c.NodeIP == "" {
		return nil, fmt.Errorf("%s: node-name and node-ip are required by the stand-in", configPath)
	}
	return &c, nil
}

// node turns the config's labels and taints into a harness node.
func (c *config) node(role string) (harness.Node, error) {
	n := harness.Node{Name: c.NodeName, Labels: map[string]string{}, KubeletVersion: version, Address: c.NodeIP, Taints: []corev1.Taint{}}
	if role == "server" {
		for _, r := range []string{"control-plane", "etcd", "master"} {
			n.Labels["node-role.kubernetes.io/"+r] = "true"
		}
	}
	for _, l := range c.NodeLabel {
		k, v, _ := strings.Cut(l, "=")
		n.Labels[k] = v
	}
	if n.Labels["nvidia.com/gpu.present"] == "true" {
		n.GPUs = 1
	}
	taint := regexp.MustCompile(`^([^=:]+)(=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$`)
	for _, t := range c.NodeTaint {
		m := taint.FindStringSubmatch(t)
		if m == nil {
			return n, fmt.Errorf("bad node-taint %q", t)
		}
		n.Taints = append(n.Taints, corev1.Taint{Key: m[1], Value: m[3], Effect: corev1.TaintEffect(m[4])})
	}
	return n, nil
}

func firstServer(ctx context.Context, cfg *config) error {
	token := cfg.Token
	tokenFile := filepath.Join(serverDir, "token")
	// As K3s: a datastore is resumed (the cluster is not initialised again) only with the
	// token it was bootstrapped with; another token is refused, not silently accepted.
	if old, err := os.ReadFile(tokenFile); err == nil && token != "" && !sameToken(strings.TrimSpace(string(old)), token) {
		return errors.New("starting kubernetes: preparing server: bootstrap data already found and encrypted with different token")
	}
	if token == "" {
		if old, err := os.ReadFile(tokenFile); err == nil {
			token = strings.TrimSpace(string(old))
		} else {
			b := make([]byte, 16)
			_, _ = rand.Read(b)
			token = "K10" + hex.EncodeToString(b) + "::server:" + hex.EncodeToString(b[:8])
		}
	}
	self, err := cfg.node("server")
	if err != nil {
		return err
	}
	c, err := harness.Start(ctx, harness.Options{
		ToolsDir: toolsDir, Dir: filepath.Join(serverDir, "standin"), Nodes: []harness.Node{self},
		Address: cfg.NodeIP, SANs: cfg.TLSSAN, Resume: true, Progress: os.Stderr, ServiceCIDR: standInServiceCIDR,
	})
	if err != nil {
		return err
	}
	defer c.Stop()
	if !slices.Contains(cfg.Disable, "servicelb") {
		go serviceLB(ctx, c.Client, cfg.NodeIP)
	}
	if !slices.Contains(cfg.Disable, "local-storage") {
		go localPath(ctx, c.Client)
	}
	k3sRuntimes(ctx, c.Client, slices.Contains(cfg.Disable, "runtimes"))
	if err := serveIstiodWebhooks(ctx, c.Client); err != nil {
		return err
	}
	kubeconfig, err := c.SelfContainedKubeconfig()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(kubeconfigPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		return err
	}
	if err := os.MkdirAll(serverDir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return err
	}

	// The join endpoint: agents and joining servers prove the token and get registered.
	mux := http.NewServeMux()
	mux.HandleFunc("/join", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token, Role string
			Config      config
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if subtle.ConstantTimeCompare([]byte(req.Token), []byte(token)) != 1 {
			http.Error(w, "token does not match the server's", http.StatusUnauthorized)
			return
		}
		n, err := req.Config.node(req.Role)
		if err == nil {
			err = c.CreateNode(r.Context(), n)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		// The node's own kubeconfig (the stand-in hands out admin credentials).
		kc, _ := clientcmd.Load(kubeconfig)
		for _, cl := range kc.Clusters {
			cl.Server = fmt.Sprintf("https://%s:6443", cfg.NodeIP)
		}
		out, _ := clientcmd.Write(*kc)
		_, _ = w.Write(out)
	})
	srv := &http.Server{Addr: fmt.Sprintf("%s:%d", cfg.NodeIP, joinPort), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ListenAndServe() }()
	fmt.Fprintf(os.Stderr, "k3s (stand-in) server %s %s ready\n", cfg.NodeName, version)
	<-ctx.Done()
	_ = srv.Close()
	return nil
}

// join registers a node with its server and stays up like an agent service.
func join(ctx context.Context, cfg *config, role string) error {
	host := strings.TrimSuffix(strings.TrimPrefix(cfg.Server, "https://"), ":6443")
	body, _ := json.Marshal(map[string]any{"Token": cfg.Token, "Role": role, "Config": cfg})
	var kubeconfig []byte
	client := &http.Client{Timeout: 90 * time.Second} // a lost connection is retried, not waited on
	for attempt := 0; ; attempt++ {
		resp, err := client.Post(fmt.Sprintf("http://%s:%d/join", host, joinPort), "application/json", bytes.NewReader(body))
		if err == nil {
			data, _ := readAll(resp)
			if resp.StatusCode == http.StatusOK {
				kubeconfig = data
				break
			}
			if resp.StatusCode == http.StatusUnauthorized {
				return fmt.Errorf("server %s refused the join: %s", cfg.Server, data)
			}
			err = fmt.Errorf("%s: %s", resp.Status, data)
		}
		fmt.Fprintf(os.Stderr, "k3s (stand-in): join %s: %v (retrying)\n", cfg.Server, err)
		if attempt > 60 {
			return fmt.Errorf("cannot join %s: %w", cfg.Server, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
	path := agentKubecfg
	if role == "server" {
		path = kubeconfigPath
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "k3s (stand-in) %s %s joined %s\n", role, cfg.NodeName, cfg.Server)
	<-ctx.Done()
	return nil
}

func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err := b.ReadFrom(resp.Body)
	return b.Bytes(), err
}

// sameToken says whether two K3s tokens carry the same secret: a full token
// ("K10<CA hash>::server:<secret>") and its short form ("<secret>") are the same token.
func sameToken(a, b string) bool {
	secret := func(t string) string {
		if i := strings.LastIndex(t, "::"); i >= 0 {
			if _, s, ok := strings.Cut(t[i+2:], ":"); ok {
				return s
			}
		}
		return t
	}
	return subtle.ConstantTimeCompare([]byte(secret(a)), []byte(secret(b))) == 1
}
