// Package harness runs a real, throwaway Kubernetes control plane on loopback: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake nodes that run
// pods to Ready without kubelets). Tests, benchmarks and `make demo` all use it.
package harness

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/retry"
)

// FakeNodeAnnotation marks the nodes kwok manages.
const FakeNodeAnnotation = "kwok.x-k8s.io/node"

// Node is a fake node to create.
type Node struct {
	Name   string
	Labels map[string]string
	// GPUs are the node's NVIDIA GPUs: advertised as nvidia.com/gpu only while a device
	// plugin runs on the node (deviceplugin.go). GPU nodes are also tainted
	// nvidia.com/gpu:NoSchedule unless Taints is given.
	GPUs int
	// Taints replace the default GPU taint when set.
	Taints []corev1.Taint
	// KubeletVersion is reported in status.nodeInfo (K3s reports its release there).
	KubeletVersion string
	// Address is reported as the node's InternalIP.
	Address string
}

// DefaultNodes are two ordinary nodes and one GPU node labelled the way GPU services select.
func DefaultNodes() []Node {
	return []Node{
		{Name: "node-1"},
		{Name: "node-2"},
		{Name: "gpu-1", GPUs: 2, Labels: map[string]string{"nvidia.com/gpu.present": "true"}},
	}
}

// Options configure a cluster.
type Options struct {
	// ToolsDir holds bin/ (kube-apiserver, kube-controller-manager, kube-scheduler, etcd,
	// kwok), kwok-stages.yaml and istio-crds.yaml, as tools/install.sh lays them out.
	ToolsDir string
	// Dir is the working directory (certificates, etcd data, logs, kubeconfig). Created;
	// emptied first.
	Dir string
	// Nodes to create. Default DefaultNodes().
	Nodes []Node
	// InstallIstioCRDs installs Istio's CRDs and waits until they are Established.
	InstallIstioCRDs bool
	// Progress receives one line per step. Default: discarded.
	Progress io.Writer
	// Address, when set, is the address the API server advertises and serves on (all
	// interfaces, port APIPort, certificate for Address, 127.0.0.1 and SANs) and etcd uses
	// fixed ports 2379/2380 on loopback: a control plane on a test host of its own.
	// Default: loopback only, free ports.
	Address string
	// APIPort is the API server's port with Address. Default 6443.
	APIPort int
	// SANs are extra names and addresses in the API server certificate.
	SANs []string
	// Resume keeps Dir (certificates, etcd data) from an earlier run: a restarted control
	// plane with its objects. Default false: Dir is emptied first.
	Resume bool
	// ServiceCIDR is the Services' cluster IP range (a /24). Default "10.0.0.0/24".
	ServiceCIDR string
}

// Cluster is a running control plane.
type Cluster struct {
	// Kubeconfig is the path of an admin kubeconfig.
	Kubeconfig string
	// Config is the admin client configuration.
	Config *rest.Config
	// Client is an admin clientset.
	Client kubernetes.Interface

	dir      string
	procs    []*process
	progress io.Writer
	// stopDevicePlugins ends the device plugin stand-in.
	stopDevicePlugins context.CancelFunc
}

type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// Start brings a cluster up and returns when the API server is ready, the nodes are
// Ready and (if asked) the Istio CRDs are Established. On any error everything started
// is stopped.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	c := &Cluster{}
	if err := c.boot(ctx, opts); err != nil {
		if stopErr := c.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	return c, nil
}

