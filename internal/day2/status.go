// Package day2 is the library of cmd/site: a site's health at a glance (Gather: hosts,
// nodes, services, the compose infra, the ingress, drift, with one verdict and exit code)
// and running one layer of it (RunLayer). It reads what the program made — the stack's
// outputs and config, the hosts over SSH, the cluster through the stack's kubeconfig — and
// prints nothing secret. Never linked into the Pulumi program.
package day2

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"xgen-infra/components"
	"xgen-infra/components/compose"
	"xgen-infra/components/k3s"
	"xgen-infra/internal/pulumiout"
	"xgen-infra/sites"
)

// Stack is one site's stack as the day-2 commands read and drive it: the operator's
// `pulumi` CLI (fleet.CLIStack) or, in tests, an engine workspace (engine.FleetStack).
type Stack interface {
	Name() string
	// StackFile is the stack's Pulumi.<stack>.yaml.
	StackFile() string
	// SecretOutputs are the stack's outputs with secrets shown (the kubeconfig).
	SecretOutputs(ctx context.Context) (map[string]any, error)
	// ConfigSecret is one secret config value (the SSH key); "" when unset.
	ConfigSecret(ctx context.Context, key string) (string, error)
	// Preview is `pulumi preview --json` (with --refresh: drift).
	Preview(ctx context.Context, refresh bool) (*pulumiout.Preview, error)
	// Export is `pulumi stack export`.
	Export(ctx context.Context) ([]byte, error)
	// RunCLI runs the CLI on the stack, its output to out.
	RunCLI(ctx context.Context, out io.Writer, args ...string) error
}

// Verdicts and their exit codes.
const (
	Healthy     = "healthy"
	Degraded    = "degraded"
	Unreachable = "unreachable"
)

// ExitCode is the command's exit code for a verdict: 0 healthy, 2 degraded, 1 unreachable.
func ExitCode(verdict string) int {
	switch verdict {
	case Healthy:
		return 0
	case Degraded:
		return 2
	}
	return 1
}

// Report is a site's health.
type Report struct {
	Site    string `json:"site"`
	Verdict string `json:"verdict"`
	// Problems name each thing that is not as the site wants it (empty when healthy).
	Problems []string     `json:"problems"`
	Hosts    []HostStatus `json:"hosts,omitempty"`
	Nodes    []NodeStatus `json:"nodes,omitempty"`
	Services []Service    `json:"services,omitempty"`
	// Environments are those deployed beside the stack's own (its Services are above).
	Environments []EnvironmentStatus `json:"environments,omitempty"`
	Infra        *InfraStatus        `json:"infra,omitempty"`
	Ingress      *IngressCheck       `json:"ingress,omitempty"`
	Drift        *Drift              `json:"drift,omitempty"`
	// Internet says which services the site's network policies let reach the internet, one
	// line per service with the flows that do ("xgen-model: model-downloads (443)"); empty
	// when none may (a closed network). From the stack file, as `up` applies it.
	Internet []string `json:"internet"`

	mu          sync.Mutex
	unreachable bool
}

// EnvironmentStatus is an environment deployed beside the stack's own: its services.
type EnvironmentStatus struct {
	Name      string    `json:"name"`
	Namespace string    `json:"namespace"`
	Domain    string    `json:"domain"`
	Services  []Service `json:"services,omitempty"`
}

