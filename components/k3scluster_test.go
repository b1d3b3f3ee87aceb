package components

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/internal/inprocess"
)

const (
	testKey      = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMC7sdolJu6mTZshErUhkmf00a/2gf5ebVbOmQ61+JOb"
	testPassword = "REGISTRY-PASSWORD-SECRET"
)

var testPrivateKey = inprocess.PrivateKeyPEM(make([]byte, 32))

func haCluster() K3sClusterArgs {
	host := func(name, addr string) K3sHost { return K3sHost{Name: name, Address: addr, HostKey: testKey} }
	gpu := host("gpu-1", "10.0.0.22")
	gpu.GPU = true
	return K3sClusterArgs{
		Version: "v1.31.4+k3s1", InstallMode: "airgapped",
		Artifacts: &K3sArtifacts{Binary: "/art/k3s", BinarySHA256: strings.Repeat("a", 64), Images: "/art/k3s-airgap-images-amd64.tar.zst", ImagesSHA256: strings.Repeat("b", 64)},
		SSH: SSHAccess{User: "xgen", Port: 22, PrivateKey: pulumi.ToSecret(pulumi.String(testPrivateKey)).(pulumi.StringOutput),
			PrivateKeyFingerprint: PublicKeyFingerprint(testPrivateKey)},
		Servers:     []K3sHost{host("s1", "10.0.0.11"), host("s2", "10.0.0.12"), host("s3", "10.0.0.13")},
		Agents:      []K3sHost{host("a1", "10.0.0.21"), gpu},
		ClusterCIDR: "10.42.0.0/16", ServiceCIDR: "10.43.0.0/16", Disable: []string{"traefik"},
		Registry: &RegistryLogin{Server: "registry.example.com", Username: "ci", Password: pulumi.ToSecret(pulumi.String(testPassword)).(pulumi.StringOutput)},
	}
}

func runCluster(t *testing.T, args K3sClusterArgs) *inprocess.Recorder {
	t.Helper()
	rec, err := inprocess.Run(func(ctx *pulumi.Context) error {
		_, err := NewK3sCluster(ctx, "k3s", args)
		return err
	}, "test", "test", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// commands maps each remote command's name to its plain inputs.
func commands(rec *inprocess.Recorder) map[string]inprocess.Resource {
	out := map[string]inprocess.Resource{}
	for _, r := range rec.Resources {
		if strings.HasPrefix(r.Type, "command:remote:") {
			out[r.Name] = r
		}
	}
	return out
}

func TestK3sClusterInputsAreDeterministic(t *testing.T) {
	first, second := commands(runCluster(t, haCluster())), commands(runCluster(t, haCluster()))
	if len(first) == 0 {
		t.Fatal("no commands registered")
	}
	for name, r := range first {
		a, _ := r.PlainInputs()
		b, _ := second[name].PlainInputs()
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: inputs differ between two runs of the same config (a second `pulumi up` would run it again)", name)
		}
	}
}

func TestK3sClusterNeverExposesSecrets(t *testing.T) {
	rec := runCluster(t, haCluster())
	keyLine := strings.Split(testPrivateKey, "\n")[1]
	for name, r := range commands(rec) {
		plain, secretPaths := r.PlainInputs()
		walk(plain, "", func(path, s string) {
			for what, secret := range map[string]string{"private key": keyLine, "registry password": testPassword} {
				if strings.Contains(s, secret) && !underSecretPath(path, secretPaths) {
					t.Errorf("%s.%s holds the %s outside a secret", name, path, what)
				}
				if strings.Contains(s, secret) && (path == "create" || path == "delete" || strings.HasPrefix(path, "environment")) {
					t.Errorf("%s.%s: the %s is on a command line or in the environment", name, path, what)
				}
			}
		})
		if c, _ := plain["create"].(string); strings.Contains(c, "TOKEN=") || strings.Contains(c, "PASSWORD=") {
			t.Errorf("%s passes a credential as a parameter", name)
		}
	}
	cmds := commands(rec)
	for _, name := range []string{"token-s2", "token-a1", "registries-s1"} {
		_, secretPaths := cmds[name].PlainInputs()
		if !underSecretPath("stdin", secretPaths) {
			t.Errorf("%s: stdin is not secret", name)
		}
	}
	for _, name := range []string{"join-token", "kubeconfig"} {
		r := cmds[name]
		plain, _ := r.PlainInputs()
		if plain["logging"] != "none" || !slices.Contains(r.AdditionalSecretOutputs, "stdout") {
			t.Errorf("%s reads a secret: logging %v, secret outputs %v", name, plain["logging"], r.AdditionalSecretOutputs)
		}
	}
}

func underSecretPath(path string, secretPaths []string) bool {
	return slices.ContainsFunc(secretPaths, func(p string) bool { return path == p || strings.HasPrefix(path, p+".") })
}

func walk(v any, path string, fn func(path, s string)) {
	switch x := v.(type) {
	case string:
		fn(path, x)
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walk(e, p, fn)
		}
	case []any:
		for _, e := range x {
			walk(e, path, fn)
		}
	}
}

