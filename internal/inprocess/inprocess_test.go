package inprocess

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func TestLoadStackFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Pulumi.s.yaml")
	err := os.WriteFile(path, []byte(`config:
  p:site: { services: { a: { replicas: 2 } }, hosts: ["*"] }
  p:name: plain
  p:password:
    secure: AAABAKsomeciphertext
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cfg, secretKeys, err := LoadStackFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"p:site":     `{"hosts":["*"],"services":{"a":{"replicas":2}}}`,
		"p:name":     "plain",
		"p:password": Placeholder("p:password"), // never the ciphertext, never a real value
	}
	if !reflect.DeepEqual(cfg, want) || !reflect.DeepEqual(secretKeys, []string{"p:password"}) {
		t.Errorf("config %v secret keys %v", cfg, secretKeys)
	}
	keys := AddPlaceholderSecrets(cfg, secretKeys, "p:password", "p:token")
	if cfg["p:token"] != Placeholder("p:token") || !reflect.DeepEqual(keys, []string{"p:password", "p:token"}) {
		t.Errorf("placeholders: %v %v", cfg, keys)
	}
}

func TestPlainListsSecretPaths(t *testing.T) {
	props := resource.NewPropertyMapFromMap(map[string]any{
		"metadata":   map[string]any{"name": "x"},
		"stringData": resource.MakeSecret(resource.NewProperty(resource.NewPropertyMapFromMap(map[string]any{"K": "v"}))),
		"list":       []any{"a", resource.MakeSecret(resource.NewProperty("s"))},
	})
	plain, secrets := Resource{Inputs: props}.PlainInputs()
	if Get(plain, "stringData", "K") != "v" || Get(plain, "list", 1) != "s" || Get(plain, "metadata", "name") != "x" {
		t.Errorf("plain = %v", plain)
	}
	if !reflect.DeepEqual(secrets, []string{"list[1]", "stringData"}) {
		t.Errorf("secret paths = %v", secrets)
	}
	if Get(plain, "list", 5) != nil || Get(plain, "nope", "deeper") != nil {
		t.Error("Get of a missing path is not nil")
	}
}

// TestLoadStackFileNamesFileAndLine: a broken stack file names itself and the parser's line.
func TestLoadStackFileNamesFileAndLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Pulumi.s.yaml")
	if err := os.WriteFile(path, []byte("config:\n  p:site: {services: {a: {}}\n  p:x: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadStackFile(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+": yaml: line ") {
		t.Errorf("want the path and the line, got %v", err)
	}
}
