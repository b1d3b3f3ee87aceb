package sites

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"xgen-infra/components/hostdefaults"
	"xgen-infra/images/bundle"
)

// ClusterConfig is K3s on the site's own hosts, installed over SSH (`site.cluster`). Without
// it the site deploys to an existing cluster given by the `kubeconfig` secret.
type ClusterConfig struct {
	// K3s says which K3s and how it gets onto the hosts. k3s.version is required.
	K3s K3sConfig `json:"k3s,omitempty"`
	// SSH says how the program logs in to every host. ssh.user is required; the private key
	// is the secret `sshPrivateKey`.
	SSH SSHConfig `json:"ssh,omitempty"`
	// Servers run the control plane: 1, or an odd number >= 3 (embedded etcd; the first
	// initialises the cluster, the others join it). Required.
	Servers []NodeConfig `json:"servers,omitempty"`
	// Agents are worker nodes. Default none.
	Agents []NodeConfig `json:"agents,omitempty"`
	// Disable lists packaged K3s components to leave out: traefik, servicelb, local-storage,
	// metrics-server. Traefik is always left out unless ingress.type is traefik.
	Disable []string `json:"disable,omitempty"`
	// TLSSANs are extra names and addresses in the API server certificate (the API
	// endpoint and the server addresses are always in it).
	TLSSANs []string `json:"tlsSans,omitempty"`
	// ClusterCIDR is the pod network. Default "10.42.0.0/16".
	ClusterCIDR string `json:"clusterCidr,omitempty"`
	// ServiceCIDR is the Service network. Default "10.43.0.0/16".
	ServiceCIDR string `json:"serviceCidr,omitempty"`
	// APIEndpoint is the address (or host name) the kubeconfig reaches the API server at,
	// e.g. a load balancer in front of the servers; "host" or "host:port". Default: the
	// first server's address, port 6443.
	APIEndpoint string `json:"apiEndpoint,omitempty"`
	// ReadyTimeout is how long `pulumi up` waits for every node to be Ready (Go duration).
	// Default "5m".
	ReadyTimeout string `json:"readyTimeout,omitempty"`
	// UninstallOnDestroy lets `pulumi destroy` uninstall K3s from every host (its data
	// included). Default false: destroy leaves the cluster running.
	UninstallOnDestroy bool `json:"uninstallOnDestroy,omitempty"`
	// Addons are installed into the cluster once it is up (see AddonsConfig).
	Addons AddonsConfig `json:"addons,omitempty"`
}

// K3sConfig pins the K3s release and the way it is installed.
type K3sConfig struct {
	// Version is the pinned K3s release, e.g. "v1.31.4+k3s1". Required.
	Version string `json:"version,omitempty"`
	// Install is "online" (each host downloads the pinned release and checks its
	// checksum) or "airgapped" (the program uploads Artifacts). Default "online".
	Install string `json:"install,omitempty"`
	// Artifacts is a local directory (relative to the project) with the release files of
	// an air-gapped install: `k3s`, `k3s-airgap-images-amd64.tar.zst` (or .tar.gz / .tar)
	// and `sha256sum-amd64.txt`, which must list both. Required for airgapped.
	Artifacts string `json:"artifacts,omitempty"`
	// ImageBundle is a local directory written by `go run ./cmd/images bundle` (relative
	// to the project): its cluster images are uploaded to every node's
	// /var/lib/rancher/k3s/agent/images/ and imported by containerd, so a closed network
	// needs no registry. Air-gapped only; it must hold every cluster image of the site.
	// Default none.
	ImageBundle string `json:"imageBundle,omitempty"`
}

// SSHConfig is how the program logs in to the hosts.
type SSHConfig struct {
	// User logs in with the key `sshPrivateKey` and needs passwordless sudo. Required.
	User string `json:"user,omitempty"`
	// Port of sshd on every host. Default 22.
	Port int `json:"port,omitempty"`
	// ConnectTimeout bounds one connection attempt (Go duration); an unreachable host fails
	// after it. Default "10s".
	ConnectTimeout string `json:"connectTimeout,omitempty"`
	// Bastion is an optional jump host the connections go through (same user and key).
	Bastion *BastionConfig `json:"bastion,omitempty"`
}

