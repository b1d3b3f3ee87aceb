// Package k3s builds the exact commands and files that install and manage K3s on a host
// (k3sup style), with package hostscript: pure functions of their inputs, tested on exact
// output and kept apart from the code that runs them. The shell lives in scripts/*.sh
// (embedded, shellchecked). No secret is ever a parameter: secrets reach a host on
// standard input.
package k3s

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"xgen-infra/components/hostdefaults"
	"xgen-infra/components/hostscript"
)

//go:embed scripts/*.sh
var scripts embed.FS

// Paths on the hosts.
const (
	ConfigPath     = "/etc/rancher/k3s/config.yaml"
	TokenPath      = "/etc/rancher/k3s/token"
	RegistriesPath = "/etc/rancher/k3s/registries.yaml"
	ServerToken    = "/var/lib/rancher/k3s/server/token"
	KubeconfigPath = "/etc/rancher/k3s/k3s.yaml"
	StagingDir     = "/var/tmp/xgen-k3s"
	ImagesDir      = "/var/lib/rancher/k3s/agent/images"
	markers        = "/var/lib/rancher/xgen"
	// HostMarker, GuardMarker and DestroyingMarker are the generation markers the delete
	// scripts check (see scripts/mark.sh).
	HostMarker       = markers + "/host"
	GuardMarker      = markers + "/guard"
	DestroyingMarker = markers + "/destroying"
)

// What K3s is, and its defaults: decided once in hostdefaults (sites reads them there).
const (
	APIPort               = hostdefaults.K3sAPIPort
	GPULabelKey           = hostdefaults.GPULabelKey
	GPULabelValue         = hostdefaults.GPULabelValue
	GPUTaint              = hostdefaults.GPUTaint
	DefaultReadyTimeout   = hostdefaults.ReadyTimeout
	DefaultConnectTimeout = hostdefaults.ConnectTimeout
)

// MemberMarker is the first server's marker for a node's membership.
func MemberMarker(node string) string { return markers + "/members/" + node }

// scriptSet is the K3s scripts; log lines read "xgen-k3s[host]: ...".
var scriptSet = hostscript.Set{FS: scripts, Tag: "xgen-k3s"}

// Script returns the command text of scripts/<name>.sh for host with params.
func Script(name, host string, params ...hostscript.Param) string {
	return scriptSet.Command(name, host, params...)
}

func param(name, value string) hostscript.Param { return hostscript.Param{Name: name, Value: value} }

// ScriptNames lists the scripts a K3s command can be built from (without lib), for tests.
func ScriptNames() []string { return scriptSet.Names() }

// Quote quotes s for POSIX sh.
func Quote(s string) string { return hostscript.Quote(s) }

// Generation: see hostscript.Generation.
func Generation(values ...string) string { return hostscript.Generation(values...) }

// PreflightOptions are what preflight checks a host for.
type PreflightOptions struct {
	// Role is "server" or "agent".
	Role string
	// GPU: the NVIDIA driver and container toolkit must answer.
	GPU bool
	// InstallMode is "online" (curl must be there) or "airgapped".
	InstallMode string
	// MinDiskMB is the free space wanted under /var/lib.
	MinDiskMB int
	// Version is the K3s release to install: an upgrade more than one Kubernetes minor
	// ahead of the running K3s, or a minor downgrade, is refused.
	Version string
}

// Preflight checks a host before any change.
func Preflight(host string, o PreflightOptions) string {
	return Script("preflight", host, param("ROLE", o.Role), param("GPU", fmt.Sprint(o.GPU)),
		param("INSTALL_MODE", o.InstallMode), param("MIN_DISK_MB", fmt.Sprint(o.MinDiskMB)), param("K3S_VERSION", o.Version))
}

// WriteFile writes standard input to target as root with mode (e.g. "0600").
func WriteFile(host, target, mode string) string { return scriptSet.WriteFile(host, target, mode) }

// ReadFile waits for a root-owned file and prints it (run with logging off, stdout secret).
func ReadFile(host, source string, timeoutSeconds int) string {
	return Script("read-file", host, param("SOURCE", source), param("READY_TIMEOUT", fmt.Sprint(timeoutSeconds)))
}

// Install describes one host's install.
type Install struct {
	Host, Role, Version, Mode string
	ReadyTimeoutSeconds       int
	// ConfigSHA256 is the digest of the host's K3s files: a change restarts K3s.
	ConfigSHA256 string
	// Airgapped only: the staged upload paths and their digests.
	StagedBinary, BinarySHA256, StagedImages, ImagesSHA256, ImagesName string
}