// boot starts every component in order; Start stops them again if it fails.
func (c *Cluster) boot(ctx context.Context, opts Options) error {
	if opts.Nodes == nil {
		opts.Nodes = DefaultNodes()
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	toolsDir, err := filepath.Abs(opts.ToolsDir)
	if err != nil {
		return err
	}
	opts.ToolsDir = toolsDir
	bin := filepath.Join(opts.ToolsDir, "bin")
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return fmt.Errorf("harness: %s is missing in %s; run `make tools` (tools/install.sh)", b, bin)
		}
	}
	// Absolute paths: the kubeconfig's certificate paths are read relative to its own folder.
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return err
	}
	opts.Dir = dir
	if !opts.Resume {
		if err := os.RemoveAll(opts.Dir); err != nil {
			return err
		}
	}
	for _, d := range []string{"pki", "etcd", "logs", "home"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o700); err != nil {
			return err
		}
	}
	c.dir, c.progress = opts.Dir, progress

	if opts.ServiceCIDR == "" {
		opts.ServiceCIDR = "10.0.0.0/24"
	}
	_, serviceNet, err := net.ParseCIDR(opts.ServiceCIDR)
	if err != nil {
		return fmt.Errorf("harness: ServiceCIDR: %w", err)
	}
	kubernetesIP := slices.Clone(serviceNet.IP.To4())
	kubernetesIP[3]++ // the `kubernetes` Service's address, in the API server's certificate
	sanIPs, sanNames := []net.IP{net.ParseIP("127.0.0.1"), kubernetesIP}, []string(nil)
	for _, san := range append([]string{opts.Address}, opts.SANs...) {
		if ip := net.ParseIP(san); ip != nil {
			sanIPs = append(sanIPs, ip)
		} else if san != "" {
			sanNames = append(sanNames, san)
		}
	}
	pki, err := loadOrWritePKI(filepath.Join(opts.Dir, "pki"), sanIPs, sanNames)
	if err != nil {
		return fmt.Errorf("harness: certificates: %w", err)
	}
	bindAddress, advertise := "127.0.0.1", "127.0.0.1"
	var etcdClient, etcdPeer, apiPort int
	if opts.Address != "" {
		bindAddress, advertise = "0.0.0.0", opts.Address
		etcdClient, etcdPeer, apiPort = 2379, 2380, opts.APIPort
		if apiPort == 0 {
			apiPort = 6443
		}
	} else {
		ports, err := freePorts(3)
		if err != nil {
			return err
		}
		etcdClient, etcdPeer, apiPort = ports[0], ports[1], ports[2]
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	c.Kubeconfig = filepath.Join(opts.Dir, "kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, server, pki); err != nil {
		return err
	}

	c.step("etcd")
	peer := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	client := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	if err := c.start("etcd", filepath.Join(bin, "etcd"),
		"--name=harness", "--data-dir="+filepath.Join(opts.Dir, "etcd"),
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster=harness="+peer, "--unsafe-no-fsync", "--log-level=warn"); err != nil {
		return err
	}

	c.step("kube-apiserver")
	if err := c.start("kube-apiserver", filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers="+client,
		"--bind-address="+bindAddress, "--advertise-address="+advertise, "--secure-port="+strconv.Itoa(apiPort),
		"--tls-cert-file="+pki.serverCert, "--tls-private-key-file="+pki.serverKey, "--client-ca-file="+pki.caCert,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki.saPub, "--service-account-signing-key-file="+pki.saKey,
		"--service-cluster-ip-range="+opts.ServiceCIDR, "--authorization-mode=RBAC", "--allow-privileged=true",
		"--enable-priority-and-fairness=false", "--profiling=false", "--v=0"); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return err
	}
	if err := inlineTLSFiles(cfg); err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 200, 400
	c.Config = cfg
	if c.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if err := c.waitReady(ctx, 60*time.Second); err != nil {
		return err
	}

	c.step("kube-controller-manager, kube-scheduler")
	if err := c.start("kube-controller-manager", filepath.Join(bin, "kube-controller-manager"),
		"--kubeconfig="+c.Kubeconfig, "--leader-elect=false", "--secure-port=0",
		"--service-account-private-key-file="+pki.saKey, "--root-ca-file="+pki.caCert,
		"--use-service-account-credentials=false", "--profiling=false",
		// Fake nodes heartbeat through leases every 40 s (kwok below).
		"--node-monitor-grace-period=60s",
		// HPAs raise Deployments to their minimum without waiting the default 15 s.
		"--horizontal-pod-autoscaler-sync-period=1s"); err != nil {
		return err
	}
	if err := c.start("kube-scheduler", filepath.Join(bin, "kube-scheduler"),
		"--kubeconfig="+c.Kubeconfig, "--leader-elect=false", "--secure-port=0", "--profiling=false"); err != nil {
		return err
	}

	if opts.Resume {
		// A restarted kwok waits for the old node leases to expire unless they are gone.
		_ = c.Client.CoordinationV1().Leases("kube-node-lease").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	}
	c.step("kwok")
	// A KwokConfiguration in the file is not defaulted: the file holds only Stages and the
	// options are flags. HOME keeps kwok from reading ~/.kwok/kwok.yaml.
	if err := c.start("kwok", filepath.Join(bin, "kwok"),
		"--kubeconfig="+c.Kubeconfig, "--config="+filepath.Join(opts.ToolsDir, "kwok-stages.yaml"),
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector="+FakeNodeAnnotation+"=fake",
		"--node-lease-duration-seconds=40", "--cidr=10.244.0.0/16", "--server-address="); err != nil {
		return err
	}

	c.step(fmt.Sprintf("%d fake nodes", len(opts.Nodes)))
	for _, n := range opts.Nodes {
		if err := c.CreateNode(ctx, n); err != nil {
			return err
		}
	}
	if opts.InstallIstioCRDs {
		c.step("Istio CRDs")
		data, err := os.ReadFile(filepath.Join(opts.ToolsDir, "istio-crds.yaml"))
		if err != nil {
			return err
		}
		if err := c.InstallCRDs(ctx, data); err != nil {
			return fmt.Errorf("harness: Istio CRDs: %w", err)
		}
	}
	if err := c.waitNodesReady(ctx, opts.Nodes, 90*time.Second); err != nil {
		return err
	}
	if err := c.writePIDs(); err != nil {
		return err
	}
	pluginCtx, stop := context.WithCancel(context.Background())
	c.stopDevicePlugins = stop
	go RunDevicePlugins(pluginCtx, c.Client)
	c.step("ready")
	return nil
}

