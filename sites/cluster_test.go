package sites

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPrivateKey is a fixed ed25519 key for the sshPrivateKey secret (PKCS#8 PEM, as
// inprocess.PrivateKeyPEM writes it; that package imports this one).
var testPrivateKey = func() string {
	der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}()

const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMC7sdolJu6mTZshErUhkmf00a/2gf5ebVbOmQ61+JOb"

// clusterSite is a minimal valid site with a cluster; cluster lines are appended under it.
func clusterSite(clusterYAML string) string {
	return minimalSite + "\ncluster:\n  k3s: {version: v1.31.4+k3s1}\n  ssh: {user: xgen}\n" + clusterYAML
}

const oneServer = "  servers: [{name: s1, address: 10.0.0.11, hostKey: '" + hostKey + "'}]\n"

func TestClusterDefaults(t *testing.T) {
	site := mustParse(t, clusterSite(oneServer))
	cl := site.Config.Cluster
	if cl.K3s.Install != "online" || cl.SSH.Port != 22 || cl.SSH.ConnectTimeout != "10s" ||
		cl.ClusterCIDR != DefaultClusterCIDR || cl.ServiceCIDR != DefaultServiceCIDR || cl.ReadyTimeout != "5m" {
		t.Errorf("defaults not applied: %+v", cl)
	}
	if site.Config.Infra.HostAddress != "10.0.0.11" {
		t.Errorf("infra.hostAddress = %q, want the first server", site.Config.Infra.HostAddress)
	}
	if len(site.Placeholders) != 0 {
		t.Errorf("placeholders %v for a real address", site.Placeholders)
	}
}

func TestClusterSecrets(t *testing.T) {
	js, err := yamlToJSON([]byte(clusterSite(oneServer)))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := RequiredSecrets(map[string]string{SiteKey: string(js)})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "sshPrivateKey,postgresPassword,redisPassword,objectStorageAccessKey,objectStorageSecretKey" {
		t.Errorf("required secrets with a cluster = %v (no kubeconfig, an SSH key)", keys)
	}
	cases := map[string]string{
		"/home/me/.ssh/id_ed25519": "is not a private key",
		"ssh-ed25519 AAAAC3Nza":    "is a public key",
		"-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----": "cannot be read as a private key",
	}
	for value, want := range cases {
		cfg, secretKeys := requiredSecrets(string(js))
		cfg[SiteKey] = string(js)
		cfg[ConfigNamespace+":sshPrivateKey"] = value
		_, err := Parse("x", cfg, secretKeys)
		if err == nil || !strings.Contains(err.Error(), "xgen-infra:sshPrivateKey: "+want) {
			t.Errorf("sshPrivateKey %.20q: got %v, want %q", value, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "garbage") {
			t.Errorf("the secret's content is echoed: %v", err)
		}
	}
}

func TestBadClusterConfigs(t *testing.T) {
	s1 := "{name: s1, address: 10.0.0.11, hostKey: '" + hostKey + "'}"
	cases := []struct{ name, cluster, key, want string }{
		{"no servers", "  servers: []\n", "site.cluster.servers", "1 server, or an odd number"},
		{"two servers", "  servers: [" + s1 + ", {name: s2, address: 10.0.0.12, hostKey: '" + hostKey + "'}]\n", "site.cluster.servers", "majority"},
		{"duplicate name", "  servers: [" + s1 + "]\n  agents: [{name: s1, address: 10.0.0.12, hostKey: '" + hostKey + "'}]\n", "site.cluster.agents[0].name", "also the name of cluster.servers[0]"},
		{"duplicate address", "  servers: [" + s1 + "]\n  agents: [{name: a1, address: 10.0.0.11, hostKey: '" + hostKey + "'}]\n", "site.cluster.agents[0].address", "one host is one node"},
		{"node name", "  servers: [{name: S_1, address: 10.0.0.11, hostKey: '" + hostKey + "'}]\n", "site.cluster.servers[0].name", "DNS label"},
		{"address", "  servers: [{name: s1, address: host-1, hostKey: '" + hostKey + "'}]\n", "site.cluster.servers[0].address", "IPv4 address"},
		{"loopback", "  servers: [{name: s1, address: 127.0.0.1, hostKey: '" + hostKey + "'}]\n", "site.cluster.servers[0].address", "not loopback"},
		{"no host key", "  servers: [{name: s1, address: 10.0.0.11}]\n", "site.cluster.servers[0].hostKey", "ssh-keyscan"},
		{"host key form", "  servers: [{name: s1, address: 10.0.0.11, hostKey: 'AAAAC3Nz'}]\n", "site.cluster.servers[0].hostKey", "OpenSSH public key line"},
		{"rsa host key", "  servers: [{name: s1, address: 10.0.0.11, hostKey: 'ssh-rsa AAAAB3NzaC1yc2E='}]\n", "site.cluster.servers[0].hostKey", "ed25519 or ECDSA"},
		{"taint", "  servers: [{name: s1, address: 10.0.0.11, hostKey: '" + hostKey + "', taints: ['gpu=yes']}]\n", "site.cluster.servers[0].taints[0]", "Effect"},
		{"label", "  servers: [{name: s1, address: 10.0.0.11, hostKey: '" + hostKey + "', labels: {'zone': 'a b'}}]\n", "site.cluster.servers[0].labels.zone", "label value"},
		{"gpu label by hand", "  servers: [{name: s1, address: 10.0.0.11, hostKey: '" + hostKey + "', labels: {'nvidia.com/gpu.present': 'yes'}}]\n", "site.cluster.servers[0].labels", "set gpu: true"},
		{"disable", oneServer + "  disable: [nginx]\n", "site.cluster.disable[0]", "traefik, servicelb"},
		{"cidr", oneServer + "  clusterCidr: 10.42.0.1/16\n", "site.cluster.clusterCidr", "CIDR form"},
		{"cidr overlap", oneServer + "  serviceCidr: 10.42.128.0/17\n", "site.cluster.serviceCidr", "overlaps cluster.clusterCidr"},
		{"api endpoint", oneServer + "  apiEndpoint: 'lb.example.com:99999'\n", "site.cluster.apiEndpoint", "host:port"},
		{"ready timeout", oneServer + "  readyTimeout: soon\n", "site.cluster.readyTimeout", "Go duration"},
		{"connect timeout", oneServer + "  ssh: {user: xgen, connectTimeout: 1h}\n", "site.cluster.ssh.connectTimeout", "1s to 5m"},
		{"ssh user", oneServer + "  ssh: {user: 'root user'}\n", "site.cluster.ssh.user", "Unix user name"},
		{"bastion", oneServer + "  ssh: {user: xgen, bastion: {address: 10.0.0.1}}\n", "site.cluster.ssh.bastion.hostKey", "is required"},
		{"install mode", oneServer + "  k3s: {version: v1.31.4+k3s1, install: offline}\n", "site.cluster.k3s.install", "online or airgapped"},
		{"version", oneServer + "  k3s: {version: '1.31'}\n", "site.cluster.k3s.version", "K3s release tag"},
		{"artifacts online", oneServer + "  k3s: {version: v1.31.4+k3s1, artifacts: ./a}\n", "site.cluster.k3s.artifacts", "only used with install: airgapped"},
		{"airgapped without artifacts", oneServer + "  k3s: {version: v1.31.4+k3s1, install: airgapped}\n", "site.cluster.k3s.artifacts", "is required"},
		{"artifacts missing", oneServer + "  k3s: {version: v1.31.4+k3s1, install: airgapped, artifacts: ./no-such-dir}\n", "site.cluster.k3s.artifacts", "sha256sum-amd64.txt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			site := clusterSite(tc.cluster)
			// Later keys win in YAML flow maps only once: drop the default k3s/ssh lines when the
			// case sets its own.
			if strings.Contains(tc.cluster, "  k3s:") {
				site = strings.Replace(site, "  k3s: {version: v1.31.4+k3s1}\n", "", 1)
			}
			if strings.Contains(tc.cluster, "  ssh:") {
				site = strings.Replace(site, "  ssh: {user: xgen}\n", "", 1)
			}
			_, err := parseSite(t, site)
			if err == nil {
				t.Fatal("bad config accepted")
			}
			for _, p := range err.(Problems) {
				if p.Key == "xgen-infra:"+tc.key && strings.Contains(p.String(), tc.want) {
					return
				}
			}
			t.Errorf("no problem at xgen-infra:%s containing %q; got:\n%v", tc.key, tc.want, err)
		})
	}
}

func TestTraefikStaysOnlyForTraefikIngress(t *testing.T) {
	_, err := parseSite(t, "ingress: {type: traefik}\n"+clusterSite(oneServer+"  disable: [traefik]\n"))
	if err == nil || !strings.Contains(err.Error(), "contradicts ingress.type: traefik") {
		t.Errorf("disabling Traefik on a Traefik site: %v", err)
	}
}

func TestClusterBogusFieldFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/cluster-bogus-field.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = parseSite(t, string(data))
	if err == nil || !strings.Contains(err.Error(), "xgen-infra:site.cluster.servers[0].hostkey") || !strings.Contains(err.Error(), `did you mean "hostKey"`) {
		t.Errorf("a misspelt cluster field: %v", err)
	}
}

