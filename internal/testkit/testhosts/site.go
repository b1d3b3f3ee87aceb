package testhosts

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"

	"sigs.k8s.io/yaml"

	"xgen-infra/internal/inprocess"
	"xgen-infra/sites"
)

// Cluster says which test hosts form a site's cluster, for ClusterConfig.
type Cluster struct {
	Servers, Agents []string
	// Artifacts is a StandInArtifacts directory; Version the release it was built for.
	Artifacts, Version string
	// UninstallOnDestroy is site.cluster.uninstallOnDestroy.
	UninstallOnDestroy bool
	// HostKeys overrides a host's pinned key (tests pin a wrong one).
	HostKeys map[string]string
	// Labels and Taints per host name.
	Labels map[string]map[string]string
	Taints map[string][]string
}

// ClusterConfig is the `site.cluster` section that points a site at these hosts: air-gapped
// with the stand-in artifacts, the test user, each host's pinned key.
func (h *Hosts) ClusterConfig(c Cluster) map[string]any {
	node := func(name string) map[string]any {
		host := h.Host(name)
		key := host.HostKey
		if k, ok := c.HostKeys[name]; ok {
			key = k
		}
		n := map[string]any{"name": name, "address": host.Address, "hostKey": key}
		if host.GPU {
			n["gpu"] = true
		}
		if l := c.Labels[name]; len(l) > 0 {
			n["labels"] = l
		}
		if t := c.Taints[name]; len(t) > 0 {
			n["taints"] = t
		}
		return n
	}
	servers, agents := []any{}, []any{}
	for _, n := range c.Servers {
		servers = append(servers, node(n))
	}
	for _, n := range c.Agents {
		agents = append(agents, node(n))
	}
	cl := map[string]any{
		"k3s":                map[string]any{"version": c.Version, "install": "airgapped", "artifacts": c.Artifacts},
		"ssh":                map[string]any{"user": h.User, "connectTimeout": "3s"},
		"servers":            servers,
		"readyTimeout":       "2m",
		"uninstallOnDestroy": c.UninstallOnDestroy,
	}
	if len(agents) > 0 {
		cl["agents"] = agents
	}
	return cl
}

// ComposeHost is the `infra.compose` section that runs a site's infra on one test host
// outside any cluster (address, pinned key, the test user), plus extra keys.
func (h *Hosts) ComposeHost(name string, extra map[string]any) map[string]any {
	host := h.Host(name)
	cc := map[string]any{"address": host.Address, "hostKey": host.HostKey,
		"ssh": map[string]any{"user": h.User, "connectTimeout": "3s"}}
	for k, v := range extra {
		cc[k] = v
	}
	return cc
}

// Site is a stack file's config and its site object with site.cluster replaced by cluster
// (keeping the stack file's cluster.addons);
// a compose host named in the stack file is one of the site's real nodes, so on the test
// hosts it becomes the first server.
func Site(stackFile string, cluster map[string]any) (config map[string]string, site map[string]any, secretKeys []string, err error) {
	config, secretKeys, err = inprocess.LoadStackFile(stackFile)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := json.Unmarshal([]byte(config[sites.SiteKey]), &site); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", stackFile, err)
	}
	// The stack file's add-ons (observability, Istio's settings) stay: they are the site's,
	// not the hosts'. A cluster section that brings its own add-ons wins.
	if own, ok := site["cluster"].(map[string]any); ok && own["addons"] != nil && cluster["addons"] == nil {
		cluster["addons"] = own["addons"]
	}
	site["cluster"] = cluster
	if infra, ok := site["infra"].(map[string]any); ok {
		if cc, ok := infra["compose"].(map[string]any); ok && cc["host"] != nil {
			servers, _ := cluster["servers"].([]any)
			if len(servers) > 0 {
				cc["host"] = servers[0].(map[string]any)["name"]
			}
		}
	}
	return config, site, secretKeys, nil
}

// StackConfig is a stack file's config with site.cluster replaced (Site), the SSH key set and
// a placeholder for every other secret the site needs (as the mock-engine tests do).
func (h *Hosts) StackConfig(stackFile string, cluster map[string]any) (map[string]string, []string, error) {
	config, site, secretKeys, err := Site(stackFile, cluster)
	if err != nil {
		return nil, nil, err
	}
	data, err := json.Marshal(site)
	if err != nil {
		return nil, nil, err
	}
	config[sites.SiteKey] = string(data)
	key := sites.ConfigNamespace + ":sshPrivateKey"
	config[key] = h.PrivateKey
	secretKeys = append(secretKeys, key)
	secretKeys, err = inprocess.AddRequiredSecretPlaceholders(config, secretKeys)
	if err != nil {
		return nil, nil, err
	}
	return config, secretKeys, nil
}

// WriteStackFile writes dst, a Pulumi.<stack>.yaml whose site object is site and whose other
// plain keys are src's (its secure values are not copied: set them with `pulumi config set
// --secret`). This is the stack file an operator would have for a site on these hosts.
func WriteStackFile(src, dst string, site map[string]any) error {
	config, secretKeys, err := inprocess.LoadStackFile(src)
	if err != nil {
		return err
	}
	out := map[string]any{}
	for k, v := range config {
		if !slices.Contains(secretKeys, k) {
			out[k] = v
		}
	}
	out[sites.SiteKey] = site
	data, err := yaml.Marshal(map[string]any{"config": out})
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o600)
}

// CleanupAll stops and removes every test host left on this machine (a run whose process
// died): processes in xgh* network namespaces, the namespaces, their containers (their
// cgroups), the xgb* bridges.
func CleanupAll() (removed int) {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], "xgh") {
			continue
		}
		for _, pid := range netnsPIDs(fields[0]) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = ip("netns", "del", fields[0])
		removed++
	}
	removeAllCgroups() // the hosts' containers, which run in namespaces of their own
	out, _ = exec.Command("ip", "-o", "link", "show", "type", "bridge").Output()
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 1 && strings.HasPrefix(fields[1], "xgb") {
			_ = ip("link", "del", strings.TrimSuffix(fields[1], ":"))
		}
	}
	return removed
}

// WithIstioCharts points the cluster section's Istio add-on at a local charts directory,
// keeping the stack file's other add-ons (observability) as they are.
func WithIstioCharts(cluster map[string]any, charts string) {
	addons, _ := cluster["addons"].(map[string]any)
	if addons == nil {
		addons = map[string]any{}
		cluster["addons"] = addons
	}
	istio, _ := addons["istio"].(map[string]any)
	if istio == nil {
		istio = map[string]any{}
		addons["istio"] = istio
	}
	istio["charts"] = charts
}
