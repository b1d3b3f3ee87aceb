// Package engine drives the real Pulumi CLI (the one `make tools` builds into .tools/) on a
// throwaway workspace: a project directory whose Pulumi.yaml is the repository's own with
// `main` pointing back at the program, a copy of one Pulumi.<stack>.yaml, a local file backend,
// a throwaway passphrase and a private PULUMI_HOME. Operators run the same CLI commands by hand;
// the real-engine tests, `make bench` and `make demo` run them through this package.
// Nothing is downloaded: plugin acquisition is off and ambient plugins are ignored.
package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"xgen-infra/internal/pulumiout"

	"gopkg.in/yaml.v3"
)

// Options configure a Workspace.
type Options struct {
	// ToolsDir holds bin/pulumi, bin/pulumi-language-go and pulumi-home/plugins, as
	// tools/install-pulumi.sh lays them out.
	ToolsDir string
	// ProgramDir is the directory of the Pulumi program (the repository root): its Pulumi.yaml
	// is copied and its go build runs there.
	ProgramDir string
	// StackFile is the Pulumi.<stack>.yaml to deploy; the stack is named after it.
	StackFile string
	// Dir is the workspace directory (project, backend, PULUMI_HOME). Created.
	Dir string
	// Binary, if set, is a program binary (absolute path) written into Pulumi.yaml as
	// runtime.options.binary instead of the project's own (tools/program.sh, made absolute).
	Binary string
	// Compile drops runtime.options: the language host compiles the program on every run
	// (plain `runtime: go`), for comparing the two.
	Compile bool
	// ExistingStack skips `pulumi stack init`: the stack already exists in the backend that Env
	// names (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE), e.g. a second workspace on a stack.
	ExistingStack bool
	// Env is added to every command's environment (after the workspace's own variables).
	Env []string
	// Log, if set, receives every command line and its combined output.
	Log io.Writer
}

// Workspace is one stack in a throwaway project directory.
type Workspace struct {
	Stack   string
	Dir     string // the project directory: Pulumi.yaml and Pulumi.<stack>.yaml
	opts    Options
	pulumi  string
	baseEnv []string
}