func (c *Cluster) step(what string) { fmt.Fprintf(c.progress, "harness: %s\n", what) }

// start runs a binary with its output in logs/<name>.log. Children get SIGKILL if this
// process dies, so nothing outlives a crashed test.
func (c *Cluster) start(name, path string, args ...string) error {
	logPath := filepath.Join(c.dir, "logs", name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(c.dir, "home"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("harness: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
	return nil
}

// Stop ends every process this cluster started, newest first (SIGTERM, then SIGKILL after
// 10 s), and waits for them.
func (c *Cluster) Stop() error {
	if c.stopDevicePlugins != nil {
		c.stopDevicePlugins()
	}
	var errs []error
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		select {
		case <-p.done:
			continue
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			errs = append(errs, fmt.Errorf("%s did not stop on SIGTERM; killed", p.name))
		}
	}
	c.procs = nil
	_ = os.Remove(filepath.Join(c.dir, "pids"))
	return errors.Join(errs...)
}

// writePIDs records the processes so that `make demo-down` can stop a demo whose
// terminal is gone.
func (c *Cluster) writePIDs() error {
	var b strings.Builder
	for _, p := range c.procs {
		fmt.Fprintf(&b, "%d %s\n", p.cmd.Process.Pid, p.name)
	}
	return os.WriteFile(filepath.Join(c.dir, "pids"), []byte(b.String()), 0o600)
}

// Log returns the tail of a component's log, for error messages.
func (c *Cluster) Log(name string) string {
	data, _ := os.ReadFile(filepath.Join(c.dir, "logs", name+".log"))
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

func (c *Cluster) exited() error {
	for _, p := range c.procs {
		select {
		case <-p.done:
			return fmt.Errorf("harness: %s exited: %s\n%s", p.name, p.cmd.ProcessState, c.Log(p.name))
		default:
		}
	}
	return nil
}

func (c *Cluster) waitReady(ctx context.Context, timeout time.Duration) error {
	return poll(ctx, timeout, func() (bool, error) {
		if err := c.exited(); err != nil {
			return false, err
		}
		body, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && bytes.Equal(body, []byte("ok")), nil
	}, "the API server to be ready")
}

// CreateNode registers a fake node (kwok runs its pods), or updates the one of that name:
// labels, taints and status are made what n says.
func (c *Cluster) CreateNode(ctx context.Context, n Node) error {
	labels := map[string]string{"kubernetes.io/hostname": n.Name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok"}
	for k, v := range n.Labels {
		labels[k] = v
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("16"),
		corev1.ResourceMemory: resource.MustParse("64Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
		// A kubelet reports its disk; pods that request ephemeral storage fit only where
		// a node has it.
		corev1.ResourceEphemeralStorage: resource.MustParse("200Gi"),
	}
	taints := n.Taints
	annotations := map[string]string{FakeNodeAnnotation: "fake"}
	if n.GPUs > 0 {
		annotations[GPUsAnnotation] = strconv.Itoa(n.GPUs)
		if taints == nil {
			taints = []corev1.Taint{{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}}
		}
	}
	// The status a kubelet reports. A new node is created with it, as a kubelet registers
	// itself: kwok initialises the status of a node the moment it sees it, and a version written
	// afterwards could lose to that (kwok would report its own).
	setStatus := func(node *corev1.Node) {
		// No nvidia.com/gpu: a registering kubelet has none until its device plugin
		// registers (the stand-in plugin adds it).
		node.Status.Capacity, node.Status.Allocatable = capacity, capacity
		if n.KubeletVersion != "" {
			node.Status.NodeInfo.KubeletVersion = n.KubeletVersion
		}
		if n.Address != "" {
			node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.Address}, {Type: corev1.NodeHostName, Address: n.Name}}
		}
	}
	nodes := c.Client.CoreV1().Nodes()
	// kwok updates a node's status as soon as it sees it: retry on conflicts.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := nodes.Get(ctx, n.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			node = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: labels,
				Annotations: annotations}, Spec: corev1.NodeSpec{Taints: taints}}
			setStatus(node)
			_, err = nodes.Create(ctx, node, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("nodes"), n.Name, err)
			}
			return err
		}
		if err != nil {
			return fmt.Errorf("harness: node %s: %w", n.Name, err)
		}
		for k, v := range labels {
			node.Labels[k] = v
		}
		if node.Annotations == nil {
			node.Annotations = map[string]string{}
		}
		for k, v := range annotations {
			node.Annotations[k] = v
		}
		node.Spec.Taints = taints
		if node, err = nodes.Update(ctx, node, metav1.UpdateOptions{}); err != nil {
			return err
		}
		setStatus(node)
		_, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("harness: node %s: %w", n.Name, err)
	}
	if n.KubeletVersion == "" {
		return nil
	}
	// Ready on its version, the way callers (K3s's scripts) wait for it. A kubelet keeps
	// reporting its version; should kwok have overwritten it, it is put back.
	return poll(ctx, time.Minute, func() (bool, error) {
		node, err := nodes.Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if node.Status.NodeInfo.KubeletVersion != n.KubeletVersion {
			node.Status.NodeInfo.KubeletVersion = n.KubeletVersion
			_, _ = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
			return false, nil
		}
		return NodeReady(node), nil
	}, "node "+n.Name+" to be Ready on its version")
}

