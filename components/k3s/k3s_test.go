package k3s

import (
	"os/exec"
	"strings"
	"testing"

	"xgen-infra/components/hostscript"
	"xgen-infra/internal/testkit/shellcheck"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           "'plain'",
		"":                "''",
		"it's":            `'it'"'"'s'`,
		"$(rm -rf /) `x`": "'$(rm -rf /) `x`'",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
		out, err := exec.Command("sh", "-c", "printf %s "+Quote(in)).Output()
		if err != nil || string(out) != in {
			t.Errorf("sh reads Quote(%q) back as %q (%v)", in, out, err)
		}
	}
}

func TestScriptHeaderIsExact(t *testing.T) {
	got := WriteFile("node-1", TokenPath, "0600")
	header := "set -eu\nHOST='node-1'\nLOG_TAG='xgen-k3s'\nTARGET='/etc/rancher/k3s/token'\nMODE='0600'\n# lib.sh:"
	if !strings.HasPrefix(got, header) {
		t.Errorf("command starts\n%s\nwant\n%s", got[:len(header)+20], header)
	}
	own, _ := scripts.ReadFile("scripts/lib.sh")
	if !strings.Contains(got, string(own)) || strings.Count(got, "# lib.sh") != 2 {
		t.Error("command does not carry the common lib.sh and then the K3s lib.sh")
	}
}

func TestInstallParameters(t *testing.T) {
	in := Install{Host: "s1", Role: "server", Version: "v1.31.4+k3s1", Mode: "airgapped", ReadyTimeoutSeconds: 300,
		ConfigSHA256: "c0ffee", StagedBinary: "/var/tmp/xgen-k3s-aaaa-k3s", BinarySHA256: "aaaa",
		StagedImages: "/var/tmp/xgen-k3s-bbbb-images.tar", ImagesSHA256: "bbbb", ImagesName: "images.tar"}
	want := "set -eu\nHOST='s1'\nLOG_TAG='xgen-k3s'\nROLE='server'\nK3S_VERSION='v1.31.4+k3s1'\nINSTALL_MODE='airgapped'\nREADY_TIMEOUT='300'\n" +
		"CONFIG_SHA256='c0ffee'\nSTAGED_BINARY='/var/tmp/xgen-k3s-aaaa-k3s'\nBINARY_SHA256='aaaa'\n" +
		"STAGED_IMAGES='/var/tmp/xgen-k3s-bbbb-images.tar'\nIMAGES_SHA256='bbbb'\nIMAGES_NAME='images.tar'\n"
	if got := in.Command(); !strings.HasPrefix(got, want) {
		t.Errorf("airgapped install header:\n%s", got[:len(want)])
	}
	in.Mode = "online"
	if got := in.Command(); strings.Contains(got, "STAGED_BINARY=") {
		t.Error("online install carries air-gapped parameters")
	}
}

func TestNodeConfigYAML(t *testing.T) {
	first := NodeConfig{Role: "server", Name: "s1", Address: "10.0.0.11", ClusterInit: true,
		TLSSANs: []string{"10.0.0.11", "k8s.example.com"}, Disable: []string{"traefik"},
		ClusterCIDR: "10.42.0.0/16", ServiceCIDR: "10.43.0.0/16",
		Labels: map[string]string{"zone": "a", "nvidia.com/gpu.present": "true"}, Taints: []string{"nvidia.com/gpu=present:NoSchedule"}}
	want := `# Written by xgen-infra from the site's cluster config; edits here are overwritten.
node-name: s1
node-ip: 10.0.0.11
advertise-address: 10.0.0.11
cluster-init: true
tls-san:
    - 10.0.0.11
    - k8s.example.com
cluster-cidr: 10.42.0.0/16
service-cidr: 10.43.0.0/16
disable:
    - traefik
node-label:
    - nvidia.com/gpu.present=true
    - zone=a
node-taint:
    - nvidia.com/gpu=present:NoSchedule
write-kubeconfig-mode: "0600"
`
	if got := first.YAML(); got != want {
		t.Errorf("first server config:\n%s\nwant:\n%s", got, want)
	}
	agent := NodeConfig{Role: "agent", Name: "a1", Address: "10.0.0.21", Server: "https://10.0.0.11:6443",
		ClusterCIDR: "ignored", Disable: []string{"ignored"}}
	want = `# Written by xgen-infra from the site's cluster config; edits here are overwritten.
node-name: a1
node-ip: 10.0.0.21
server: https://10.0.0.11:6443
token-file: /etc/rancher/k3s/token
`
	if got := agent.YAML(); got != want {
		t.Errorf("agent config:\n%s\nwant:\n%s", got, want)
	}
}

