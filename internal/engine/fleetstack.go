package engine

import (
	"context"
	"io"
	"strings"

	"xgen-infra/internal/pulumiout"
)

// FleetStack is a workspace's stack as the fleet drives it (fleet.Stack and what the day-2
// checks read): the rehearsals, the tests and the benchmarks.
type FleetStack struct {
	WS *Workspace
}

// Name is the stack name.
func (s FleetStack) Name() string { return s.WS.Stack }

// Preview runs `pulumi preview --json` (--refresh for drift).
func (s FleetStack) Preview(ctx context.Context, refresh bool) (*pulumiout.Preview, error) {
	var extra []string
	if refresh {
		extra = append(extra, "--refresh")
	}
	p, _, err := s.WS.Preview(ctx, extra...)
	return p, err
}

// Up runs `pulumi up --yes --skip-preview`.
func (s FleetStack) Up(ctx context.Context) error { _, err := s.WS.Up(ctx); return err }

// Outputs is `pulumi stack output --json` (secrets hidden).
func (s FleetStack) Outputs(ctx context.Context) (map[string]any, error) {
	return s.WS.Outputs(ctx, false)
}

// StackFile is the workspace's stack file.
func (s FleetStack) StackFile() string { return s.WS.StackPath() }

// SecretOutputs are the outputs with secrets shown.
func (s FleetStack) SecretOutputs(ctx context.Context) (map[string]any, error) {
	return s.WS.Outputs(ctx, true)
}

// ConfigSecret is `pulumi config get KEY` ("" when not set).
func (s FleetStack) ConfigSecret(ctx context.Context, key string) (string, error) {
	res, err := s.WS.Run(ctx, nil, "config", "get", key)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return "", nil
		}
		return "", err
	}
	return strings.TrimSuffix(string(res.Stdout), "\n"), nil
}

// Export is `pulumi stack export`.
func (s FleetStack) Export(ctx context.Context) ([]byte, error) { return s.WS.Export(ctx) }

// RunCLI runs the CLI in the workspace; its output goes to out when it ends.
func (s FleetStack) RunCLI(ctx context.Context, out io.Writer, args ...string) error {
	res, err := s.WS.Run(ctx, nil, args...)
	_, _ = out.Write(res.Stdout)
	_, _ = out.Write(res.Stderr)
	return err
}