// BastionConfig is a jump host.
type BastionConfig struct {
	// Address of the jump host. Required.
	Address string `json:"address,omitempty"`
	// Port of its sshd. Default 22.
	Port int `json:"port,omitempty"`
	// User on the jump host. Default: ssh.user.
	User string `json:"user,omitempty"`
	// HostKey is the jump host's pinned public host key. Required.
	HostKey string `json:"hostKey,omitempty"`
}

// NodeConfig is one host of the cluster.
type NodeConfig struct {
	// Name is the Kubernetes node name (a DNS label). Required, unique.
	Name string `json:"name,omitempty"`
	// Address the program connects to and the node advertises. Required, unique.
	Address string `json:"address,omitempty"`
	// HostKey is the host's pinned SSH public host key, one OpenSSH line:
	// "ssh-ed25519 AAAA..." (ssh-keyscan -t ed25519 <address>). A host whose key differs is
	// refused. Required.
	HostKey string `json:"hostKey,omitempty"`
	// Labels of the node; kept in step with the config both ways.
	Labels map[string]string `json:"labels,omitempty"`
	// Taints of the node as "key=value:Effect" (or "key:Effect"); kept in step too.
	Taints []string `json:"taints,omitempty"`
	// GPU marks an NVIDIA GPU host: label nvidia.com/gpu.present=true (what GPU services
	// select) and taint nvidia.com/gpu=present:NoSchedule; preflight checks the driver.
	GPU bool `json:"gpu,omitempty"`
}

// Cluster defaults and choices.
const (
	DefaultClusterCIDR = "10.42.0.0/16"
	DefaultServiceCIDR = "10.43.0.0/16"
	DefaultSSHPort     = 22
	K3sAPIPort         = hostdefaults.K3sAPIPort
)

// Defaults the K3s package decides (what the K3sCluster component would use too), as they
// are written in a stack file.
var (
	DefaultReadyTimeout = durationText(hostdefaults.ReadyTimeout)
	DefaultSSHTimeout   = durationText(hostdefaults.ConnectTimeout)
)

// durationText writes a duration as an operator would: "5m", "10s", "1h30m".
func durationText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// DisableableComponents are the packaged K3s components `cluster.disable` may name.
var DisableableComponents = []string{"traefik", "servicelb", "local-storage", "metrics-server", K3sRuntimesComponent}

// Placeholder addresses: the stack files carry TEST-NET-1 addresses (RFC 5737) until a
// site's real hosts are known; `pulumi up` refuses them.
var placeholderNet = mustCIDR("192.0.2.0/24")

var (
	k3sVersion  = regexp.MustCompile(`^v1\.[0-9]+\.[0-9]+\+k3s[0-9]+$`)
	hostKeyLine = regexp.MustCompile(`^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+=*$`)
	taintSpec   = regexp.MustCompile(`^([^=:]+)(=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$`)
	sshUser     = regexp.MustCompile(`^[a-z_][a-z0-9_-]*[$]?$`)
)

// GPULabel and GPUTaint mark a GPU host (the label is what GPU services select).
const (
	GPULabelKey   = hostdefaults.GPULabelKey
	GPULabelValue = hostdefaults.GPULabelValue
	GPUTaint      = hostdefaults.GPUTaint
)

// setClusterDefaults fills a cluster's unset fields; part of SetDefaults.
func setClusterDefaults(c *Config) {
	cl := c.Cluster
	if cl == nil {
		return
	}
	setString(&cl.K3s.Install, "online")
	setInt(&cl.SSH.Port, DefaultSSHPort)
	setString(&cl.SSH.ConnectTimeout, DefaultSSHTimeout)
	if b := cl.SSH.Bastion; b != nil {
		setInt(&b.Port, DefaultSSHPort)
		setString(&b.User, cl.SSH.User)
	}
	setString(&cl.ClusterCIDR, DefaultClusterCIDR)
	setString(&cl.ServiceCIDR, DefaultServiceCIDR)
	setString(&cl.ReadyTimeout, DefaultReadyTimeout)
	// A bundle's images are on the nodes and no registry is there to ask: imported tags run
	// as they are, and the preview does not look for a registry.
	if cl.K3s.ImageBundle != "" {
		setString(&c.Image.PullPolicy, "IfNotPresent")
		if c.Image.Preflight == nil {
			off := false
			c.Image.Preflight = &off
		}
	}
	if c.Infra.HostAddress == "" && len(cl.Servers) > 0 {
		c.Infra.HostAddress = cl.Servers[0].Address
	}
}

