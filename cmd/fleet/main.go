// Command fleet shows and rolls out every site at once: `fleet preview` (site × change
// matrix, DANGER flags), `fleet drift`, `fleet versions`, `fleet status` (every site's
// health, a line each: see cmd/site), `fleet up --waves a,b:c`, `fleet rollout` (the waves
// and holds of fleet.yaml: what a merge to main runs). It runs
// the operator's `pulumi` CLI per stack, in parallel with a bound. It is not part of the
// Pulumi program's binary.
//
// Exit codes: 0 fine; 1 a failure (status: a site unreachable); 2 drift found (status: a
// site degraded); 3 DANGER not acknowledged
// (--ack-danger or FLEET_ACK_DANGER=true acknowledges it).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"

	"xgen-infra/internal/day2"
	"xgen-infra/internal/fleet"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitDrift  = 2
	exitDanger = 3
)

const usage = `usage: fleet [flags] preview|drift|versions|status|up --waves a,b:c|rollout

  preview   pulumi preview per stack: site × change matrix, DANGER flags (exit 3 unless acknowledged)
  drift     pulumi preview --refresh per stack: what differs from the live resources (exit 2)
  versions  service × site image tags from each stack's outputs
  status    every site's health, a line each (site status for one site's details; no drift check)
  up        staged rollout: --waves a,b:c (a and b, then c); each site must converge and be healthy
            (site status), else no later wave runs
  rollout   up with the waves of fleet.yaml, without its held sites (what a merge to main runs)

flags:
`

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil))
}

// run is the command; newStack makes a stack by name (nil: the pulumi CLI in --dir).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, newStack func(name, dir string) fleet.Stack) int {
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "the Pulumi project directory")
	stackList := fs.String("stacks", "", "comma-separated stacks (default: every Pulumi.<stack>.yaml in --dir)")
	parallel := fs.Int("parallel", 4, "stacks run at once")
	markdown := fs.Bool("markdown", false, "print markdown (a merge-request comment)")
	ack := fs.Bool("ack-danger", os.Getenv("FLEET_ACK_DANGER") == "true", "acknowledge DANGER (exit 0 with it)")
	waves := fs.String("waves", "", "up: waves of stacks, e.g. xgen-jeju:lotteimall,xgen")
	planFile := fs.String("plan", "", "rollout: the plan (default: fleet.yaml in --dir)")
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	// Flags may come before or after the command.
	var cmd string
	var rest []string
	for _, a := range args {
		if cmd == "" && !strings.HasPrefix(a, "-") && (len(rest) == 0 || !needsValue(rest[len(rest)-1])) {
			cmd = a
			continue
		}
		rest = append(rest, a)
	}
	if err := fs.Parse(rest); err != nil {
		return exitFailed
	}
	if cmd == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitFailed
	}
	if !slices.Contains([]string{"preview", "drift", "versions", "status", "up", "rollout"}, cmd) {
		fmt.Fprintf(stderr, "fleet: unknown command %q\n", cmd)
		fs.Usage()
		return exitFailed
	}
	names, err := fleet.StackNames(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "fleet:", err)
		return exitFailed
	}
	var plan *fleet.Plan
	if cmd == "rollout" { // checked against every stack of the project, before --stacks narrows it
		if *planFile == "" {
			*planFile = filepath.Join(*dir, fleet.PlanFile)
		}
		if plan, err = fleet.LoadPlan(*planFile, names); err != nil {
			fmt.Fprintln(stderr, "fleet rollout:", err)
			return exitFailed
		}
	}
	if *stackList != "" {
		var picked []string
		for _, s := range strings.Split(*stackList, ",") {
			if !slices.Contains(names, s) {
				fmt.Fprintf(stderr, "fleet: no stack %s in %s (stacks: %s)\n", s, *dir, strings.Join(names, ", "))
				return exitFailed
			}
			picked = append(picked, s)
		}
		names = picked
	}
	if newStack == nil {
		newStack = func(name, dir string) fleet.Stack { return fleet.CLIStack{Stack: name, Dir: dir} }
	}
	var ordered []fleet.Stack
	if cmd != "up" && cmd != "rollout" { // those make only the stacks their waves name
		for _, n := range names {
			ordered = append(ordered, newStack(n, *dir))
		}
	}

	switch cmd {
	case "preview", "drift":
		reports := fleet.PreviewAll(ctx, ordered, *parallel, cmd == "drift")
		fmt.Fprint(stdout, fleet.Matrix(reports, *markdown))
		code := exitOK
		for _, r := range reports {
			switch {
			case r.Err != "":
				code = exitFailed
			case cmd == "drift" && r.Drifted() && code == exitOK:
				fmt.Fprintf(stdout, "DRIFT %s: %s would change to match the program\n", r.Site, plural(r.Changed(), "resource"))
				code = exitDrift
			case cmd == "preview" && len(r.Dangers) > 0 && !*ack && code == exitOK:
				code = exitDanger
			}
		}
		if code == exitDanger {
			fmt.Fprintln(stdout, "DANGER not acknowledged: review it, then rerun with --ack-danger (FLEET_ACK_DANGER=true; in a merge request, the label danger-acknowledged)")
		}
		return code
	case "status":
		return status(ctx, ordered, *parallel, stdout)
	case "versions":
		versions, failed := fleet.Versions(ctx, ordered, *parallel)
		fmt.Fprint(stdout, fleet.VersionsTable(versions, *markdown))
		for site, why := range failed {
			fmt.Fprintf(stdout, "FAILED %s: %s\n", site, why)
		}
		if len(failed) > 0 {
			return exitFailed
		}
		return exitOK
	case "rollout":
		planned, held := plan.Rollout()
		for _, s := range held {
			fmt.Fprintf(stdout, "held: %s (%s)\n", s, plan.Hold[s])
		}
		var w [][]string
		for _, wave := range planned { // --stacks narrows the rollout to those stacks
			var picked []string
			for _, s := range wave {
				if slices.Contains(names, s) {
					picked = append(picked, s)
				}
			}
			if len(picked) > 0 {
				w = append(w, picked)
			}
		}
		return up(ctx, w, *dir, *parallel, newStack, stdout)
	default: // up
		if *waves == "" {
			fmt.Fprintln(stderr, "fleet up: --waves is required, e.g. --waves xgen-jeju:lotteimall,xgen")
			return exitFailed
		}
		w, err := fleet.ParseWaves(*waves, names)
		if err != nil {
			fmt.Fprintln(stderr, "fleet up:", err)
			return exitFailed
		}
		return up(ctx, w, *dir, *parallel, newStack, stdout)
	}
}