// HostStatus is one host of site.cluster (or the compose host outside it).
type HostStatus struct {
	Name      string `json:"name"`
	Address   string `json:"address"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	// K3s: its unit, whether it is active, its version (none on a compose-only host).
	K3sUnit    string `json:"k3sUnit,omitempty"`
	K3sActive  string `json:"k3sActive,omitempty"`
	K3sVersion string `json:"k3sVersion,omitempty"`
	DiskFreeMB int    `json:"diskFreeMB,omitempty"`
}

// NodeStatus is one Kubernetes node.
type NodeStatus struct {
	Name          string   `json:"name"`
	Ready         bool     `json:"ready"`
	Version       string   `json:"version"`
	Taints        []string `json:"taints,omitempty"`
	Unschedulable bool     `json:"unschedulable,omitempty"`
}

// Service is one of the site's services.
type Service struct {
	Name string `json:"name"`
	// Ready and Desired replicas: Desired is what the site wants (its replicas, or its
	// autoscaler's minimum), not what the Deployment was last scaled to.
	Ready   int `json:"ready"`
	Desired int `json:"desired"`
	// Scaled is the Deployment's own replica count.
	Scaled int    `json:"scaled"`
	Image  string `json:"image"`
	// Digest is the image digest the running pods report.
	Digest           string   `json:"digest,omitempty"`
	RestartsLastHour int      `json:"restartsLastHour"`
	Nodes            []string `json:"nodes,omitempty"`
	Missing          bool     `json:"missing,omitempty"`
}

// InfraStatus is the compose project on its host.
type InfraStatus struct {
	Host     string         `json:"host"`
	Services []InfraService `json:"services"`
	// BackupAgeHours is the newest backup's age; nil without backups configured, -1 when
	// there is none yet.
	BackupAgeHours *float64 `json:"backupAgeHours,omitempty"`
	Error          string   `json:"error,omitempty"`
}

// InfraService is one compose service as Compose reports it.
type InfraService struct {
	Name   string `json:"name"`
	State  string `json:"state"`
	Health string `json:"health"`
}

// IngressCheck is the site's way in.
type IngressCheck struct {
	Kind string `json:"kind"`
	// Ready: the site's own gateway (or entry Service) has an available replica and an
	// address; nil for a gateway the site does not own (a shared one: its owner's to judge).
	Ready   *bool  `json:"ready,omitempty"`
	Address string `json:"address,omitempty"`
	// Probe is what one HTTP request to the entry got ("HTTP 404 from http://...") or why none
	// was sent ("not probed: ...").
	Probe string `json:"probe"`
	// targets are the URLs the probe tries, in order (the first that answers is enough).
	targets []string
	// CertificateExpires is when the TLS certificate ends (sites with TLS).
	CertificateExpires *time.Time `json:"certificateExpires,omitempty"`
	Error              string     `json:"error,omitempty"`
}

// Drift is what a refreshed preview would change.
type Drift struct {
	Changes int      `json:"changes"`
	Steps   []string `json:"steps,omitempty"`
	Error   string   `json:"error,omitempty"`
}

func (r *Report) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

func (r *Report) lost(format string, args ...any) {
	r.problem(format, args...)
	r.mu.Lock()
	r.unreachable = true
	r.mu.Unlock()
}

// Options of Gather.
type Options struct {
	// Drift runs a refreshed preview (the slowest check: tens of seconds).
	Drift bool
	// Progress receives a line per check as it starts (nil: none).
	Progress io.Writer
	// Now is the time restarts and certificates are measured from (zero: now).
	Now time.Time
	// Probe sends one HTTP request to the site's entry (its gateway's or the frontend's
	// address, with the site's domain as Host): any HTTP answer shows it serving, none is a
	// problem. Off, the ingress says "not probed".
	Probe bool
}

// Backups older than this, and certificates that end sooner, make a site degraded.
const (
	maxBackupAge  = 26 * time.Hour
	minCertLeft   = 14 * 24 * time.Hour
	apiTimeout    = 15 * time.Second
	restartWindow = time.Hour
)

// Gather reads a site's health. An error is returned only when the stack itself cannot be
// read (its file, its config); everything the live systems say is in the report.
func Gather(ctx context.Context, st Stack, opts Options) (*Report, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	progress := func(what string) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "%s: %s...\n", st.Name(), what)
		}
	}
	site, err := loadSite(st)
	if err != nil {
		return nil, err
	}
	r := &Report{Site: st.Name(), Internet: site.InternetServices()}

	var wg sync.WaitGroup
	if site.Config.Cluster != nil || site.Config.Infra.Compose != nil {
		key, err := sshKey(ctx, st, "status reaches the hosts")
		if err != nil {
			return nil, err
		}
		progress("hosts over SSH")
		wg.Add(1)
		go func() { defer wg.Done(); checkHosts(ctx, r, site, []byte(key)) }()
	}
	progress("the cluster")
	kube, err := kubeClient(ctx, st)
	if err != nil {
		r.lost("the cluster: %v", err)
	} else {
		checkCluster(ctx, r, site, kube, opts.Now)
		if in := r.Ingress; in != nil && in.Probe == "" {
			if opts.Probe {
				progress("the ingress (one HTTP request)")
				probeIngress(ctx, r, site.Domain, http.DefaultTransport)
			} else {
				in.Probe = "not probed"
			}
		}
	}
	if opts.Drift {
		progress("drift (a refreshed preview)")
		checkDrift(ctx, r, st)
	}
	wg.Wait()
	switch {
	case r.unreachable:
		r.Verdict = Unreachable
	case len(r.Problems) > 0:
		r.Verdict = Degraded
	default:
		r.Verdict = Healthy
	}
	return r, nil
}

// loadSite is the stack's site, from its stack file (its secrets are not read).
func loadSite(st Stack) (*sites.Site, error) {
	file, err := sites.ReadStackFile(st.StackFile())
	if err != nil {
		return nil, err
	}
	return sites.ParseWithoutSecrets(st.Name(), file)
}

// sshKey is the stack's SSH key, what the program reaches the hosts with; who says why it
// is needed when the stack has none.
func sshKey(ctx context.Context, st Stack, who string) (string, error) {
	key, err := st.ConfigSecret(ctx, sites.SecretSSHPrivateKey)
	if err == nil && key == "" {
		err = fmt.Errorf("stack %s has no %s secret: %s with the program's key", st.Name(), sites.SecretSSHPrivateKey, who)
	}
	return key, err
}

// kubeClient reaches the cluster through the stack's kubeconfig output (K3s and EKS sites)
// or its kubeconfig secret (someone else's cluster).
func kubeClient(ctx context.Context, st Stack) (kubernetes.Interface, error) {
	out, err := st.SecretOutputs(ctx)
	if err != nil {
		return nil, err
	}
	kc, _ := out["kubeconfig"].(string)
	if kc == "" {
		if kc, err = st.ConfigSecret(ctx, sites.SecretKubeconfig); err != nil {
			return nil, err
		}
	}
	if kc == "" {
		return nil, fmt.Errorf("the stack has no kubeconfig output and no %s secret (never deployed?)", sites.SecretKubeconfig)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kc))
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.Timeout = apiTimeout
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := client.Discovery().ServerVersion(); err != nil {
		if cfg.ExecProvider != nil && strings.Contains(err.Error(), "getting credentials") {
			// An EKS site's kubeconfig gets its token from the AWS CLI, as the operator.
			return nil, fmt.Errorf("API server %s: the kubeconfig's token command `%s %s` failed (%v): install the AWS CLI and sign in with the site's profile (docs/operations.md, \"On EKS\")",
				cfg.Host, cfg.ExecProvider.Command, strings.Join(cfg.ExecProvider.Args[:min(2, len(cfg.ExecProvider.Args))], " "), err)
		}
		return nil, fmt.Errorf("API server %s does not answer: %v", cfg.Host, err)
	}
	return client, nil
}

// checkHosts reads every host of the site (in parallel): K3s on the cluster's hosts, the
// compose project on its host.
func checkHosts(ctx context.Context, r *Report, site *sites.Site, key []byte) {
	c := &site.Config
	type host struct {
		name, address, hostKey, role string
		access                       hostAccess
	}
	var hosts []host
	if cl := c.Cluster; cl != nil {
		for _, n := range cl.Servers {
			hosts = append(hosts, host{n.Name, n.Address, n.HostKey, "server", hostAccess{&cl.SSH, key}})
		}
		for _, n := range cl.Agents {
			hosts = append(hosts, host{n.Name, n.Address, n.HostKey, "agent", hostAccess{&cl.SSH, key}})
		}
	}
	composeAddress, composeKey, composeSSH := sites.ComposeHost(c)
	if c.Infra.Compose != nil && c.Infra.Compose.Address != "" && composeSSH != nil {
		hosts = append(hosts, host{composeAddress, composeAddress, composeKey, "", hostAccess{composeSSH, key}})
	}
	statuses := make([]HostStatus, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hs := HostStatus{Name: h.name, Address: h.address}
			if h.role != "" {
				out, err := h.access.run(ctx, h.address, h.hostKey, k3s.Status(h.name, h.role))
				if err != nil {
					hs.Error = err.Error()
					r.lost("host %s (%s): unreachable over SSH: %v", h.name, h.address, err)
					statuses[i] = hs
					return
				}
				hs.Reachable = true
				kv := keyValues(out)
				hs.K3sUnit, hs.K3sActive, hs.K3sVersion = kv["unit"], kv["active"], kv["version"]
				hs.DiskFreeMB, _ = strconv.Atoi(kv["disk_free_mb"])
				if hs.K3sActive != "active" {
					r.problem("host %s: %s is %s", h.name, hs.K3sUnit, orNone(hs.K3sActive))
				}
				if want := c.Cluster.K3s.Version; hs.K3sVersion != want {
					r.problem("host %s: K3s %s, the site wants %s", h.name, hs.K3sVersion, want)
				}
				if hs.DiskFreeMB > 0 && hs.DiskFreeMB < 5120 {
					r.problem("host %s: %d MB free for K3s' data", h.name, hs.DiskFreeMB)
				}
			}
			if composeAddress == h.address && c.Infra.Compose != nil {
				hs.Reachable = checkCompose(ctx, r, site, h.name, h.address, h.hostKey, h.access) || hs.Reachable
			}
			statuses[i] = hs
		}()
	}
	wg.Wait()
	r.Hosts = statuses
}

// checkCompose reads the compose project on its host; false when the host did not answer.
func checkCompose(ctx context.Context, r *Report, site *sites.Site, name, address, hostKey string, access hostAccess) bool {
	cc := site.Config.Infra.Compose
	spec := compose.Spec{DataDir: cc.DataDir}
	backupDir := ""
	if cc.Backup != nil {
		backupDir = cc.Backup.Dir
	}
	inf := &InfraStatus{Host: name}
	r.mu.Lock()
	r.Infra = inf
	r.mu.Unlock()
	out, err := access.run(ctx, address, hostKey, spec.Status(name, backupDir))
	if err != nil {
		inf.Error = err.Error()
		if site.Config.Infra.Compose.Address != "" {
			r.lost("compose host %s: unreachable over SSH: %v", address, err)
			return false
		}
		r.problem("compose project on %s: %v", name, err)
		return true
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 4 && f[0] == "service":
			inf.Services = append(inf.Services, InfraService{Name: f[1], State: f[2], Health: f[3]})
		case strings.HasPrefix(line, "backup_age="):
			age := -1.0
			if s, err := strconv.Atoi(strings.TrimPrefix(line, "backup_age=")); err == nil {
				age = float64(s) / 3600
			}
			inf.BackupAgeHours = &age
		}
	}
	want := sites.ComposeServiceNames(&site.Config)
	for _, svc := range want {
		i := slices.IndexFunc(inf.Services, func(s InfraService) bool { return s.Name == svc })
		switch {
		case i < 0:
			r.problem("infra %s on %s: not in the compose project (never started?)", svc, name)
		case inf.Services[i].State != "running":
			r.problem("infra %s on %s: %s", svc, name, inf.Services[i].State)
		case inf.Services[i].Health != "healthy" && inf.Services[i].Health != "-":
			r.problem("infra %s on %s: running, %s", svc, name, inf.Services[i].Health)
		}
	}
	for _, s := range inf.Services {
		if !slices.Contains(want, s.Name) && s.State != "running" && s.Name != "minio-init" {
			r.problem("infra %s on %s: %s", s.Name, name, s.State)
		}
	}
	if a := inf.BackupAgeHours; a != nil && (*a < 0 || *a > maxBackupAge.Hours()) {
		if *a < 0 {
			r.problem("infra backups on %s: none yet in %s", name, backupDir)
		} else {
			r.problem("infra backups on %s: the newest is %.0f hours old", name, *a)
		}
	}
	return true
}

// checkCluster reads the nodes, the site's services and its ingress.
func checkCluster(ctx context.Context, r *Report, site *sites.Site, kube kubernetes.Interface, now time.Time) {
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		r.lost("the cluster: nodes: %v", err)
		return
	}
	for _, n := range nodes.Items {
		ns := NodeStatus{Name: n.Name, Version: n.Status.NodeInfo.KubeletVersion, Unschedulable: n.Spec.Unschedulable}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				ns.Ready = c.Status == corev1.ConditionTrue
			}
		}
		for _, t := range n.Spec.Taints {
			ns.Taints = append(ns.Taints, fmt.Sprintf("%s=%s:%s", t.Key, t.Value, t.Effect))
		}
		if !ns.Ready {
			r.problem("node %s: not Ready", n.Name)
		}
		if ns.Unschedulable {
			r.problem("node %s: cordoned (unschedulable)", n.Name)
		}
		r.Nodes = append(r.Nodes, ns)
	}
	r.Services = checkServices(ctx, r, site, kube, now, "")
	for _, other := range site.Others { // the environments deployed beside the stack's own
		env := other.Config.Environment
		services := checkServices(ctx, r, other, kube, now, env+": ")
		r.Environments = append(r.Environments, EnvironmentStatus{Name: env, Namespace: other.Config.Namespace, Domain: other.Domain, Services: services})
	}
	checkIngress(ctx, r, site, kube, now)
}

// checkServices reads each service of an environment (site: the stack's own, or one of its
// Others) and reports what is wrong, each problem prefixed with prefix.
func checkServices(ctx context.Context, r *Report, site *sites.Site, kube kubernetes.Interface, now time.Time, prefix string) []Service {
	var out []Service
	namespace := site.Config.Namespace
	for _, svc := range site.Services {
		s := Service{Name: svc.Name, Image: svc.Image, Desired: *svc.Spec.Replicas}
		if a := svc.Spec.Autoscaling; a != nil && *a.Enabled {
			s.Desired = *a.MinReplicas
		}
		d, err := kube.AppsV1().Deployments(namespace).Get(ctx, svc.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			s.Missing = true
			r.problem("%sservice %s: no Deployment in %s", prefix, svc.Name, namespace)
			out = append(out, s)
			continue
		} else if err != nil {
			r.lost("the cluster: Deployment %s/%s: %v", namespace, svc.Name, err)
			return out
		}
		readService(ctx, kube, d, &s, now)
		if s.Ready < s.Desired {
			why := ""
			if s.Scaled < s.Desired {
				why = fmt.Sprintf(", scaled to %d", s.Scaled)
			}
			if a := svc.Spec.Autoscaling; a != nil && *a.Enabled && s.Scaled == 0 {
				// Kubernetes turns autoscaling off for a workload at 0, and the program leaves
				// the replica count to the autoscaler: neither brings it back.
				why += fmt.Sprintf(" (its autoscaler does not act at 0: kubectl -n %s scale deployment %s --replicas=%d)", namespace, svc.Name, s.Desired)
			}
			r.problem("%sservice %s: %d/%d ready%s", prefix, svc.Name, s.Ready, s.Desired, why)
		}
		if s.RestartsLastHour > 0 {
			r.problem("%sservice %s: %d restarts in the last hour", prefix, svc.Name, s.RestartsLastHour)
		}
		out = append(out, s)
	}
	return out
}

// readService fills a service's replicas, image digest, restarts and nodes from its
// Deployment and pods.
func readService(ctx context.Context, kube kubernetes.Interface, d *appsv1.Deployment, s *Service, now time.Time) {
	if d.Spec.Replicas != nil {
		s.Scaled = int(*d.Spec.Replicas)
	}
	s.Ready = int(d.Status.ReadyReplicas)
	if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
		s.Image = cs[0].Image
	}
	sel := metav1.FormatLabelSelector(d.Spec.Selector)
	pods, err := kube.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" && !slices.Contains(s.Nodes, p.Spec.NodeName) {
			s.Nodes = append(s.Nodes, p.Spec.NodeName)
		}
		for _, c := range p.Status.ContainerStatuses {
			if i := strings.LastIndex(c.ImageID, "@"); i >= 0 && s.Digest == "" {
				s.Digest = c.ImageID[i+1:]
			}
			if t := c.LastTerminationState.Terminated; t != nil && now.Sub(t.FinishedAt.Time) < restartWindow {
				s.RestartsLastHour += int(c.RestartCount)
			}
		}
	}
	slices.Sort(s.Nodes)
}

// checkIngress: the site's way in is there as the cluster sees it — the frontend's node
// port or load balancer on a site without a domain; its Istio gateway or Traefik available
// with an address on a site with one — and its certificate is not about to end. (No request
// is sent: a site's address may not be reachable from where status runs.)
func checkIngress(ctx context.Context, r *Report, site *sites.Site, kube kubernetes.Interface, now time.Time) {
	c := &site.Config
	switch {
	case c.Ingress.Type == "none":
		return
	case site.Domain == "":
		for _, svc := range site.Services {
			if site.ExposedToIngress(svc) {
				checkEntryService(ctx, r, kube, c.Namespace, components.ExternalServiceName(svc.Name), "frontend "+strings.ToLower(c.Ingress.ExposeType))
			}
		}
		return
	case c.Ingress.Type == "traefik":
		checkGateway(ctx, r, kube, "kube-system", "traefik", "traefik")
	case c.IstioEnabled():
		checkGateway(ctx, r, kube, c.Cluster.Addons.Istio.Namespace, "istio-ingressgateway", "istio gateway")
	default:
		// The cluster's own gateway (shared, or a mesh the site does not install): not
		// this site's to judge beyond its certificate, which is the cluster's too.
		gw := c.Ingress.SharedGateway
		if gw == "" {
			gw = "the cluster's"
		}
		r.Ingress = &IngressCheck{Kind: "istio gateway " + gw,
			Probe: "not probed: the cluster's gateway, not this site's (its owner checks it)"}
		return
	}
	cred := c.Environments[c.Environment].TLSCredentialName
	if cred == "" || r.Ingress == nil {
		return
	}
	// Istio reads the credential in the gateway's namespace; a Traefik Ingress in its own.
	ns := c.Namespace
	if c.IstioEnabled() {
		ns = c.Cluster.Addons.Istio.Namespace
	}
	sec, err := kube.CoreV1().Secrets(ns).Get(ctx, cred, metav1.GetOptions{})
	if err != nil {
		r.problem("ingress: TLS credential %s/%s: %v", ns, cred, err)
		return
	}
	// Only the public certificate is read; the key is never looked at.
	block, _ := pem.Decode(sec.Data[corev1.TLSCertKey])
	if block == nil {
		r.problem("ingress: TLS credential %s/%s has no certificate", ns, cred)
		return
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		r.problem("ingress: TLS credential %s/%s: %v", ns, cred, err)
		return
	}
	r.Ingress.CertificateExpires = &cert.NotAfter
	if cert.NotAfter.Sub(now) < minCertLeft {
		r.problem("ingress: the certificate for %s ends %s", site.Domain, cert.NotAfter.Format(time.DateOnly))
	}
}

// checkGateway: the gateway's Deployment is available and its Service has an address.
func checkGateway(ctx context.Context, r *Report, kube kubernetes.Interface, ns, name, kind string) {
	ic := &IngressCheck{Kind: kind}
	r.Ingress = ic
	d, err := kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		ic.Error = err.Error()
		r.problem("ingress: %s %s/%s: %v", kind, ns, name, err)
		return
	}
	ready := d.Status.AvailableReplicas > 0
	ic.Ready = &ready
	if !ready {
		r.problem("ingress: %s %s/%s has no available replica", kind, ns, name)
	}
	checkEntryAddress(ctx, r, kube, ns, name, kind, ic)
}

// checkEntryService: the site's entry Service (the frontend on a site without a domain)
// has its node port or load balancer address.
func checkEntryService(ctx context.Context, r *Report, kube kubernetes.Interface, ns, name, kind string) {
	ic := &IngressCheck{Kind: kind + " (" + name + ")"}
	r.Ingress = ic
	checkEntryAddress(ctx, r, kube, ns, name, kind, ic)
	ready := ic.Address != ""
	ic.Ready = &ready
}

func checkEntryAddress(ctx context.Context, r *Report, kube kubernetes.Interface, ns, name, kind string, ic *IngressCheck) {
	svc, err := kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		ic.Error = err.Error()
		r.problem("ingress: the %s Service %s/%s: %v", kind, ns, name, err)
		return
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		ic.Address = in.IP + in.Hostname
		for _, p := range svc.Spec.Ports {
			ic.targets = append(ic.targets, entryURL(ic.Address, p.Port))
		}
	}
	if ic.Address == "" && svc.Spec.Type == corev1.ServiceTypeNodePort {
		var ports []string
		node := firstReadyNodeAddress(ctx, kube)
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				ports = append(ports, strconv.Itoa(int(p.NodePort)))
				if node != "" {
					ic.targets = append(ic.targets, entryURL(node, p.NodePort))
				}
			}
		}
		if len(ports) > 0 {
			ic.Address = "every node, port " + strings.Join(ports, ",")
		}
	}
	if ic.Address == "" {
		r.problem("ingress: the %s Service %s/%s has no address (%s)", kind, ns, name, svc.Spec.Type)
	}
}

// entryURL is the URL the probe tries for an address and port (HTTPS on 443).
func entryURL(address string, port int32) string {
	scheme := "http"
	if port == 443 {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s/", scheme, net.JoinHostPort(address, strconv.Itoa(int(port))))
}

// firstReadyNodeAddress is a Ready node's internal address (a node port answers on every
// node), or "".
func firstReadyNodeAddress(ctx context.Context, kube kubernetes.Interface) string {
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return ""
	}
	for _, n := range nodes.Items {
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
		}
		for _, a := range n.Status.Addresses {
			if ready && a.Type == corev1.NodeInternalIP {
				return a.Address
			}
		}
	}
	return ""
}

// probeTimeout bounds the one request to the site's entry.
const probeTimeout = 5 * time.Second

// probeIngress sends one GET to the site's entry, trying its targets in order, with the
// site's domain as Host (the gateway routes by it). Any HTTP answer, whatever its status,
// shows the entry serving (a 404 from Istio for an unknown path is still Istio answering);
// a certificate is not verified here (checkIngress reads it from the cluster). No answer
// from any target is a problem.
func probeIngress(ctx context.Context, r *Report, domain string, transport http.RoundTripper) {
	in := r.Ingress
	if len(in.targets) == 0 {
		in.Probe = "not probed: no address to send a request to"
		return
	}
	if t, ok := transport.(*http.Transport); ok {
		t = t.Clone()
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true, ServerName: domain} // reachability only: the certificate is read from the cluster
		transport = t
	}
	client := &http.Client{Transport: transport, Timeout: probeTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var failures []string
	for _, target := range in.targets {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			failures = append(failures, err.Error())
			continue
		}
		if domain != "" {
			req.Host = domain
		}
		resp, err := client.Do(req)
		if err != nil {
			failures = append(failures, err.Error())
			continue
		}
		_ = resp.Body.Close()
		in.Probe = fmt.Sprintf("HTTP %d from %s", resp.StatusCode, target)
		return
	}
	in.Probe = "no answer from " + strings.Join(in.targets, ", ")
	r.problem("ingress: %s does not answer: %s", in.Kind, strings.Join(failures, "; "))
}

// checkDrift counts what a refreshed preview would change.
func checkDrift(ctx context.Context, r *Report, st Stack) {
	p, err := st.Preview(ctx, true)
	if p == nil {
		r.Drift = &Drift{Error: fmt.Sprint(err)}
		r.problem("drift: the refreshed preview failed: %v", err)
		return
	}
	d := &Drift{}
	for _, s := range p.Steps {
		if s.Op != "same" && s.Op != "refresh" && s.Op != "read" {
			typ, name := typeName(string(s.URN))
			d.Steps = append(d.Steps, fmt.Sprintf("%s %s %s", s.Op, typ, name))
		}
	}
	d.Changes = len(d.Steps)
	r.Drift = d
	if d.Changes > 0 {
		what := "resources differ"
		if d.Changes == 1 {
			what = "resource differs"
		}
		r.problem("drift: %d %s from the stack (pulumi preview --refresh --diff): %s", d.Changes, what, strings.Join(d.Steps, "; "))
	}
	if errs := p.Errors(); len(errs) > 0 {
		d.Error = errs[0]
		r.problem("drift: the refreshed preview failed: %s", errs[0])
	}
}

func typeName(urn string) (string, string) {
	parts := strings.Split(urn, "::")
	if len(parts) < 4 {
		return "", urn
	}
	typ := parts[2]
	if i := strings.LastIndex(typ, "$"); i >= 0 {
		typ = typ[i+1:]
	}
	return typ, parts[3]
}

func keyValues(out string) map[string]string {
	kv := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = v
		}
	}
	return kv
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