func (c *Cluster) waitNodesReady(ctx context.Context, want []Node, timeout time.Duration) error {
	return poll(ctx, timeout, func() (bool, error) {
		if err := c.exited(); err != nil {
			return false, err
		}
		for _, n := range want {
			node, err := c.Client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil || !NodeReady(node) {
				return false, nil
			}
		}
		return true, nil
	}, fmt.Sprintf("%d nodes to be Ready", len(want)))
}

// NodeReady reports the node's Ready condition.
func NodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// poll calls check every 100 ms until it reports done, fails, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, check func() (bool, error), what string) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := check()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("harness: timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

type pkiFiles struct {
	caCert, serverCert, serverKey, adminCert, adminKey, saKey, saPub string
}

// loadOrWritePKI keeps the certificates of an earlier run in dir, or writes new ones.
func loadOrWritePKI(dir string, ips []net.IP, names []string) (pkiFiles, error) {
	f := pkiPaths(dir)
	if _, err := os.Stat(f.saPub); err == nil {
		return f, nil
	}
	return writePKI(dir, ips, names)
}

func pkiPaths(dir string) pkiFiles {
	return pkiFiles{
		caCert: filepath.Join(dir, "ca.crt"), serverCert: filepath.Join(dir, "apiserver.crt"), serverKey: filepath.Join(dir, "apiserver.key"),
		adminCert: filepath.Join(dir, "admin.crt"), adminKey: filepath.Join(dir, "admin.key"),
		saKey: filepath.Join(dir, "sa.key"), saPub: filepath.Join(dir, "sa.pub"),
	}
}

