package buildstamp

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func write(t *testing.T, root, path, content string) {
	t.Helper()
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestComputeSeesEveryInputChange: an edit, a new or a removed file among the build's inputs
// changes the digest; tests, docs and stack files do not.
func TestComputeSeesEveryInputChange(t *testing.T) {
	inputs := []Input{{'f', "go.mod"}, {'g', "."}, {'g', "pkg"}, {'a', "pkg/scripts"}}
	for _, tc := range []struct {
		name    string
		change  func(t *testing.T, root string)
		changed bool
	}{
		{"edit a go file", func(t *testing.T, r string) { write(t, r, "pkg/a.go", "package pkg // edited\n") }, true},
		{"new go file in a package", func(t *testing.T, r string) { write(t, r, "pkg/b.go", "package pkg\n") }, true},
		{"removed go file", func(t *testing.T, r string) { os.Remove(filepath.Join(r, "pkg/a.go")) }, true},
		{"edit go.mod", func(t *testing.T, r string) { write(t, r, "go.mod", "module m\n\ngo 1.26\n") }, true},
		{"new embedded script", func(t *testing.T, r string) { write(t, r, "pkg/scripts/y.sh", "echo y\n") }, true},
		{"edit an embedded script", func(t *testing.T, r string) { write(t, r, "pkg/scripts/x.sh", "echo z\n") }, true},
		{"new test file", func(t *testing.T, r string) { write(t, r, "pkg/b_test.go", "package pkg\n") }, false},
		{"edit a test file", func(t *testing.T, r string) { write(t, r, "pkg/a_test.go", "package pkg // more\n") }, false},
		{"edit the README", func(t *testing.T, r string) { write(t, r, "README.md", "# more\n") }, false},
		{"edit a stack file", func(t *testing.T, r string) { write(t, r, "Pulumi.s.yaml", "config: {}\n") }, false},
		{"nothing", func(t *testing.T, r string) {}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for path, content := range map[string]string{
				"go.mod": "module m\n", "main.go": "package main\n", "pkg/a.go": "package pkg\n",
				"pkg/a_test.go": "package pkg\n", "pkg/scripts/x.sh": "echo x\n", "README.md": "# m\n",
				"Pulumi.s.yaml": "config: {a: 1}\n",
			} {
				write(t, root, path, content)
			}
			before, err := Compute(root, inputs)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(t, root)
			after, err := Compute(root, inputs)
			if err != nil {
				t.Fatal(err)
			}
			if (before != after) != tc.changed {
				t.Errorf("digest changed: %v, want %v", before != after, tc.changed)
			}
		})
	}
}

func TestParseInputsRoundTrip(t *testing.T) {
	in := []Input{{'f', "go.mod"}, {'g', "stack"}, {'a', "components/k3s/scripts"}}
	got, err := ParseInputs(Join(in))
	if err != nil || !slices.Equal(got, in) {
		t.Errorf("ParseInputs(Join(%v)) = %v, %v", in, got, err)
	}
	for _, bad := range []string{"x:go.mod", "f:", "go.mod", "fg:x"} {
		if _, err := ParseInputs(bad); err == nil {
			t.Errorf("ParseInputs(%q) accepted", bad)
		}
	}
}

// TestInputsOfTheProgram: the program's own inputs, from go list: its packages and embedded
// scripts, go.mod and go.sum; no test kit and nothing outside the module.
func TestInputsOfTheProgram(t *testing.T) {
	root := moduleRoot(t)
	cmd := exec.Command("go", "list", "-deps", "-json=Dir,EmbedFiles,Module", ".")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := InputsFromGoList(root, out)
	if err != nil {
		t.Fatal(err)
	}
	joined := Join(inputs)
	for _, want := range []string{"f:go.mod", "f:go.sum", "g:.", "g:stack", "g:sites", "g:components", "a:components/k3s/scripts", "g:internal/buildstamp"} {
		if !strings.Contains(";"+joined+";", ";"+want+";") {
			t.Errorf("inputs lack %s: %s", want, joined)
		}
	}
	for _, not := range []string{"internal/testkit/harness", "internal/testkit/testhosts", "internal/engine", "cmd/", "third_party", "/root/go"} {
		if strings.Contains(joined, not) {
			t.Errorf("inputs hold %s: %s", not, joined)
		}
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestProgramLauncher: tools/program.sh (what Pulumi.yaml runs) on a copy of the checkout:
// a missing binary is built; a current one is run as it is; after an edit the binary refuses to
// run by itself, naming the command that rebuilds it, and the launcher rebuilds it first.
func TestProgramLauncher(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	src := moduleRoot(t)
	root := t.TempDir()
	copyCheckout(t, src, root)
	bin := filepath.Join(root, ".build", "xgen-infra")
	launch := func() (string, error) {
		cmd := exec.Command("sh", filepath.Join(root, "tools", "program.sh"), "--check-sources")
		cmd.Dir = t.TempDir() // the language host's working directory is not the checkout's
		cmd.Env = append(os.Environ(), RootEnv+"=/nonexistent")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		return stderr.String(), err
	}

	// Missing: built, then run.
	stderr, err := launch()
	if err != nil || !strings.Contains(stderr, "building the program") {
		t.Fatalf("first run: %v\n%s", err, stderr)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatal(err)
	}
	// Current: run as it is.
	if stderr, err = launch(); err != nil || stderr != "" {
		t.Errorf("second run: %v, stderr %q: want a quiet run of the existing binary", err, stderr)
	}
	// An edit: the binary refuses by itself; the launcher rebuilds.
	f, err := os.OpenFile(filepath.Join(root, "stack", "program.go"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("\n// an edit after the build\n")
	f.Close()
	direct := func() *exec.Cmd {
		cmd := exec.Command(bin, "--check-sources")
		cmd.Env = append(os.Environ(), RootEnv+"="+root)
		return cmd
	}
	out, err := direct().CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || !strings.Contains(string(out), "run `make build`") {
		t.Errorf("the stale binary run by itself: %v\n%s", err, out)
	}
	if stderr, err = launch(); err != nil || !strings.Contains(stderr, "building the program") {
		t.Errorf("run after the edit: %v\n%s", err, stderr)
	}
	if out, err := direct().CombinedOutput(); err != nil {
		t.Errorf("the rebuilt binary: %v\n%s", err, out)
	}
}

// copyCheckout copies the module's sources (not the build outputs, tools or rendered files).
func copyCheckout(t *testing.T, src, dst string) {
	t.Helper()
	skip := map[string]bool{".git": true, ".tools": true, ".build": true, ".harness": true, "rendered": true, "third_party": true}
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if skip[rel] {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil || info.Size() > 4<<20 { // no built binaries
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