func TestRegistries(t *testing.T) {
	cases := []struct {
		name string
		in   Registries
		want string
	}{
		{"site registry", Registries{Registry: "docker.x2bee.com"},
			"mirrors:\n    docker.x2bee.com:\n        endpoint:\n            - https://docker.x2bee.com\n"},
		{"with login", Registries{Registry: "docker.x2bee.com", Username: "ci", Password: "pw"},
			"mirrors:\n    docker.x2bee.com:\n        endpoint:\n            - https://docker.x2bee.com\nconfigs:\n    docker.x2bee.com:\n        auth:\n            username: ci\n            password: pw\n"},
		{"plain HTTP", Registries{Registry: "10.100.1.65:5000", PlainHTTP: true},
			"mirrors:\n    10.100.1.65:5000:\n        endpoint:\n            - http://10.100.1.65:5000\n"},
		{"and the add-on", Registries{Registry: "docker.x2bee.com", LocalPort: 30500},
			"mirrors:\n    docker.x2bee.com:\n        endpoint:\n            - https://docker.x2bee.com\n    localhost:30500:\n        endpoint:\n            - http://localhost:30500\n"},
	}
	for _, tc := range cases {
		if got := tc.in.YAML(); got != tc.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tc.name, got, tc.want)
		}
	}
}

func TestRewriteKubeconfig(t *testing.T) {
	in := "clusters:\n- cluster:\n    server: https://127.0.0.1:6443\n"
	if got := RewriteKubeconfig(in, "10.0.0.11:6443"); got != "clusters:\n- cluster:\n    server: https://10.0.0.11:6443\n" {
		t.Errorf("rewritten: %s", got)
	}
}

func TestGenerationDependsOnEveryValue(t *testing.T) {
	base := Generation("host", "10.0.0.11", "22", "xgen", "key", "fp", "false")
	for i, other := range [][]string{
		{"host", "10.0.0.12", "22", "xgen", "key", "fp", "false"},
		{"host", "10.0.0.11", "22", "xgen", "key", "fp2", "false"},
		{"host", "10.0.0.11", "22", "xgen", "key", "fp", "true"},
		{"host", "10.0.0.1", "122", "xgen", "key", "fp", "false"}, // no ambiguity across fields
	} {
		if Generation(other...) == base {
			t.Errorf("case %d: generation unchanged", i)
		}
	}
	if Generation("host", "10.0.0.11", "22", "xgen", "key", "fp", "false") != base {
		t.Error("generation is not deterministic")
	}
}

// The bundle's file list reaches the script exactly, one "sha name staged" line per image.
func TestImportImagesParameters(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	got := ImportImages("node-1", []hostscript.StagedFile{
		{Name: BundleImageName("cluster/reg_x_core_1.tar"), SHA256: a, Staged: StagedPath("xgen-reg_x_core_1.tar", a)},
		{Name: "xgen-b.tar", SHA256: b, Staged: "/var/tmp/xgen-k3s-bbbbbbbbbbbb-xgen-b.tar"},
	}, 90)
	want := "IMAGES='" + a + " xgen-reg_x_core_1.tar /var/tmp/xgen-k3s-aaaaaaaaaaaa-xgen-reg_x_core_1.tar\n" +
		b + " xgen-b.tar /var/tmp/xgen-k3s-bbbbbbbbbbbb-xgen-b.tar'\nREADY_TIMEOUT='90'\n"
	if !strings.Contains(got, want) {
		t.Errorf("header:\n%s\nwant it to contain:\n%s", got[:min(len(got), 600)], want)
	}
}

// TestScriptsPassShellcheck lints every command exactly as it is sent to a host.
func TestScriptsPassShellcheck(t *testing.T) {
	in := Install{Host: "h", Role: "agent", Version: "v1.31.4+k3s1", Mode: "online", ReadyTimeoutSeconds: 60, ConfigSHA256: "x"}
	commands := map[string]string{
		"preflight":     Preflight("h", PreflightOptions{Role: "server", GPU: true, InstallMode: "online", MinDiskMB: 1024, Version: "v1.36.1+k3s1"}),
		"write-file":    WriteFile("h", ConfigPath, "0600"),
		"read-file":     ReadFile("h", KubeconfigPath, 60),
		"install":       in.Command(),
		"drain":         Drain("h", "n", "v1.31.4+k3s1", "5m"),
		"uncordon":      Uncordon("h", "n", "v1.31.4+k3s1", 60),
		"node-metadata": NodeMetadata("h", "n", map[string]string{"a": "b"}, []string{"k=v:NoSchedule"}),
		"mark":          Mark("h", HostMarker, "g", ""),
		"guard-delete":  GuardDelete("h", "g"),
		"member-delete": MemberDelete("h", "n", "g", "5m"),
		"host-delete":   HostDelete("h", "agent", "n", "g", false),
		"status":        Status("h", "agent"),
		"import-images": ImportImages("h", []hostscript.StagedFile{{Name: "xgen-a.tar", SHA256: strings.Repeat("a", 64), Staged: StagedPath("xgen-a.tar", strings.Repeat("a", 64))}}, 60),
	}
	for _, name := range ScriptNames() {
		if _, ok := commands[name]; !ok {
			t.Errorf("scripts/%s.sh has no builder in this test", name)
		}
	}
	for name, cmd := range commands {
		if err := shellcheck.Check(cmd); err != nil {
			t.Errorf("%s: shellcheck: %v", name, err)
		}
	}
}
