package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"xgen-infra/internal/pulumiout"
)

// CLIStack drives a stack with the operator's `pulumi` CLI in the project directory, with
// the ambient backend, credentials and secrets provider.
type CLIStack struct {
	// Stack name; Dir the project directory; Pulumi the CLI (default "pulumi").
	Stack, Dir, Pulumi string
}

// Name is the stack name.
func (s CLIStack) Name() string { return s.Stack }

func (s CLIStack) run(ctx context.Context, args ...string) ([]byte, error) {
	bin := s.Pulumi
	if bin == "" {
		bin = "pulumi"
	}
	// The kubernetes provider writes the kubeconfig it is given (cluster-admin credentials on
	// a K3s site) to a temp file that it never removes: each run gets a private TMPDIR,
	// removed when the run ends.
	tmp, err := os.MkdirTemp("", "fleet-"+s.Stack+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, bin, append(args, "--stack", s.Stack, "--non-interactive")...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("pulumi %s --stack %s: %v: %s", strings.Join(args, " "), s.Stack, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Preview runs `pulumi preview --json` (--refresh for drift).
func (s CLIStack) Preview(ctx context.Context, refresh bool) (*pulumiout.Preview, error) {
	args := []string{"preview", "--json"}
	if refresh {
		args = append(args, "--refresh")
	}
	out, runErr := s.run(ctx, args...)
	var p pulumiout.Preview
	if err := json.Unmarshal(out, &p); err != nil {
		if runErr != nil {
			return nil, runErr
		}
		return nil, fmt.Errorf("pulumi preview --json --stack %s: %w", s.Stack, err)
	}
	return &p, runErr
}

// StackFile is the stack's Pulumi.<stack>.yaml in the project directory.
func (s CLIStack) StackFile() string { return filepath.Join(s.Dir, "Pulumi."+s.Stack+".yaml") }

// SecretOutputs is `pulumi stack output --json --show-secrets` (kept in memory, never
// printed: the kubeconfig).
func (s CLIStack) SecretOutputs(ctx context.Context) (map[string]any, error) {
	out, err := s.run(ctx, "stack", "output", "--json", "--show-secrets")
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	return m, json.Unmarshal(out, &m)
}

// ConfigSecret is `pulumi config get KEY` ("" when the key is not set).
func (s CLIStack) ConfigSecret(ctx context.Context, key string) (string, error) {
	out, err := s.run(ctx, "config", "get", key)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return "", nil
		}
		return "", err
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

// Export is `pulumi stack export`.
func (s CLIStack) Export(ctx context.Context) ([]byte, error) { return s.run(ctx, "stack", "export") }

// RunCLI runs `pulumi ARGS --stack S` with its output streamed to out (the CLI's own
// progress), in a private TMPDIR as every run here.
func (s CLIStack) RunCLI(ctx context.Context, out io.Writer, args ...string) error {
	bin := s.Pulumi
	if bin == "" {
		bin = "pulumi"
	}
	tmp, err := os.MkdirTemp("", "site-"+s.Stack+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, bin, append(args, "--stack", s.Stack)...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.Stdin = os.Stdin
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pulumi %s --stack %s: %w", args[0], s.Stack, err)
	}
	return nil
}

// Up runs `pulumi up --yes --skip-preview`.
func (s CLIStack) Up(ctx context.Context) error {
	_, err := s.run(ctx, "up", "--yes", "--skip-preview")
	return err
}

// Outputs is `pulumi stack output --json`.
func (s CLIStack) Outputs(ctx context.Context) (map[string]any, error) {
	out, err := s.run(ctx, "stack", "output", "--json")
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	return m, json.Unmarshal(out, &m)
}

// StackNames lists the stacks of a project directory: its Pulumi.<stack>.yaml files.
func StackNames(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "Pulumi.*.yaml"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml"))
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("no Pulumi.<stack>.yaml in %s", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "Pulumi.yaml")); err != nil {
		return nil, fmt.Errorf("%s is not a Pulumi project (no Pulumi.yaml)", dir)
	}
	return names, nil
}
