package sites

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repositorySites parses every stack file of the repository without its secrets, from the
// project directory (relative paths are the project's), by file name; each failure is the
// test's error.
func repositorySites(t *testing.T) map[string]*Site {
	t.Helper()
	files, err := filepath.Glob("../Pulumi.*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("stack files: %v %v", files, err)
	}
	wd, _ := os.Getwd()
	defer func() { _ = os.Chdir(wd) }()
	if err := os.Chdir(".."); err != nil {
		t.Fatal(err)
	}
	out := map[string]*Site{}
	for _, file := range files {
		file = filepath.Base(file)
		stack := strings.TrimSuffix(strings.TrimPrefix(file, "Pulumi."), ".yaml")
		f, err := ReadStackFile(file)
		if err != nil {
			t.Fatal(err)
		}
		site, err := ParseWithoutSecrets(stack, f)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		out[file] = site
	}
	return out
}

// Every stack file of the repository resolves without its secrets: the form cmd/images and
// status read a site in.
func TestRepositoryStackFilesParseWithoutSecrets(t *testing.T) {
	repositorySites(t)
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

// TestStackFilesRunTheTestedKubernetes: every K3s stack file pins the Kubernetes minor the
// tests' API server is built from (K8S_VERSION), so nothing is validated against another
// Kubernetes than the sites run. Moving one means moving the other.
func TestStackFilesRunTheTestedKubernetes(t *testing.T) {
	tested := toolVersions(t)["K8S_VERSION"]
	minor := func(v string) string { // "v1.36.1+k3s1" -> "1.36"
		parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
		if len(parts) < 2 {
			return ""
		}
		return parts[0] + "." + parts[1]
	}
	if minor(tested) == "" {
		t.Fatalf("tools/versions.env: K8S_VERSION %q", tested)
	}
	k3sSites := 0
	for file, site := range repositorySites(t) {
		if site.Config.Cluster == nil {
			continue // EKS: its Kubernetes is the cluster's
		}
		k3sSites++
		if v := site.Config.Cluster.K3s.Version; minor(v) != minor(tested) {
			t.Errorf("%s: cluster.k3s.version %s is Kubernetes %s, but the tests' API server is %s (tools/versions.env K8S_VERSION): move them together",
				file, v, minor(v), tested)
		}
	}
	if k3sSites < 3 {
		t.Errorf("%d K3s stack files, want xgen, xgen-jeju and lotteimall at least", k3sSites)
	}
}

// TestStackFileReferencesResolve: a stack file's comment that sends the reader to a section
// (`docs/x.md "Heading"`, README "Heading") names a file that has it, as a heading or a bold
// paragraph title, so moved documentation does not leave dead pointers behind.
func TestStackFileReferencesResolve(t *testing.T) {
	files, err := filepath.Glob("../Pulumi.*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("stack files: %v %v", files, err)
	}
	ref := regexp.MustCompile(`(README|docs/[a-z0-9-]+\.md) "([^"]+)"`)
	found := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ref.FindAllStringSubmatch(string(data), -1) {
			found++
			doc := m[1]
			if doc == "README" {
				doc = "README.md"
			}
			text, err := os.ReadFile(filepath.Join("..", doc))
			if err != nil {
				t.Errorf("%s points at %s, which is missing", filepath.Base(file), doc)
				continue
			}
			heading := regexp.MustCompile(`(?m)^(#+ ` + regexp.QuoteMeta(m[2]) + `\s*$|\*\*` + regexp.QuoteMeta(m[2]) + `\.?\*\*)`)
			if !heading.Match(text) {
				t.Errorf("%s points at %s %q, which has no such section", filepath.Base(file), doc, m[2])
			}
		}
	}
	if found == 0 {
		t.Error("no reference found: the pattern is stale")
	}
}
