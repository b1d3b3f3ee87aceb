// Command site is the day-2 tool for one site, what the old setup-k3s.sh's modes were:
//
//	site status                         hosts, nodes, services, the compose infra, the ingress
//	                                    and drift, with one verdict line (exit 0 healthy,
//	                                    2 degraded, 1 unreachable); --json for scripts
//	site up|preview|destroy --layer L   one layer (hosts, infra, addons, apps, ingress) through
//	                                    `pulumi --target`, refused if what it needs was never
//	                                    deployed; flags after -- go to pulumi
//	site migrate-check --kubeconfig F   before the switch-over from the seeds' system
//	                                    (docs/migration.md): ArgoCD no longer syncs the site,
//	                                    the compose data directory is free; the old volumes
//	site rehearse [--base main]         the site's shape as local test hosts under the real
//	                                    engine: main, then the working tree's change; what
//	                                    changed, which host commands ran, the apps, the status
//	                                    (needs root and `make tools`)
//
// It runs the operator's `pulumi` CLI on the stack (`fleet status` is every site's status as
// a table). It is not part of the Pulumi program's binary.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"xgen-infra/internal/day2"
	"xgen-infra/internal/fleet"
	"xgen-infra/internal/layers"
	"xgen-infra/internal/rehearse"
)

const usage = `usage: site [flags] status
       site [flags] up|preview|destroy --layer hosts|infra|addons|apps|ingress [-- pulumi flags]
       site [flags] migrate-check --kubeconfig FILE [--old-project k3s-infra]
       site [flags] rehearse [--base main] [--hold]

  status    the site at a glance; exit 0 healthy, 2 degraded, 1 unreachable
  up, preview, destroy --layer L
            one layer of the site (pulumi --target); destroy takes what depends on it too
  migrate-check
            before switching a site that runs the seeds' system over (docs/migration.md):
            exit 0 ready, 2 not yet (each problem says what to do), 1 the check failed
  rehearse  the site's hosts (names, roles, GPU flags, compose host, add-ons, closed or
            online) as local test hosts, under the real engine: --base deployed first, then
            the working tree; reports what changed, the host commands, the times, the apps and
            site status; everything is stopped at the end or on Ctrl-C. Needs root.
            exit 0 passed, 2 the site failed (see the report), 1 the rehearsal could not run

flags:
`

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil))
}

// run is the command; stackFor makes the stack (nil: the pulumi CLI in --dir).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, stackFor func(name, dir string) day2.Stack) int {
	fs := flag.NewFlagSet("site", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "the Pulumi project directory")
	stack := fs.String("stack", "", "the site's stack (default: the only Pulumi.<stack>.yaml in --dir)")
	asJSON := fs.Bool("json", false, "status: print the report as JSON")
	drift := fs.Bool("drift", true, "status: run a refreshed preview to count drift (the slowest check)")
	probe := fs.Bool("probe", true, "status: send one HTTP request to the site's entry (gateway or node port)")
	layer := fs.String("layer", "", "up|preview|destroy: the layer to run")
	kubeconfig := fs.String("kubeconfig", "", "migrate-check: the running (old) cluster's kubeconfig file")
	oldProject := fs.String("old-project", "k3s-infra", "migrate-check: the old compose project's name (its volumes are the data to move)")
	base := fs.String("base", "main", "rehearse: the git revision deployed first (empty: only the working tree)")
	hold := fs.Bool("hold", false, "rehearse: keep the rehearsed site up after the report until Ctrl-C")
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }

	var passThrough []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, passThrough = args[:i], args[i+1:]
	}
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
		return 1
	}
	if cmd == "" || fs.NArg() > 0 || (cmd != "status" && cmd != "migrate-check" && cmd != "rehearse" && !slices.Contains(day2.LayerOps, cmd)) {
		fs.Usage()
		return 1
	}
	name := *stack
	if name == "" {
		names, err := fleet.StackNames(*dir)
		if err != nil {
			fmt.Fprintln(stderr, "site:", err)
			return 1
		}
		if len(names) != 1 {
			fmt.Fprintf(stderr, "site: --stack is required: %s has %s\n", *dir, strings.Join(names, ", "))
			return 1
		}
		name = names[0]
	}
	if cmd == "rehearse" {
		return rehearseSite(ctx, filepath.Join(*dir, "Pulumi."+name+".yaml"), *dir, *base, *hold, stdout, stderr)
	}
	if stackFor == nil {
		stackFor = func(name, dir string) day2.Stack { return fleet.CLIStack{Stack: name, Dir: dir} }
	}
	st := stackFor(name, *dir)
	if _, err := os.Stat(st.StackFile()); err != nil {
		fmt.Fprintf(stderr, "site: no stack file for %s: %v\n", name, err)
		return 1
	}

	if cmd == "status" {
		progress := stderr
		if *asJSON {
			progress = io.Discard
		}
		r, err := day2.Gather(ctx, st, day2.Options{Drift: *drift, Probe: *probe, Progress: progress})
		if err != nil {
			fmt.Fprintln(stderr, "site status:", err)
			return 1
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(r)
		} else {
			r.Write(stdout)
		}
		return day2.ExitCode(r.Verdict)
	}

	if cmd == "migrate-check" {
		return migrateCheck(ctx, st, *kubeconfig, *oldProject, *asJSON, stdout, stderr)
	}

	l, err := layers.Parse(*layer)
	if err != nil {
		fmt.Fprintf(stderr, "site %s: --layer: %v\n", cmd, err)
		return 1
	}
	project, err := projectName(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "site:", err)
		return 1
	}
	if err := day2.RunLayer(ctx, st, day2.LayerRun{Op: cmd, Layer: l, Project: project, Extra: passThrough}, stdout); err != nil {
		fmt.Fprintf(stderr, "site %s --layer %s: %v\n", cmd, l, err)
		return 1
	}
	return 0
}