// TestOnlyHostMarkersUninstall: the uninstall lives on resources that no upgrade, config
// change or relabel touches, and that have no triggers (a trigger change replaces a command:
// create the new, then delete the old).
func TestOnlyHostMarkersUninstall(t *testing.T) {
	before := commands(runCluster(t, haCluster()))
	changed := haCluster()
	changed.Version = "v1.32.1+k3s1"
	changed.Agents[0].Labels = map[string]string{"zone": "b"}
	changed.Agents[0].Taints = []string{"dedicated=ml:NoSchedule"}
	changed.Disable = []string{"traefik", "servicelb"}
	changed.Artifacts.BinarySHA256 = strings.Repeat("c", 64)
	after := commands(runCluster(t, changed))
	for name, r := range before {
		plain, _ := r.PlainInputs()
		del, _ := plain["delete"].(string)
		if strings.Contains(del, "K3s uninstalled") != strings.HasPrefix(name, "host-") {
			t.Errorf("%s: carries the uninstall = %v; only host-<node> may", name, strings.Contains(del, "K3s uninstalled"))
		}
		if del == "" {
			continue
		}
		if plain["triggers"] != nil {
			t.Errorf("%s has a delete script and triggers", name)
		}
		now, _ := after[name].PlainInputs()
		if !reflect.DeepEqual(plain, now) {
			t.Errorf("%s has a delete script and changes with an upgrade or reconfiguration", name)
		}
	}
	for _, name := range []string{"install-s1", "install-a1", "drain-a1", "uncordon-a1", "metadata-a1", "preflight-a1"} {
		a, _ := before[name].PlainInputs()
		b, _ := after[name].PlainInputs()
		if reflect.DeepEqual(a, b) {
			t.Errorf("%s does not change with the upgrade", name)
		}
	}
}

// TestUpgradeOrder: preflight of every host before any change; then one host at a time,
// servers first, each drained before and uncordoned after its install.
func TestUpgradeOrder(t *testing.T) {
	rec := runCluster(t, haCluster())
	cmds := commands(rec)
	dependsOn := func(a, b string) bool { return slices.Contains(cmds[a].DependsOn, cmds[b].URN) }
	for _, h := range []string{"s1", "s2", "s3", "a1", "gpu-1"} {
		for _, p := range []string{"s1", "s2", "s3", "a1", "gpu-1"} {
			if !dependsOn("host-"+h, "preflight-"+p) {
				t.Errorf("host-%s does not wait for preflight-%s", h, p)
			}
		}
		if !dependsOn("install-"+h, "drain-"+h) || !dependsOn("uncordon-"+h, "install-"+h) {
			t.Errorf("%s: not drain → install → uncordon", h)
		}
	}
	for _, pair := range [][2]string{{"s2", "s1"}, {"s3", "s2"}, {"a1", "s3"}, {"gpu-1", "a1"}} {
		if !dependsOn("drain-"+pair[0], "uncordon-"+pair[1]) {
			t.Errorf("%s is upgraded before %s is back", pair[0], pair[1])
		}
	}
	for _, name := range []string{"drain-a1", "uncordon-a1", "metadata-a1", "member-a1"} {
		plain, _ := cmds[name].PlainInputs()
		if at(plain, "connection", "host") != "10.0.0.11" {
			t.Errorf("%s runs on %v, want the first server", name, at(plain, "connection", "host"))
		}
	}
	if !dependsOn("member-a1", "host-a1") || !dependsOn("destroy-guard", "member-a1") {
		t.Error("delete order: guard, then members, then hosts")
	}
}

