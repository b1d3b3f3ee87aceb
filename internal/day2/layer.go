package day2

import (
	"context"
	"fmt"
	"io"
	"strings"

	"xgen-infra/internal/layers"
	"xgen-infra/internal/pulumiout"
	"xgen-infra/sites"
)

// LayerOps are the operations a layer run can be.
var LayerOps = []string{"up", "preview", "destroy"}

// LayerRun is `pulumi <op>` on one layer of a stack.
type LayerRun struct {
	Op    string
	Layer layers.Layer
	// Project is the Pulumi project name (Pulumi.yaml's name).
	Project string
	// Extra are more pulumi flags (--yes, --diff, --event-log ...).
	Extra []string
}

// Args are the pulumi arguments of the run: the layer's --target patterns (with
// --target-dependents for destroy: what depends on a destroyed layer goes with it), then
// Extra. It refuses a layer whose dependencies the stack has never deployed.
func (lr LayerRun) Args(site *sites.Site, stack string, urns []string) ([]string, error) {
	if missing := layers.Missing(lr.Layer, site, urns); len(missing) > 0 {
		var names []string
		for _, m := range missing {
			names = append(names, string(m))
		}
		return nil, fmt.Errorf("site %s: layer %s needs %s, which this stack has never deployed: run `pulumi up` for the whole site first",
			site.Name, lr.Layer, strings.Join(names, " and "))
	}
	runsProgram := lr.Op != "destroy"
	args := []string{lr.Op}
	for _, t := range layers.Targets(stack, lr.Project, lr.Layer, site, urns, runsProgram) {
		args = append(args, "--target", t)
	}
	if lr.Op == "destroy" {
		args = append(args, "--target-dependents")
	}
	return append(args, lr.Extra...), nil
}

// RunLayer runs one layer of a stack: it reads the stack file and the stack's resources,
// refuses a layer whose dependencies were never deployed, prints the targets it chose and
// runs the CLI, its output to out.
func RunLayer(ctx context.Context, st Stack, lr LayerRun, out io.Writer) error {
	site, err := loadSite(st)
	if err != nil {
		return err
	}
	state, err := st.Export(ctx)
	if err != nil {
		return err
	}
	urns, err := pulumiout.StateURNs(state)
	if err != nil {
		return err
	}
	args, err := lr.Args(site, st.Name(), urns)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "site %s, layer %s: pulumi %s with these targets:\n", st.Name(), lr.Layer, lr.Op)
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--target" {
			fmt.Fprintf(out, "  %s\n", args[i+1])
		}
	}
	return st.RunCLI(ctx, out, args...)
}