// projectName is the name in the project's Pulumi.yaml (the URNs carry it).
func projectName(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return "", err
	}
	var p struct {
		Name string `yaml:"name"`
	}
	if err := yaml.Unmarshal(data, &p); err != nil || p.Name == "" {
		return "", fmt.Errorf("%s/Pulumi.yaml has no project name (%v)", dir, err)
	}
	return p.Name, nil
}

func needsValue(flagArg string) bool {
	name := strings.TrimLeft(flagArg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	return slices.Contains([]string{"dir", "stack", "layer", "kubeconfig", "old-project", "base"}, name)
}

// migrateCheck is `site migrate-check`: the running cluster through its kubeconfig file, the
// compose host over SSH as the program reaches it.
func migrateCheck(ctx context.Context, st day2.Stack, kubeconfig, oldProject string, asJSON bool, stdout, stderr io.Writer) int {
	if kubeconfig == "" {
		fmt.Fprintln(stderr, "site migrate-check: --kubeconfig is required: the running cluster's (on a K3s server: /etc/rancher/k3s/k3s.yaml, its server address made reachable)")
		return 1
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fmt.Fprintln(stderr, "site migrate-check: --kubeconfig:", err)
		return 1
	}
	kube, err := dynamic.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "site migrate-check:", err)
		return 1
	}
	r, err := day2.MigrateCheck(ctx, st, kube, oldProject)
	if err != nil {
		fmt.Fprintln(stderr, "site migrate-check:", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r)
	} else {
		for _, a := range r.Applications {
			fmt.Fprintf(stdout, "argocd application %s/%s -> %s, auto-sync %v\n", a.Namespace, a.Name, a.Destination, a.AutoSync)
		}
		if r.DataDir != "" {
			fmt.Fprintf(stdout, "compose data directory %s: %s\n", r.DataDir, r.DataDirState)
		}
		for _, v := range r.OldVolumes {
			fmt.Fprintf(stdout, "old volume %s (kept after the migration)\n", v)
		}
		for _, p := range r.Problems {
			fmt.Fprintln(stdout, "NOT READY:", p)
		}
		if len(r.Problems) == 0 {
			fmt.Fprintln(stdout, "ready for the switch-over")
		}
	}
	if len(r.Problems) > 0 {
		return 2
	}
	return 0
}

// rehearseSite is `site rehearse`.
func rehearseSite(ctx context.Context, stackFile, dir, base string, hold bool, stdout, stderr io.Writer) int {
	tools := os.Getenv("XGEN_TOOLS_DIR")
	if tools == "" {
		tools = filepath.Join(dir, ".tools")
	}
	opts := rehearse.Options{StackFile: stackFile, Base: base, ProgramDir: dir, ToolsDir: tools,
		Dir: filepath.Join(dir, ".harness", "rehearse", strings.TrimSuffix(strings.TrimPrefix(filepath.Base(stackFile), "Pulumi."), ".yaml")), Out: stdout}
	if hold {
		opts.Hold = func(ctx context.Context, r *rehearse.Report) {
			r.Write(stdout)
			fmt.Fprintln(stdout, "\nThe rehearsed site stays up: press Ctrl-C to destroy it and stop the hosts.")
			<-ctx.Done()
		}
	}
	r, err := rehearse.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "site rehearse:", err)
		return 1
	}
	if !hold { // held: written before the wait
		r.Write(stdout)
	}
	if !r.OK() {
		return 2
	}
	return 0
}