// validateCluster reports every problem of site.cluster.
func validateCluster(p *problemList, c *Config) {
	cl := c.Cluster
	if cl == nil {
		return
	}
	switch {
	case cl.K3s.Version == "":
		p.add("cluster.k3s.version", nil, "is required: pin a K3s release, e.g. \"v1.31.4+k3s1\"")
	case !k3sVersion.MatchString(cl.K3s.Version):
		p.add("cluster.k3s.version", cl.K3s.Version, "must be a K3s release tag like \"v1.31.4+k3s1\"")
	}
	switch cl.K3s.Install {
	case "online":
		if cl.K3s.Artifacts != "" {
			p.add("cluster.k3s.artifacts", cl.K3s.Artifacts, "is only used with install: airgapped; remove it or set cluster.k3s.install: airgapped")
		}
		if cl.K3s.ImageBundle != "" {
			p.add("cluster.k3s.imageBundle", cl.K3s.ImageBundle, "is only used with install: airgapped (online hosts pull from the registry); remove it or set cluster.k3s.install: airgapped")
		}
	case "airgapped":
		if cl.K3s.ImageBundle != "" && c.Image.PullPolicy == "Always" {
			p.add("image.pullPolicy", c.Image.PullPolicy, "would pull every image although cluster.k3s.imageBundle puts them on the nodes; use IfNotPresent (the default with a bundle) or Never")
		}
		// The folders themselves are read, or taken from the lock file, once the site is
		// valid (closedInputs).
		if cl.K3s.Artifacts == "" {
			p.add("cluster.k3s.artifacts", nil, "is required with install: airgapped: a directory with k3s, k3s-airgap-images-amd64.tar.zst and sha256sum-amd64.txt")
		}
	default:
		p.add("cluster.k3s.install", cl.K3s.Install, "use online or airgapped")
	}

	ssh := cl.SSH
	if ssh.User == "" {
		p.add("cluster.ssh.user", nil, "is required: the user the program logs in as (it needs passwordless sudo)")
	} else if !sshUser.MatchString(ssh.User) {
		p.add("cluster.ssh.user", ssh.User, "must be a Unix user name")
	}
	validatePort(p, "cluster.ssh.port", ssh.Port)
	if d, err := time.ParseDuration(ssh.ConnectTimeout); err != nil || d < time.Second || d > 5*time.Minute {
		p.add("cluster.ssh.connectTimeout", ssh.ConnectTimeout, "must be a Go duration from 1s to 5m, e.g. \"10s\"")
	}
	if b := ssh.Bastion; b != nil {
		validateHostAddress(p, "cluster.ssh.bastion.address", b.Address)
		validatePort(p, "cluster.ssh.bastion.port", b.Port)
		validateHostKey(p, "cluster.ssh.bastion.hostKey", b.HostKey)
		if !sshUser.MatchString(b.User) {
			p.add("cluster.ssh.bastion.user", b.User, "must be a Unix user name")
		}
	}

	n := len(cl.Servers)
	if n == 0 || (n > 1 && (n < 3 || n%2 == 0)) {
		p.add("cluster.servers", fmt.Sprint(n), "must be 1 server, or an odd number of at least 3 (embedded etcd needs a majority)")
	}
	names, addresses := map[string]string{}, map[string]string{}
	for i, h := range cl.Servers {
		validateNode(p, fmt.Sprintf("cluster.servers[%d]", i), h, names, addresses)
	}
	for i, h := range cl.Agents {
		validateNode(p, fmt.Sprintf("cluster.agents[%d]", i), h, names, addresses)
	}

	for i, d := range cl.Disable {
		path := fmt.Sprintf("cluster.disable[%d]", i)
		switch {
		case !slices.Contains(DisableableComponents, d):
			p.add(path, d, "is not a packaged K3s component; use one of %s", strings.Join(DisableableComponents, ", "))
		case d == "traefik" && c.Ingress.Type == "traefik":
			p.add(path, d, "contradicts ingress.type: traefik (the site's routes are a Traefik Ingress); remove it or change ingress.type")
		}
	}
	for i, san := range cl.TLSSANs {
		if net.ParseIP(san) == nil && !dnsSubdomain.MatchString(san) {
			p.add(fmt.Sprintf("cluster.tlsSans[%d]", i), san, "must be a host name or IP address")
		}
	}
	cidrs := map[string]*net.IPNet{}
	for key, v := range map[string]string{"clusterCidr": cl.ClusterCIDR, "serviceCidr": cl.ServiceCIDR} {
		_, ipn, err := net.ParseCIDR(v)
		if err != nil || ipn.String() != v {
			p.add("cluster."+key, v, "must be an IPv4 network in CIDR form, e.g. %q", map[string]string{"clusterCidr": DefaultClusterCIDR, "serviceCidr": DefaultServiceCIDR}[key])
			continue
		}
		cidrs[key] = ipn
	}
	if a, b := cidrs["clusterCidr"], cidrs["serviceCidr"]; a != nil && b != nil && (a.Contains(b.IP) || b.Contains(a.IP)) {
		p.add("cluster.serviceCidr", cl.ServiceCIDR, "overlaps cluster.clusterCidr %s; pods and Services need separate networks", cl.ClusterCIDR)
	}
	if cl.APIEndpoint != "" {
		host, port := SplitEndpoint(cl.APIEndpoint)
		if (net.ParseIP(host) == nil && !dnsSubdomain.MatchString(host)) || port < 1 || port > 65535 {
			p.add("cluster.apiEndpoint", cl.APIEndpoint, "must be \"host\" or \"host:port\", e.g. \"k8s.example.com:6443\"")
		}
	}
	if d, err := time.ParseDuration(cl.ReadyTimeout); err != nil || d < 10*time.Second || d > time.Hour {
		p.add("cluster.readyTimeout", cl.ReadyTimeout, "must be a Go duration from 10s to 1h, e.g. \"5m\"")
	}
}