func TestPlaceholderAddressesAreReported(t *testing.T) {
	site := mustParse(t, clusterSite("  servers: [{name: s1, address: 192.0.2.11, hostKey: '"+hostKey+"'}]\n"))
	if len(site.Placeholders) != 1 || site.Placeholders[0] != "xgen-infra:site.cluster.servers[0].address: 192.0.2.11" {
		t.Errorf("placeholders = %v", site.Placeholders)
	}
}

func TestArtifactsAreChecked(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	write("k3s", "binary")
	write("k3s-airgap-images-amd64.tar.zst", "images")
	write("sha256sum-amd64.txt", sum("binary")+"  k3s\n"+sum("images")+"  k3s-airgap-images-amd64.tar.zst\n")
	a, err := ReadArtifacts(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.BinarySHA256 != sum("binary") || a.ImagesSHA256 != sum("images") || filepath.Base(a.Images) != "k3s-airgap-images-amd64.tar.zst" {
		t.Errorf("artifacts = %+v", a)
	}
	write("k3s", "tampered")
	if _, err := ReadArtifacts(dir); err == nil || !strings.Contains(err.Error(), "k3s does not match its SHA-256") {
		t.Errorf("a tampered binary: %v", err)
	}
}

// TestDurationText: the defaults the K3s and compose packages decide, written as in a stack
// file (what the reference shows).
func TestDurationText(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{DefaultReadyTimeout, "5m"}, {DefaultSSHTimeout, "10s"}, {DefaultComposeWaitTimeout, "5m"},
		{durationText(90 * time.Minute), "1h30m"}, {durationText(2 * time.Hour), "2h"}, {durationText(45 * time.Second), "45s"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestClusterDisable: K3s' Traefik is left out unless the site is routed by it; the
// operator's own choices are kept, sorted, once.
func TestClusterDisable(t *testing.T) {
	for _, tc := range []struct {
		ingress string
		disable []string
		want    string
	}{
		{"istio", nil, "[traefik]"},
		{"none", []string{"servicelb"}, "[servicelb traefik]"},
		{"traefik", []string{"metrics-server"}, "[metrics-server]"},
		{"istio", []string{"traefik", "local-storage"}, "[local-storage traefik]"},
	} {
		s := &Site{Config: Config{Ingress: IngressConfig{Type: tc.ingress}, Cluster: &ClusterConfig{Disable: tc.disable}}}
		if got := fmt.Sprint(s.ClusterDisable()); got != tc.want {
			t.Errorf("ingress %s, disable %v: %s, want %s", tc.ingress, tc.disable, got, tc.want)
		}
	}
	if got := (&Site{}).ClusterDisable(); got != nil {
		t.Errorf("no cluster: %v", got)
	}
}
