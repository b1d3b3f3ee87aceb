package sites

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every stack file of the repository resolves without its secrets: the form cmd/images and
// status read a site in.
func TestRepositoryStackFilesParseWithoutSecrets(t *testing.T) {
	files, err := filepath.Glob("../Pulumi.*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("stack files: %v %v", files, err)
	}
	wd, _ := os.Getwd()
	t.Cleanup(func() { _ = os.Chdir(wd) })
	if err := os.Chdir(".."); err != nil { // relative paths resolve from the project directory
		t.Fatal(err)
	}
	for _, file := range files {
		file = filepath.Base(file)
		stack := strings.TrimSuffix(strings.TrimPrefix(file, "Pulumi."), ".yaml")
		f, err := ReadStackFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseWithoutSecrets(stack, f); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}

func TestParseWithoutSecrets(t *testing.T) {
	site := strings.ReplaceAll(strings.TrimSpace(`
config:
  xgen-infra:site:
    services:
      xgen-frontend: {}
      xgen-core: {}
`), "\t", "")
	cases := []struct {
		name  string
		extra string
		want  []string // problems the result must name; none: it resolves
		notIn string   // text the error must not carry
	}{
		{name: "encrypted secrets are not read", extra: `
  xgen-infra:postgresPassword:
    secure: v1:AAAABBBBCCCC
  xgen-infra:kubeconfig:
    secure: v1:DDDDEEEEFFFF`},
		{name: "a missing secret is not a problem", extra: ``},
		{name: "a secret in plain text still is", extra: `
  xgen-infra:postgresPassword: hunter2`, want: []string{"xgen-infra:postgresPassword", "plain text"}, notIn: "hunter2"},
		{name: "an unknown key still is", extra: `
  xgen-infra:namespace: acme`, want: []string{"xgen-infra:namespace", "is not read by this program"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "Pulumi.acme.yaml")
			if err := os.WriteFile(path, []byte(site+tc.extra+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := ReadStackFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range f.Secure {
				if _, ok := f.Config[k]; ok {
					t.Errorf("encrypted %s has a value in Config", k)
				}
			}
			if tc.name == "encrypted secrets are not read" && !slices.Equal(f.Secure, []string{"xgen-infra:kubeconfig", "xgen-infra:postgresPassword"}) {
				t.Errorf("Secure = %v", f.Secure)
			}
			_, err = ParseWithoutSecrets("acme", f)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want a site, got: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error naming %v", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if tc.notIn != "" && strings.Contains(err.Error(), tc.notIn) {
				t.Errorf("error shows the secret's value: %v", err)
			}
		})
	}
	// The same file with secrets read: a missing secret is a problem there (what
	// ParseWithoutSecrets leaves out, and only that).
	path := filepath.Join(t.TempDir(), "Pulumi.acme.yaml")
	if err := os.WriteFile(path, []byte(site+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, _ := ReadStackFile(path)
	if _, err := Parse("acme", f.Config, f.Secure); err == nil || !strings.Contains(err.Error(), "is missing") {
		t.Errorf("Parse of a site without its secrets: want a missing secret, got %v", err)
	}
}