// writePKI creates a throwaway CA, the API server's serving certificate (for ips and names
// besides the in-cluster names), an admin client certificate in system:masters and the
// service-account signing key pair.
func writePKI(dir string, ips []net.IP, names []string) (pkiFiles, error) {
	f := pkiPaths(dir)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	now := time.Now().Add(-time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "xgen-harness-ca"},
		NotBefore: now, NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return f, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	if err := writePEM(f.caCert, "CERTIFICATE", caDER); err != nil {
		return f, err
	}
	issue := func(serial int64, subject pkix.Name, usage x509.ExtKeyUsage, ips []net.IP, dns []string, certPath, keyPath string) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: subject, NotBefore: now, NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, DNSNames: dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(certPath, "CERTIFICATE", der); err != nil {
			return err
		}
		return writePEM(keyPath, "EC PRIVATE KEY", keyDER)
	}
	if err := issue(2, pkix.Name{CommonName: "kube-apiserver"}, x509.ExtKeyUsageServerAuth,
		ips, append([]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}, names...),
		f.serverCert, f.serverKey); err != nil {
		return f, err
	}
	if err := issue(3, pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}}, x509.ExtKeyUsageClientAuth,
		nil, nil, f.adminCert, f.adminKey); err != nil {
		return f, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	saDER, _ := x509.MarshalECPrivateKey(saKey)
	saPubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return f, err
	}
	if err := writePEM(f.saKey, "EC PRIVATE KEY", saDER); err != nil {
		return f, err
	}
	return f, writePEM(f.saPub, "PUBLIC KEY", saPubDER)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// SelfContainedKubeconfig is the admin kubeconfig with its certificates and key inlined: what
// an operator stores as the kubeconfig secret (file contents, no paths).
func (c *Cluster) SelfContainedKubeconfig() ([]byte, error) {
	cfg, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		return nil, err
	}
	if err := clientcmdapi.FlattenConfig(cfg); err != nil {
		return nil, err
	}
	return clientcmd.Write(*cfg)
}

func writeKubeconfig(path, server string, pki pkiFiles) error {
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: harness
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: harness
  context: {cluster: harness, user: admin}
current-context: harness
`, server, pki.caCert, pki.adminCert, pki.adminKey)
	return os.WriteFile(path, []byte(kubeconfig), 0o600)
}

// Attach returns a Cluster for a control plane this package did not start (e.g. one a test
// host's K3s formed), from its kubeconfig: Apply, WaitAvailable and the rest work on it;
// Stop does nothing.
func Attach(kubeconfig []byte) (*Cluster, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("harness: kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Cluster{Config: cfg, Client: client}, nil
}

// inlineTLSFiles reads the client's certificate files into the config: client-go watches
// certificate files for rotation and, once a test's directory is gone, logs every few
// seconds that it cannot load them.
func inlineTLSFiles(cfg *rest.Config) error {
	for _, f := range []struct {
		file *string
		data *[]byte
	}{{&cfg.CertFile, &cfg.CertData}, {&cfg.KeyFile, &cfg.KeyData}, {&cfg.CAFile, &cfg.CAData}} {
		if *f.file == "" {
			continue
		}
		data, err := os.ReadFile(*f.file)
		if err != nil {
			return err
		}
		*f.data, *f.file = data, ""
	}
	return nil
}
