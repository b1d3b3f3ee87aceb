package rendered

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/sites"
	"xgen-infra/stack"
)

// TestSecretsStaySecret is the secrets scan across every site and so every component (K3s
// and compose host commands, AWS, the site Secret, the services): each secret the site needs
// gets a distinct value, which must reach some resource, and appear
//   - in resource inputs only inside a Pulumi secret;
//   - in no command line, environment or trigger of a host command, secret or not (those
//     show in process lists and logs): only in its stdin or its SSH connection;
//   - in no rendered file (the `make render` output: manifests, resource tree, AWS inputs,
//     host scripts) other than a Secret's manifest and a command's stdin.
//
// Logs, the state and the stack outputs of the real engine are scanned per site by
// TestRealEngineEverySite, the host commands' output over SSH by the host tests.
func TestSecretsStaySecret(t *testing.T) {
	for _, stackFile := range sitetest.StackFiles(t) {
		t.Run(stackFile, func(t *testing.T) { checkSecretsStaySecret(t, stackFile) })
	}
}

// checkSecretsStaySecret sets every secret the site needs to a recognisable value and
// finds each one in some resource, always inside a Pulumi secret.
func checkSecretsStaySecret(t *testing.T, stackFile string) {
	config, secretKeys, err := inprocess.LoadStackFile(stackFile)
	if err != nil {
		t.Fatal(err)
	}
	required, err := sites.RequiredSecrets(config)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{}
	for _, k := range required {
		key := sites.ConfigNamespace + ":" + k
		values[key] = "TOPSECRET-" + k + "-value"
		config[key] = values[key]
		switch k {
		case "kubeconfig":
			config[key] = inprocess.KubeconfigWith(values[key])
		case "sshPrivateKey":
			config[key] = inprocess.PrivateKeyPEM(make([]byte, 32))
			values[key] = strings.Split(config[key], "\n")[1] // the key material
		}
		secretKeys = append(secretKeys, key)
	}
	rec, err := inprocess.Run(stack.Program, sites.ConfigNamespace, sitetest.StackName(stackFile), config, secretKeys)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, res := range rec.Resources {
		plain, secretPaths := res.PlainInputs()
		walkStrings(plain, "", func(path, s string) {
			for key, secret := range values {
				if !strings.Contains(s, secret) && !strings.Contains(s, base64.StdEncoding.EncodeToString([]byte(secret))) &&
					!strings.Contains(decodeBase64(s), secret) {
					continue
				}
				found[key] = true
				if !underSecret(path, secretPaths) {
					t.Errorf("%s %s: %s holds %s outside a Pulumi secret", res.Type, res.Name, path, key)
				}
			}
		})
	}
	for key := range values {
		if !found[key] {
			t.Errorf("%s never reached a resource", key)
		}
	}
	containsSecret := func(text string) string {
		for key, secret := range values {
			if strings.Contains(text, secret) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(secret))) {
				return key
			}
		}
		return ""
	}
	for _, res := range rec.Resources {
		if res.Type != "command:remote:Command" {
			continue
		}
		all, _ := res.PlainInputs() // secrets unwrapped: a secret command line is no better
		delete(all, "stdin")
		delete(all, "connection")
		walkStrings(all, "", func(path, s string) {
			if key := containsSecret(s); key != "" {
				t.Errorf("command %s: %s holds %s: only stdin may carry a secret", res.Name, path, key)
			}
		})
	}
	for file, data := range renderRecorded(t, rec) {
		if strings.HasSuffix(file, ".stdin") || strings.Contains(string(data), "\nkind: Secret\n") {
			continue
		}
		if key := containsSecret(string(data)); key != "" {
			t.Errorf("rendered file %s holds %s", file, key)
		}
	}
}

func walkStrings(v any, path string, fn func(path, s string)) {
	switch x := v.(type) {
	case string:
		fn(path, x)
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walkStrings(e, p, fn)
		}
	case []any:
		for i, e := range x {
			walkStrings(e, path+"["+strconv.Itoa(i)+"]", fn)
		}
	}
}

// underSecret says whether path is a secret path or inside one. Secret paths from
// PlainInputs quote keys containing dots; compare on the unquoted form.
func underSecret(path string, secretPaths []string) bool {
	for _, s := range secretPaths {
		s = strings.NewReplacer(`["`, ".", `"]`, "").Replace(s)
		if path == s || strings.HasPrefix(path, s+".") || strings.HasPrefix(path, s+"[") {
			return true
		}
	}
	return false
}

// decodeBase64 returns the decoded text of a base64 string, or "".
func decodeBase64(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return ""
	}
	return string(b)
}