func validateNode(p *problemList, path string, h NodeConfig, names, addresses map[string]string) {
	if h.Name == "" || len(validation.IsDNS1123Label(h.Name)) > 0 {
		p.add(path+".name", h.Name, "must be a node name: a lowercase DNS label, e.g. \"xgen-gpu-1\"")
	} else if prev, dup := names[h.Name]; dup {
		p.add(path+".name", h.Name, "is also the name of %s; node names must be unique", prev)
	} else {
		names[h.Name] = path
	}
	validateHostAddress(p, path+".address", h.Address)
	if prev, dup := addresses[h.Address]; dup && h.Address != "" {
		p.add(path+".address", h.Address, "is also the address of %s; one host is one node", prev)
	} else {
		addresses[h.Address] = path
	}
	validateHostKey(p, path+".hostKey", h.HostKey)
	validateLabels(p, path+".labels", h.Labels)
	for i, t := range h.Taints {
		tp := fmt.Sprintf("%s.taints[%d]", path, i)
		m := taintSpec.FindStringSubmatch(t)
		if m == nil {
			p.add(tp, t, "must be \"key=value:Effect\" or \"key:Effect\" with Effect NoSchedule, PreferNoSchedule or NoExecute")
			continue
		}
		if errs := validation.IsQualifiedName(m[1]); len(errs) > 0 {
			p.add(tp, t, "has an invalid key: %s", strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(m[3]); len(errs) > 0 {
			p.add(tp, t, "has an invalid value: %s", strings.Join(errs, "; "))
		}
	}
	if v, ok := h.Labels[GPULabelKey]; ok && v != GPULabelValue {
		p.add(path+".labels", GPULabelKey+"="+v, "conflicts with GPU placement; set gpu: true on the host instead of this label")
	}
}

func validateHostAddress(p *problemList, path, addr string) {
	ip := net.ParseIP(addr)
	switch {
	case addr == "":
		p.add(path, nil, "is required: the host's IP address")
	case ip == nil || ip.To4() == nil:
		p.add(path, addr, "must be an IPv4 address, e.g. \"10.0.0.11\"")
	case ip.IsLoopback() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() || ip.IsMulticast():
		p.add(path, addr, "must be the host's network address (not loopback, unspecified, link-local or multicast)")
	}
}

func validateHostKey(p *problemList, path, key string) {
	fields := strings.Fields(key)
	if len(fields) >= 2 {
		key = fields[0] + " " + fields[1] // a trailing comment is allowed
	}
	switch {
	case key == "":
		p.add(path, nil, "is required: pin the host's SSH key (ssh-keyscan -t ed25519 <address>, the part after the address)")
	case !hostKeyLine.MatchString(key):
		p.add(path, key, "must be an OpenSSH public key line, e.g. \"ssh-ed25519 AAAAC3...\"")
	case fields[0] == "ssh-rsa":
		p.add(path, fields[0], "pin the host's ed25519 or ECDSA key: an RSA host key is negotiated with SHA-1 by the command provider, which OpenSSH 9 refuses (ssh-keyscan -t ed25519 <address>)")
	}
}

// SplitEndpoint splits "host" or "host:port" (default port 6443); port 0 means malformed.
func SplitEndpoint(endpoint string) (string, int) {
	host, portText, err := net.SplitHostPort(endpoint)
	if err != nil {
		return endpoint, K3sAPIPort
	}
	var port int
	if _, err := fmt.Sscanf(portText, "%d", &port); err != nil || fmt.Sprint(port) != portText {
		return host, 0
	}
	return host, port
}

// PlaceholderAddresses lists the hosts (cluster nodes, a compose host) whose address is a TEST-NET-1 placeholder,
// as "config key: address".
func PlaceholderAddresses(c *Config, prefix string) []string {
	var out []string
	check := func(path, addr string) {
		if ip := net.ParseIP(addr); ip != nil && placeholderNet.Contains(ip) {
			out = append(out, fmt.Sprintf("%s.%s: %s", prefix, path, addr))
		}
	}
	if c.Cluster != nil {
		for i, h := range c.Cluster.Servers {
			check(fmt.Sprintf("cluster.servers[%d].address", i), h.Address)
		}
		for i, h := range c.Cluster.Agents {
			check(fmt.Sprintf("cluster.agents[%d].address", i), h.Address)
		}
	}
	if cc := c.Infra.Compose; cc != nil {
		check("infra.compose.address", cc.Address)
	}
	return out
}

// Artifacts are the verified files of an air-gapped install.
type Artifacts struct {
	// Binary and Images are absolute paths.
	Binary, Images string
	// BinarySHA256 and ImagesSHA256 are the checked digests (hex).
	BinarySHA256, ImagesSHA256 string
	// ImageList is the release's k3s-images.txt (K3s' own images), when it has one.
	ImageList []string
}

// ArtifactImageNames are the image tarball names accepted, in order of preference.
var ArtifactImageNames = []string{"k3s-airgap-images-amd64.tar.zst", "k3s-airgap-images-amd64.tar.gz", "k3s-airgap-images-amd64.tar"}

// ReadArtifacts finds the release files in dir and checks them against sha256sum-amd64.txt.
func ReadArtifacts(dir string) (*Artifacts, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	sums, err := readSums(filepath.Join(abs, "sha256sum-amd64.txt"))
	if err != nil {
		return nil, fmt.Errorf("needs sha256sum-amd64.txt from the K3s release: %v", err)
	}
	a := &Artifacts{Binary: filepath.Join(abs, "k3s")}
	for _, name := range ArtifactImageNames {
		if _, err := os.Stat(filepath.Join(abs, name)); err == nil {
			a.Images = filepath.Join(abs, name)
			break
		}
	}
	if a.Images == "" {
		return nil, fmt.Errorf("has no images tarball (%s)", strings.Join(ArtifactImageNames, ", "))
	}
	for _, f := range []struct {
		path string
		sum  *string
	}{{a.Binary, &a.BinarySHA256}, {a.Images, &a.ImagesSHA256}} {
		name := filepath.Base(f.path)
		want, ok := sums[name]
		if !ok {
			return nil, fmt.Errorf("sha256sum-amd64.txt does not list %s", name)
		}
		got, _, err := bundle.FileSHA256(f.path)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if got != want {
			return nil, fmt.Errorf("%s does not match its SHA-256 in sha256sum-amd64.txt (corrupt or from another release); download it again", name)
		}
		*f.sum = got
	}
	list, err := readImageList(filepath.Join(abs, K3sImagesList))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("%s: %v", K3sImagesList, err)
	}
	a.ImageList = list
	return a, nil
}

func readSums(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 {
			sums[strings.TrimPrefix(fields[1], "*")] = strings.ToLower(fields[0])
		}
	}
	return sums, sc.Err()
}

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}