// New lays out the workspace and creates the stack (`pulumi stack init`).
func New(ctx context.Context, opts Options) (*Workspace, error) {
	for _, p := range []*string{&opts.ToolsDir, &opts.ProgramDir, &opts.StackFile, &opts.Dir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	w := &Workspace{
		Stack:  strings.TrimSuffix(strings.TrimPrefix(filepath.Base(opts.StackFile), "Pulumi."), ".yaml"),
		Dir:    filepath.Join(opts.Dir, "project"),
		opts:   opts,
		pulumi: filepath.Join(opts.ToolsDir, "bin", "pulumi"),
	}
	if _, err := os.Stat(w.pulumi); err != nil {
		return nil, fmt.Errorf("the Pulumi CLI is not built (%w): run `make tools`", err)
	}
	home := filepath.Join(opts.Dir, "pulumi-home")
	backend := filepath.Join(opts.Dir, "backend")
	tmp := filepath.Join(opts.Dir, "tmp")
	for _, d := range []string{w.Dir, home, backend, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	// A private PULUMI_HOME per workspace (credentials, workspace state), sharing the plugins
	// that `make tools` installed.
	if err := os.Symlink(filepath.Join(opts.ToolsDir, "pulumi-home", "plugins"), filepath.Join(home, "plugins")); err != nil {
		return nil, err
	}
	if err := w.writeProject(); err != nil {
		return nil, err
	}
	passphrase, err := randomHex(16)
	if err != nil {
		return nil, err
	}
	w.baseEnv = append(cleanEnv(os.Environ()),
		"PULUMI_HOME="+home,
		"PULUMI_BACKEND_URL=file://"+backend,
		"PULUMI_CONFIG_PASSPHRASE="+passphrase,
		"PULUMI_SKIP_UPDATE_CHECK=true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true",
		"PULUMI_IGNORE_AMBIENT_PLUGINS=true",
		"PULUMI_SKIP_CONFIRMATIONS=true",
		"PULUMI_DEBUG_COMMANDS=true", // enables --event-log, as the Automation API does
		"NO_COLOR=1",
		// The kubernetes provider writes its kubeconfig to a temp file it never removes: keep
		// those inside the workspace, which goes with it.
		"TMPDIR="+tmp,
	)
	w.baseEnv = append(w.baseEnv, opts.Env...) // later entries win
	if !opts.ExistingStack {
		if _, err := w.Run(ctx, nil, "stack", "init", w.Stack); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// cleanEnv drops variables that would point the CLI or the provider elsewhere.
func cleanEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PULUMI_") || name == "KUBECONFIG" || name == "TMPDIR" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// writeProject writes Pulumi.yaml (the program's own, with `main` pointing at the program
// directory and optionally the prebuilt binary) and copies the stack file.
func (w *Workspace) writeProject() error {
	data, err := os.ReadFile(filepath.Join(w.opts.ProgramDir, "Pulumi.yaml"))
	if err != nil {
		return err
	}
	var project map[string]any
	if err := yaml.Unmarshal(data, &project); err != nil {
		return fmt.Errorf("Pulumi.yaml: %w", err)
	}
	main, err := filepath.Rel(w.Dir, w.opts.ProgramDir)
	if err != nil {
		return err
	}
	project["main"] = main
	// runtime.options.binary is relative to the program directory; this project lives elsewhere.
	if runtime, ok := project["runtime"].(map[string]any); ok {
		if options, ok := runtime["options"].(map[string]any); ok {
			if bin, ok := options["binary"].(string); ok && !filepath.IsAbs(bin) {
				options["binary"] = filepath.Join(w.opts.ProgramDir, bin)
			}
		}
	}
	switch {
	case w.opts.Compile:
		project["runtime"] = "go"
	case w.opts.Binary != "":
		project["runtime"] = map[string]any{"name": "go", "options": map[string]any{"binary": w.opts.Binary}}
	}
	out, err := yaml.Marshal(project)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w.Dir, "Pulumi.yaml"), out, 0o600); err != nil {
		return err
	}
	stack, err := os.ReadFile(w.opts.StackFile)
	if err != nil {
		return err
	}
	return os.WriteFile(w.StackPath(), stack, 0o600)
}

// BackendEnv names this workspace's backend and passphrase, for a second workspace on the
// same stack (Options.Env with ExistingStack).
func (w *Workspace) BackendEnv() []string {
	var out []string
	for _, kv := range w.baseEnv {
		if strings.HasPrefix(kv, "PULUMI_BACKEND_URL=") || strings.HasPrefix(kv, "PULUMI_CONFIG_PASSPHRASE=") {
			out = append(out, kv)
		}
	}
	return out
}

// StackPath is the workspace's copy of the stack file (config set writes to it).
func (w *Workspace) StackPath() string {
	return filepath.Join(w.Dir, "Pulumi."+w.Stack+".yaml")
}

// Result is what one CLI command printed.
type Result struct {
	Stdout, Stderr []byte
}

// Error is a CLI command that failed.
type Error struct {
	Args   []string
	Err    error
	Result Result
}

func (e *Error) Error() string {
	return fmt.Sprintf("pulumi %s: %v\n%s%s", strings.Join(e.Args, " "), e.Err,
		tail(e.Result.Stdout, 4000), tail(e.Result.Stderr, 4000))
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return append([]byte("...\n"), b[len(b)-n:]...)
	}
	return b
}

// Run runs `pulumi <args> --stack <stack>` in the project directory with stdin (may be nil).
func (w *Workspace) Run(ctx context.Context, stdin io.Reader, args ...string) (Result, error) {
	if args[0] != "stack" || len(args) < 2 || args[1] != "init" {
		args = append(args, "--stack", w.Stack)
	}
	args = append(args, "--non-interactive")
	cmd := exec.CommandContext(ctx, w.pulumi, args...)
	cmd.Dir = w.Dir
	cmd.Env = w.baseEnv
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		// The CLI was killed: its plugins, which run in process groups of their own, would
		// run on. Nothing of the run goes on, as on a machine that died.
		killUnder(filepath.Join(filepath.Dir(w.Dir), "pulumi-home") + "/")
	}
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if w.opts.Log != nil {
		fmt.Fprintf(w.opts.Log, "$ pulumi %s\n%s%s", strings.Join(args, " "), res.Stdout, res.Stderr)
	}
	if err != nil {
		return res, &Error{Args: args, Err: err, Result: res}
	}
	return res, nil
}

