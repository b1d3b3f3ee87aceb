package inprocess

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"xgen-infra/sites"

	"gopkg.in/yaml.v3"
)

// Placeholder is the stand-in value of a secret config key in tests and rendered
// manifests. No real secret is ever given to an in-process run. The kubeconfig's stand-in is a
// kubeconfig (the program checks its shape) that carries the marker as its user's token.
func Placeholder(key string) string {
	marker := "(secret:" + key + ")"
	if strings.HasSuffix(key, ":kubeconfig") {
		return KubeconfigWith(marker)
	}
	if strings.HasSuffix(key, ":sshPrivateKey") {
		seed := sha256.Sum256([]byte(marker))
		return PrivateKeyPEM(seed[:])
	}
	return marker
}

// PrivateKeyPEM is the ed25519 private key of a 32-byte seed as PKCS#8 PEM, a form every
// SSH client reads; the same seed gives the same text (golden files stay stable).
func PrivateKeyPEM(seed []byte) string {
	der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		panic(err) // a valid ed25519 key always marshals
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// KubeconfigWith is a kubeconfig for an unreachable placeholder cluster whose user's token is
// token: a stand-in for the kubeconfig secret under the mock engine.
func KubeconfigWith(token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: placeholder
  cluster: {server: "https://placeholder.invalid"}
users:
- name: placeholder
  user: {token: %q}
contexts:
- name: placeholder
  context: {cluster: placeholder, user: placeholder}
current-context: placeholder
`, token)
}

// LoadStackFile reads a Pulumi.<stack>.yaml (sites.ReadStackFile) and returns its config
// with every encrypted value replaced by Placeholder, listed in secretKeys: the form the
// in-process runs and rendered manifests use.
func LoadStackFile(path string) (config map[string]string, secretKeys []string, err error) {
	f, err := sites.ReadStackFile(path)
	if err != nil {
		return nil, nil, err
	}
	for _, key := range f.Secure {
		f.Config[key] = Placeholder(key)
	}
	return f.Config, f.Secure, nil
}

// AddPlaceholderSecrets sets every key that the stack file does not set to a secret
// placeholder, as an operator's `pulumi config set --secret` would.
func AddPlaceholderSecrets(config map[string]string, secretKeys []string, keys ...string) []string {
	for _, key := range keys {
		if _, set := config[key]; set {
			continue
		}
		config[key] = Placeholder(key)
		secretKeys = append(secretKeys, key)
	}
	sort.Strings(secretKeys)
	return secretKeys
}

// AddRequiredSecretPlaceholders sets a placeholder for every secret the site in config
// needs that config does not set (an operator sets exactly those with `pulumi config set
// --secret`), and returns the secret keys then. The one place the tests and the kits make an
// operator's secrets up.
func AddRequiredSecretPlaceholders(config map[string]string, secretKeys []string) ([]string, error) {
	required, err := sites.RequiredSecrets(config)
	if err != nil {
		return secretKeys, err
	}
	keys := make([]string, 0, len(required))
	for _, k := range required {
		keys = append(keys, sites.ConfigNamespace+":"+k)
	}
	return AddPlaceholderSecrets(config, secretKeys, keys...), nil
}

// KubernetesLayer writes to dst the stack file src without its site.cluster, infra.compose
// and aws sections, with
// infra.hostAddress set to the first server's address when the file does not set it (what
// the program derives): the same site deployed to a cluster that already exists, the form
// the real engine runs here (the command provider cannot be had on this machine) and the
// form `make demo` deploys to the cluster its test hosts formed. A file without a cluster is
// copied unchanged (comments are dropped).
func KubernetesLayer(src, dst, hostAddress string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var file map[string]any
	if err := yaml.Unmarshal(data, &file); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	cfg, _ := file["config"].(map[string]any)
	site, _ := cfg["xgen-infra:site"].(map[string]any)
	if infra, ok := site["infra"].(map[string]any); ok {
		delete(infra, "compose") // the host layer: run by the command provider
	}
	delete(site, "aws") // the aws provider plugin cannot be had here either
	if cluster, ok := site["cluster"].(map[string]any); ok {
		delete(site, "cluster")
		infra, _ := site["infra"].(map[string]any)
		if infra == nil {
			infra = map[string]any{}
			site["infra"] = infra
		}
		if infra["hostAddress"] == nil {
			if hostAddress == "" {
				servers, _ := cluster["servers"].([]any)
				if len(servers) > 0 {
					hostAddress, _ = servers[0].(map[string]any)["address"].(string)
				}
			}
			infra["hostAddress"] = hostAddress
		}
	}
	out, err := yaml.Marshal(file)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, out, 0o600)
}

// ParseWithSite is the site a stack file's config describes with its site object replaced by
// site, every required secret a placeholder (for what needs the site model, not its secrets).
func ParseWithSite(stackFile string, site map[string]any) (*sites.Site, error) {
	config, secretKeys, err := LoadStackFile(stackFile)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(site)
	if err != nil {
		return nil, err
	}
	config[sites.SiteKey] = string(data)
	if secretKeys, err = AddRequiredSecretPlaceholders(config, secretKeys); err != nil {
		return nil, err
	}
	return sites.Parse(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(stackFile), "Pulumi."), ".yaml"), config, secretKeys)
}