// Command is the install (and upgrade, and restart) command.
func (in Install) Command() string {
	params := []hostscript.Param{param("ROLE", in.Role), param("K3S_VERSION", in.Version), param("INSTALL_MODE", in.Mode),
		param("READY_TIMEOUT", fmt.Sprint(in.ReadyTimeoutSeconds)), param("CONFIG_SHA256", in.ConfigSHA256)}
	if in.Mode == "airgapped" {
		params = append(params, param("STAGED_BINARY", in.StagedBinary), param("BINARY_SHA256", in.BinarySHA256),
			param("STAGED_IMAGES", in.StagedImages), param("IMAGES_SHA256", in.ImagesSHA256), param("IMAGES_NAME", in.ImagesName))
	}
	return Script("install", in.Host, params...)
}

// BundleImageName is the name a bundle file gets in K3s' images directory: the program's
// own files start with xgen- (stale ones are removed, nobody else's are touched).
func BundleImageName(file string) string { return "xgen-" + path.Base(file) }

// ImportImages places the uploaded bundle tarballs into the images directory and imports
// the new ones (runs on every node after its install).
// Each image's Name is its name in the images directory (BundleImageName).
func ImportImages(host string, images []hostscript.StagedFile, readyTimeoutSeconds int) string {
	return Script("import-images", host, hostscript.StagedFilesParam(images),
		param("READY_TIMEOUT", fmt.Sprint(readyTimeoutSeconds)))
}

// StagedPath is where an air-gapped artifact is uploaded (named by its digest, so that a new
// file is a new upload and an old one is never half-overwritten).
func StagedPath(name, sha string) string { return hostscript.StagedPath(StagingDir, name, sha) }

// Drain cordons and drains node before an upgrade (runs on the first server).
func Drain(host, node, version, drainTimeout string) string {
	return Script("drain", host, param("NODE", node), param("K3S_VERSION", version), param("DRAIN_TIMEOUT", drainTimeout))
}

// Uncordon waits for node to be Ready on version and uncordons it (first server).
func Uncordon(host, node, version string, readyTimeoutSeconds int) string {
	return Script("uncordon", host, param("NODE", node), param("K3S_VERSION", version),
		param("READY_TIMEOUT", fmt.Sprint(readyTimeoutSeconds)))
}

// NodeMetadata makes node's labels and taints exactly these (first server).
func NodeMetadata(host, node string, labels map[string]string, taints []string) string {
	return Script("node-metadata", host, param("NODE", node), param("LABELS", joinLabels(labels)),
		param("TAINTS", strings.Join(sortedCopy(taints), " ")))
}

// Mark records generation gen in marker, removing clear ("" for none).
func Mark(host, marker, gen, clear string) string {
	return Script("mark", host, param("MARKER", marker), param("GEN", gen), param("CLEAR", clear))
}

// GuardDelete marks a destroy of the whole stack (first server).
func GuardDelete(host, gen string) string {
	return Script("guard-delete", host, param("GEN", gen))
}

// MemberDelete drains and deletes a node removed from the config (first server).
func MemberDelete(host, node, gen, drainTimeout string) string {
	return Script("member-delete", host, param("NODE", node), param("GEN", gen), param("DRAIN_TIMEOUT", drainTimeout))
}

// HostDelete is the only uninstall (see scripts/host-delete.sh).
func HostDelete(host, role, node, gen string, uninstallOnDestroy bool) string {
	return Script("host-delete", host, param("ROLE", role), param("NODE", node), param("GEN", gen),
		param("UNINSTALL_ON_DESTROY", fmt.Sprint(uninstallOnDestroy)))
}

// NodeConfig is one host's /etc/rancher/k3s/config.yaml.
type NodeConfig struct {
	Role, Name, Address string
	// Server is the URL of the server to join; "" for the first server.
	Server string
	// ClusterInit starts embedded etcd (the first server of an HA cluster).
	ClusterInit bool
	// Servers only.
	TLSSANs, Disable         []string
	ClusterCIDR, ServiceCIDR string
	Labels                   map[string]string
	Taints                   []string
}