// killUnder kills (SIGKILL) the processes whose program path starts with prefix.
func killUnder(prefix string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil || !strings.HasPrefix(string(data), prefix) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// SetSecret stores a secret as the README tells operators: `pulumi config set --secret <key>`
// with the value on standard input, never on a command line.
func (w *Workspace) SetSecret(ctx context.Context, key, value string) error {
	_, err := w.Run(ctx, strings.NewReader(value), "config", "set", "--secret", key)
	return err
}

// SetPath sets a plain structured value: `pulumi config set --path <path> <value>`.
func (w *Workspace) SetPath(ctx context.Context, path, value string) error {
	_, err := w.Run(ctx, nil, "config", "set", "--path", path, value)
	return err
}

// Preview runs `pulumi preview --json` with extra flags and parses its digest. The Result is
// returned also when the command fails (e.g. --expect-no-changes with changes).
func (w *Workspace) Preview(ctx context.Context, extra ...string) (*pulumiout.Preview, Result, error) {
	res, runErr := w.Run(ctx, nil, append([]string{"preview", "--json"}, extra...)...)
	var p pulumiout.Preview
	if err := json.Unmarshal(res.Stdout, &p); err != nil {
		if runErr != nil {
			return nil, res, runErr
		}
		return nil, res, fmt.Errorf("pulumi preview --json: %w", err)
	}
	return &p, res, runErr
}

// Up runs `pulumi up --yes --skip-preview` with extra flags.
func (w *Workspace) Up(ctx context.Context, extra ...string) (Result, error) {
	return w.Run(ctx, nil, append([]string{"up", "--yes", "--skip-preview"}, extra...)...)
}

// Destroy runs `pulumi destroy --yes --skip-preview`.
func (w *Workspace) Destroy(ctx context.Context, extra ...string) (Result, error) {
	return w.Run(ctx, nil, append([]string{"destroy", "--yes", "--skip-preview"}, extra...)...)
}

// Export is `pulumi stack export`: the stack's state as the backend stores it.
func (w *Workspace) Export(ctx context.Context) ([]byte, error) {
	res, err := w.Run(ctx, nil, "stack", "export")
	return res.Stdout, err
}

// Outputs is `pulumi stack output --json`, with or without --show-secrets.
func (w *Workspace) Outputs(ctx context.Context, showSecrets bool) (map[string]any, error) {
	res, err := w.Run(ctx, nil, "stack", "output", "--json", fmt.Sprintf("--show-secrets=%t", showSecrets))
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := json.Unmarshal(res.Stdout, &out); err != nil {
		return nil, fmt.Errorf("pulumi stack output --json: %w", err)
	}
	return out, nil
}

// Resources lists the URNs the stack's state holds (`pulumi stack export`).
func (w *Workspace) Resources(ctx context.Context) ([]string, error) {
	data, err := w.Export(ctx)
	if err != nil {
		return nil, err
	}
	return pulumiout.StateURNs(data)
}

// RandomSecret returns a distinct throwaway secret value (hex, 24 characters).
func RandomSecret() (string, error) { return randomHex(12) }

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