func TestK3sClusterConnectionsAndFiles(t *testing.T) {
	cmds := commands(runCluster(t, haCluster()))
	for name, r := range cmds {
		plain, _ := r.PlainInputs()
		conn := plain["connection"]
		if at(conn, "hostKey") != testKey || at(conn, "dialErrorLimit") != int64(1) || at(conn, "perDialTimeout") != int64(10) || at(conn, "user") != "xgen" {
			t.Errorf("%s: connection %v", name, conn)
		}
		if r.Type == "command:remote:Command" && plain["addPreviousOutputInEnv"] != false {
			t.Errorf("%s passes previous output in the environment (needs AcceptEnv on every host)", name)
		}
	}
	cfg := func(name string) string { p, _ := cmds[name].PlainInputs(); s, _ := p["stdin"].(string); return s }
	if s := cfg("config-s1"); !strings.Contains(s, "cluster-init: true") || strings.Contains(s, "server:") {
		t.Errorf("first server config:\n%s", s)
	}
	if s := cfg("config-s2"); !strings.Contains(s, "server: https://10.0.0.11:6443") || strings.Contains(s, "cluster-init") {
		t.Errorf("joining server config:\n%s", s)
	}
	if s := cfg("config-gpu-1"); !strings.Contains(s, "nvidia.com/gpu.present=true") || !strings.Contains(s, "nvidia.com/gpu=present:NoSchedule") {
		t.Errorf("GPU agent config:\n%s", s)
	}
	if p, _ := cmds["upload-k3s-a1"].PlainInputs(); p["remotePath"] != "/var/tmp/xgen-k3s-aaaaaaaaaaaa-k3s" {
		t.Errorf("upload path %v", p["remotePath"])
	}
}

// TestGPUTaintOnlyWithOtherNodes: GPU nodes are labelled always and tainted only when the
// cluster has a node without a GPU for everything else; a cluster of GPU nodes only (the
// head office's one GPU server) would otherwise have nowhere to run the apps.
func TestGPUTaintOnlyWithOtherNodes(t *testing.T) {
	host := func(name, addr string, gpu bool) K3sHost {
		return K3sHost{Name: name, Address: addr, HostKey: testKey, GPU: gpu}
	}
	for _, tc := range []struct {
		name            string
		servers, agents []K3sHost
		tainted         map[string]bool // config and metadata carry the GPU taint
	}{
		{"one GPU server", []K3sHost{host("gpu-1", "10.0.0.11", true)}, nil, map[string]bool{"gpu-1": false}},
		{"GPU server and GPU agent", []K3sHost{host("gpu-1", "10.0.0.11", true)}, []K3sHost{host("gpu-2", "10.0.0.12", true)},
			map[string]bool{"gpu-1": false, "gpu-2": false}},
		{"server and GPU agent", []K3sHost{host("s1", "10.0.0.11", false)}, []K3sHost{host("gpu-1", "10.0.0.12", true)},
			map[string]bool{"s1": false, "gpu-1": true}},
		{"GPU server and a plain agent", []K3sHost{host("gpu-1", "10.0.0.11", true)}, []K3sHost{host("a1", "10.0.0.12", false)},
			map[string]bool{"gpu-1": true, "a1": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := haCluster()
			args.Servers, args.Agents = tc.servers, tc.agents
			cmds := commands(runCluster(t, args))
			for node, tainted := range tc.tainted {
				for _, name := range []string{"config-" + node, "metadata-" + node} {
					plain, _ := cmds[name].PlainInputs()
					text := fmt.Sprint(plain["stdin"], plain["create"])
					if got := strings.Contains(text, "nvidia.com/gpu=present:NoSchedule"); got != tainted {
						t.Errorf("%s: tainted %v, want %v:\n%.600s", name, got, tainted, text)
					}
					gpu := slices.ContainsFunc(slices.Concat(tc.servers, tc.agents), func(h K3sHost) bool { return h.Name == node && h.GPU })
					if got := strings.Contains(text, "nvidia.com/gpu.present=true"); got != gpu {
						t.Errorf("%s: GPU label %v, want %v", name, got, gpu)
					}
				}
			}
		})
	}
}

// TestArgsReportEveryProblem: a component's args are checked before anything is
// registered, and every problem is reported at once (not the first only).
func TestArgsReportEveryProblem(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func() error
		want  []string
	}{
		{"K3sCluster", (&K3sClusterArgs{InstallMode: "ftp"}).check,
			[]string{"Version is required", `InstallMode "ftp"`, "at least one server", "SSH.User, SSH.Port and SSH.PrivateKey"}},
		{"InfraCompose", (&InfraComposeArgs{}).check,
			[]string{"Host.Address and Host.HostKey", "SSH.User, SSH.Port and SSH.PrivateKey"}},
	} {
		err := tc.check()
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v lacks %q", tc.name, err, w)
			}
		}
	}
}