// configFile is config.yaml's layout; field order is the file's order.
type configFile struct {
	NodeName          string   `yaml:"node-name"`
	NodeIP            string   `yaml:"node-ip"`
	AdvertiseAddress  string   `yaml:"advertise-address,omitempty"`
	ClusterInit       bool     `yaml:"cluster-init,omitempty"`
	Server            string   `yaml:"server,omitempty"`
	TokenFile         string   `yaml:"token-file,omitempty"`
	TLSSAN            []string `yaml:"tls-san,omitempty"`
	ClusterCIDR       string   `yaml:"cluster-cidr,omitempty"`
	ServiceCIDR       string   `yaml:"service-cidr,omitempty"`
	Disable           []string `yaml:"disable,omitempty"`
	NodeLabel         []string `yaml:"node-label,omitempty"`
	NodeTaint         []string `yaml:"node-taint,omitempty"`
	WriteKubeconfigMd string   `yaml:"write-kubeconfig-mode,omitempty"`
}

// YAML renders the file. It holds no secret: joining nodes read the token from TokenPath.
func (c NodeConfig) YAML() string {
	f := configFile{NodeName: c.Name, NodeIP: c.Address, Server: c.Server, NodeLabel: splitLabels(c.Labels), NodeTaint: sortedCopy(c.Taints)}
	if c.Server != "" {
		f.TokenFile = TokenPath
	}
	if c.Role == "server" {
		f.AdvertiseAddress = c.Address
		f.ClusterInit = c.ClusterInit
		f.TLSSAN = c.TLSSANs
		f.ClusterCIDR, f.ServiceCIDR = c.ClusterCIDR, c.ServiceCIDR
		f.Disable = c.Disable
		f.WriteKubeconfigMd = "0600"
	}
	out, err := yaml.Marshal(f)
	if err != nil {
		panic(err) // plain strings and lists: cannot fail
	}
	return "# Written by xgen-infra from the site's cluster config; edits here are overwritten.\n" + string(out)
}

// Registries is registries.yaml: the site registry (with its login when Username is set;
// the Password is then a secret and the file goes through standard input), and the site
// registry add-on in the cluster, which every node reaches on localhost at LocalPort.
type Registries struct {
	// Registry is the site registry host ("docker.x2bee.com", "10.0.0.5:5000"); PlainHTTP
	// pulls it over http.
	Registry  string
	PlainHTTP bool
	// Username and Password log in to Registry.
	Username, Password string
	// LocalPort, when set, is the registry add-on's node port: images named
	// localhost:<port>/... are pulled from the node itself, over plain HTTP.
	LocalPort int
}

// YAML renders the file.
func (r Registries) YAML() string {
	type auth struct {
		Username string `yaml:"username"`
		Password string `yaml:"password"`
	}
	type cfg struct {
		Auth *auth `yaml:"auth,omitempty"`
	}
	type mirror struct {
		Endpoint []string `yaml:"endpoint"`
	}
	doc := struct {
		Mirrors map[string]mirror `yaml:"mirrors"`
		Configs map[string]cfg    `yaml:"configs,omitempty"`
	}{Mirrors: map[string]mirror{}}
	if r.Registry != "" {
		scheme := "https://"
		if r.PlainHTTP {
			scheme = "http://"
		}
		doc.Mirrors[r.Registry] = mirror{Endpoint: []string{scheme + r.Registry}}
		if r.Username != "" {
			doc.Configs = map[string]cfg{r.Registry: {Auth: &auth{Username: r.Username, Password: r.Password}}}
		}
	}
	if r.LocalPort != 0 {
		local := fmt.Sprintf("localhost:%d", r.LocalPort)
		doc.Mirrors[local] = mirror{Endpoint: []string{"http://" + local}}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return string(out)
}

// RewriteKubeconfig points the kubeconfig K3s writes (server https://127.0.0.1:6443) at the
// endpoint the program and operators reach.
func RewriteKubeconfig(kubeconfig, endpoint string) string {
	return strings.Replace(kubeconfig, "https://127.0.0.1:6443", "https://"+endpoint, 1)
}

func joinLabels(labels map[string]string) string { return strings.Join(splitLabels(labels), " ") }

func splitLabels(labels map[string]string) []string {
	var out []string
	for k, v := range labels {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// Status reads a host's K3s for `site status`: its unit (server or agent) and whether it is
// active, the installed version, the free space of its data directory. Read-only.
func Status(host, role string) string {
	return Script("status", host, param("ROLE", role))
}