// up rolls the waves out (fleet.Up), each site health-checked by its `site status` verdict
// after it converged, and prints what was rolled, what failed and what was not rolled.
func up(ctx context.Context, waves [][]string, dir string, parallel int, newStack func(name, dir string) fleet.Stack, stdout io.Writer) int {
	var w [][]fleet.Stack
	for _, wave := range waves {
		var ss []fleet.Stack
		for _, n := range wave {
			ss = append(ss, newStack(n, dir))
		}
		w = append(w, ss)
	}
	r := fleet.Up(ctx, w, parallel, healthy)
	fmt.Fprintf(stdout, "rolled: %s\n", list(r.Rolled))
	for site, why := range r.Failed {
		fmt.Fprintf(stdout, "failed: %s (%s)\n", site, why)
	}
	fmt.Fprintf(stdout, "not rolled: %s\n", list(r.NotRolled))
	if len(r.Failed) > 0 {
		return exitFailed
	}
	return exitOK
}

func needsValue(flagArg string) bool {
	name := strings.TrimLeft(flagArg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	return slices.Contains([]string{"dir", "stacks", "parallel", "waves", "plan"}, name)
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// healthy is a site's `site status` verdict after its up: anything but healthy stops the
// rollout, naming the problems. A stack that cannot be read for a status (the unit tests'
// canned stacks; every real stack can) is not checked.
func healthy(ctx context.Context, s fleet.Stack) error {
	ds, ok := s.(day2.Stack)
	if !ok {
		return nil
	}
	r, err := day2.Gather(ctx, ds, day2.Options{})
	if err != nil {
		return fmt.Errorf("site status: %w", err)
	}
	if r.Verdict != day2.Healthy {
		return fmt.Errorf("site status %s: %s", strings.ToUpper(r.Verdict), strings.Join(r.Problems, "; "))
	}
	return nil
}

// status gathers every site's health (no drift check: `fleet drift` is that) and prints a
// table; the exit code is the worst site's: 1 unreachable, 2 degraded.
func status(ctx context.Context, stacks []fleet.Stack, parallel int, stdout io.Writer) int {
	reports := make([]*day2.Report, len(stacks))
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i, s := range stacks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ds, ok := s.(day2.Stack)
			if !ok {
				reports[i] = &day2.Report{Site: s.Name(), Verdict: day2.Unreachable, Problems: []string{"this stack cannot be read for a status"}}
				return
			}
			r, err := day2.Gather(ctx, ds, day2.Options{})
			if err != nil {
				r = &day2.Report{Site: s.Name(), Verdict: day2.Unreachable, Problems: []string{err.Error()}}
			}
			reports[i] = r
		}()
	}
	wg.Wait()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tVERDICT\tPROBLEMS")
	code := exitOK
	for _, r := range reports {
		problems := "-"
		if len(r.Problems) > 0 {
			problems = strings.Join(r.Problems, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Site, strings.ToUpper(r.Verdict), problems)
		switch c := day2.ExitCode(r.Verdict); {
		case c == 1:
			code = exitFailed
		case c == 2 && code == exitOK:
			code = exitDrift
		}
	}
	_ = tw.Flush()
	return code
}
