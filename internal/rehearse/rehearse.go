// Package rehearse replays a site on this machine under the real engine (`site rehearse`,
// `make demo`): its shape — the hosts with their names, roles, GPU flags, labels and taints,
// the compose host, the add-ons, a closed network or an online one — as bare local test
// hosts (internal/testkit/testhosts: K3s is the TEST-ONLY stand-in, Docker the real engine
// with the test images, a closed site's images only through its image bundle). It deploys
// what a base revision (main) has, then the working tree's change, and reports what changed,
// which host commands ran, how long each took, whether every app went Available and what
// `site status` says. Everything it starts is stopped at the end or on Ctrl-C. Needs root
// (network and mount namespaces) and `make tools`. Not linked into the Pulumi program.
package rehearse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"gopkg.in/yaml.v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"xgen-infra/components/compose"
	"xgen-infra/internal/day2"
	"xgen-infra/internal/engine"
	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/pulumiout"
	"xgen-infra/internal/testkit/harness"
	"xgen-infra/internal/testkit/helmrender"
	"xgen-infra/internal/testkit/testhosts"
	"xgen-infra/internal/testkit/testimages"
	"xgen-infra/sites"
	"xgen-infra/stack"
)

// Options of a rehearsal.
type Options struct {
	// StackFile is the working tree's Pulumi.<site>.yaml.
	StackFile string
	// Base is the git revision deployed first (its program and its stack file), e.g. "main";
	// empty, or a revision without this stack file: only the working tree is deployed.
	Base string
	// ProgramDir is the working tree (the repository root). Default ".".
	ProgramDir string
	// ToolsDir is where `make tools` built the tools. Default .tools.
	ToolsDir string
	// Dir is the rehearsal's scratch directory (hosts, engine workspace, base checkout).
	Dir string
	// Out receives progress lines (nil: none).
	Out io.Writer
	// Hold, when set, is called with the report before everything is stopped (the CLI waits
	// there for Ctrl-C when asked to keep the site up for a look).
	Hold func(ctx context.Context, r *Report)
}

// Deploy is one `pulumi up` of the rehearsal.
type Deploy struct {
	What     string // "main (1a2b3c4)", "working tree"
	Duration time.Duration
	// Changed are the resources the update changed ("create kubernetes:apps/v1:Deployment
	// xgen-core"), host commands not included.
	Changed []string
	// HostCommands are the remote commands that ran ("create install-xgen-1").
	HostCommands []string
	Err          error
}

// Report is what a rehearsal found.
type Report struct {
	Site    string
	Hosts   []string // "xgen-1 server 198.18.7.10 gpu"
	Closed  bool
	Deploys []Deploy
	// Apps is nil when every app Deployment of the site went Available after the last deploy.
	Apps error
	// Status is `site status`'s verdict line after the last deploy; Healthy its verdict.
	Status  string
	Healthy bool
	// Backup is what the compose project's nightly backup job did when the rehearsal ran it
	// once (a site's first night), "" when the site has none; BackupErr its failure.
	Backup    string
	BackupErr error
	// Unchanged: the working tree is the base revision (program and stack file): its deploy
	// must change nothing and run no host command, or the program does not converge.
	Unchanged bool
	Total     time.Duration
}

// Problems are what makes the rehearsal fail: a deploy that failed, apps not Available, a
// site not healthy, work done by a deploy that had nothing to do.
func (r *Report) Problems() []string {
	var out []string
	for _, d := range r.Deploys {
		if d.Err != nil {
			out = append(out, fmt.Sprintf("%s: pulumi up failed: %v", d.What, d.Err))
		}
	}
	if len(r.Deploys) == 0 {
		return append(out, "nothing was deployed")
	}
	if last := r.Deploys[len(r.Deploys)-1]; r.Unchanged && len(r.Deploys) > 1 && (len(last.Changed) > 0 || len(last.HostCommands) > 0) {
		out = append(out, fmt.Sprintf("%s is the base revision, but its deploy changed %d resources and ran %d host commands: the program does not converge",
			last.What, len(last.Changed), len(last.HostCommands)))
	}
	if r.Apps != nil {
		out = append(out, fmt.Sprintf("apps: %v", r.Apps))
	}
	if r.BackupErr != nil {
		out = append(out, fmt.Sprintf("the nightly backup: %v", r.BackupErr))
	}
	if !r.Healthy {
		out = append(out, "site status: "+r.Status)
	}
	return out
}

// OK says whether the rehearsal passed (no Problems).
func (r *Report) OK() bool { return len(r.Problems()) == 0 }

// Write prints the report.
func (r *Report) Write(w io.Writer) {
	network := "online"
	if r.Closed {
		network = "closed (images only from its bundle)"
	}
	fmt.Fprintf(w, "\nrehearsal of %s (%s network), %s in all\n", r.Site, network, r.Total.Round(time.Second))
	for _, h := range r.Hosts {
		fmt.Fprintf(w, "  host %s\n", h)
	}
	for i, d := range r.Deploys {
		result := "ok"
		if d.Err != nil {
			result = "FAILED: " + d.Err.Error()
		}
		fmt.Fprintf(w, "%s: %s in %s; %d resources changed, %d host commands\n", d.What, result, d.Duration.Round(time.Second), len(d.Changed), len(d.HostCommands))
		if i == 0 && len(r.Deploys) > 1 {
			continue // the site from bare hosts: every resource; what the change does follows
		}
		for _, c := range d.Changed {
			fmt.Fprintf(w, "  changed  %s\n", c)
		}
		for _, c := range d.HostCommands {
			fmt.Fprintf(w, "  host     %s\n", c)
		}
	}
	if r.Backup != "" {
		fmt.Fprintf(w, "nightly backup: %s\n", r.Backup)
	}
	if r.Apps == nil {
		fmt.Fprintln(w, "apps: every Deployment Available")
	} else {
		fmt.Fprintf(w, "apps: %v\n", r.Apps)
	}
	fmt.Fprintf(w, "site status: %s\n", r.Status)
	if problems := r.Problems(); len(problems) > 0 {
		fmt.Fprintf(w, "REHEARSAL FAILED:\n  %s\n", strings.Join(problems, "\n  "))
	} else {
		fmt.Fprintln(w, "rehearsal passed")
	}
}

// shape is the part of a stack file's site a rehearsal reproduces.
type shape struct {
	site            map[string]any
	servers, agents []string
	gpu             map[string]bool
	labels          map[string]map[string]string
	taints          map[string][]string
	composeHost     string
	backup          bool // infra.compose.backup: the nightly job
	closed          bool
	k3sVersion      string
}

func readShape(stackFile string) (*shape, error) {
	config, _, err := inprocess.LoadStackFile(stackFile)
	if err != nil {
		return nil, err
	}
	sh := &shape{gpu: map[string]bool{}, labels: map[string]map[string]string{}, taints: map[string][]string{}}
	if err := json.Unmarshal([]byte(config[sites.SiteKey]), &sh.site); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", stackFile, sites.SiteKey, err)
	}
	cluster, _ := sh.site["cluster"].(map[string]any)
	if cluster == nil || cluster["servers"] == nil {
		return nil, fmt.Errorf("%s: site.cluster has no servers: only an on-prem site (K3s on its own hosts) can be rehearsed here", stackFile)
	}
	nodes := func(key string) []string {
		var names []string
		list, _ := cluster[key].([]any)
		for _, n := range list {
			node, _ := n.(map[string]any)
			name, _ := node["name"].(string)
			names = append(names, name)
			if node["gpu"] == true {
				sh.gpu[name] = true
			}
			if l, ok := node["labels"].(map[string]any); ok {
				sh.labels[name] = map[string]string{}
				for k, v := range l {
					sh.labels[name][k] = fmt.Sprint(v)
				}
			}
			if t, ok := node["taints"].([]any); ok {
				for _, x := range t {
					sh.taints[name] = append(sh.taints[name], fmt.Sprint(x))
				}
			}
		}
		return names
	}
	sh.servers, sh.agents = nodes("servers"), nodes("agents")
	sh.k3sVersion, _ = inprocess.Get(sh.site, "cluster", "k3s", "version").(string)
	sh.closed = inprocess.Get(sh.site, "cluster", "k3s", "imageBundle") != nil
	if host, ok := inprocess.Get(sh.site, "infra", "compose", "host").(string); ok {
		if !slices.Contains(append(slices.Clone(sh.servers), sh.agents...), host) {
			return nil, fmt.Errorf("%s: infra.compose.host %s is not one of the site's nodes", stackFile, host)
		}
		sh.composeHost = host
		sh.backup = inprocess.Get(sh.site, "infra", "compose", "backup") != nil
	} else if inprocess.Get(sh.site, "infra", "compose") != nil {
		return nil, fmt.Errorf("%s: infra.compose runs on its own machine (address): rehearsing that shape is not supported yet", stackFile)
	}
	return sh, nil
}

// rehearsal is one run's state.
type rehearsal struct {
	opts   Options
	out    io.Writer
	shape  *shape
	hosts  *testhosts.Hosts
	images map[string]string
	report *Report
	// removeBase removes the base revision's checkout (nil: none).
	removeBase func()
}

func (r *rehearsal) logf(format string, args ...any) {
	fmt.Fprintf(r.out, format+"\n", args...)
}

// Run rehearses the site. The error is for what stopped the rehearsal itself (no hosts, no
// tools); what the site did is in the report (Report.OK).
func Run(ctx context.Context, opts Options) (*Report, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("rehearse: needs root (the test hosts are network and mount namespaces): run it with sudo")
	}
	if opts.ProgramDir == "" {
		opts.ProgramDir = "."
	}
	if opts.ToolsDir == "" {
		opts.ToolsDir = ".tools"
	}
	for _, p := range []*string{&opts.StackFile, &opts.ProgramDir, &opts.ToolsDir, &opts.Dir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	sh, err := readShape(opts.StackFile)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(opts.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	begin := time.Now()
	r := &rehearsal{opts: opts, out: opts.Out, shape: sh, report: &Report{Site: sitesName(opts.StackFile), Closed: sh.closed}}
	defer func() { r.report.Total = time.Since(begin) }()
	if err := r.startHosts(ctx); err != nil {
		return nil, err
	}
	defer func() {
		r.logf("stopping the test hosts...")
		if err := r.hosts.Stop(); err != nil {
			r.logf("warning: %v", err)
		}
	}()

	var ws *engine.Workspace
	defer func() {
		if ws == nil {
			return
		}
		r.logf("pulumi destroy...")
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if _, err := ws.Destroy(dctx); err != nil {
			r.logf("warning: destroy: %v", err)
		}
	}()
	var given map[string]string
	base, what, baseStackFile, err := r.checkout(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r.removeBase != nil {
			r.removeBase()
		}
	}()
	if base != "" {
		if ws, given, err = r.deploy(ctx, what, base, baseStackFile, nil, nil); err != nil {
			return nil, err
		}
	}
	next, _, err := r.deploy(ctx, "working tree", opts.ProgramDir, opts.StackFile, ws, given)
	if err != nil {
		return nil, err
	}
	ws = next
	if last := r.report.Deploys[len(r.report.Deploys)-1]; last.Err == nil {
		r.check(ctx, ws)
	}
	if base != "" {
		r.report.Unchanged = r.unchanged(ctx, baseStackFile)
	}
	r.report.Total = time.Since(begin)
	if opts.Hold != nil {
		opts.Hold(ctx, r.report)
	}
	return r.report, nil
}

// unchanged says whether the working tree is the base revision: no difference in git from it
// (tracked files) and the same stack file.
func (r *rehearsal) unchanged(ctx context.Context, baseStackFile string) bool {
	diff := exec.CommandContext(ctx, "git", "diff", "--quiet", r.opts.Base, "--")
	diff.Dir = r.opts.ProgramDir
	if diff.Run() != nil {
		return false
	}
	a, err1 := os.ReadFile(baseStackFile)
	b, err2 := os.ReadFile(r.opts.StackFile)
	return err1 == nil && err2 == nil && string(a) == string(b)
}

func sitesName(stackFile string) string {
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(stackFile), "Pulumi."), ".yaml")
}

// startHosts starts one test host per node of the site, with its name and GPU flag; the
// compose host runs Docker (with the compose images preloaded on an online site).
func (r *rehearsal) startHosts(ctx context.Context) error {
	r.logf("[hosts] %d bare test hosts for %s's nodes (network namespaces, Debian's sshd, a user with sudo)",
		len(r.shape.servers)+len(r.shape.agents), r.report.Site)
	imagesDir, err := testimages.ProcessDir(filepath.Join(r.opts.ToolsDir, "testimages"))
	if err == nil {
		r.images, err = testimages.Build(imagesDir, testimages.Defaults())
	}
	if err != nil {
		return err
	}
	var specs []testhosts.Spec
	for _, name := range append(slices.Clone(r.shape.servers), r.shape.agents...) {
		spec := testhosts.Spec{Name: name, GPU: r.shape.gpu[name]}
		if name == r.shape.composeHost {
			preload := r.images
			if r.shape.closed {
				preload = nil // a closed network: the images come only from the bundle
			}
			spec.Docker = testhosts.NewDocker(r.opts.ToolsDir, preload)
		}
		specs = append(specs, spec)
	}
	start := time.Now()
	r.hosts, err = testhosts.Start(ctx, filepath.Join(r.opts.Dir, "hosts"), specs)
	if err != nil {
		return err
	}
	for _, h := range r.hosts.Hosts {
		role := "agent"
		if slices.Contains(r.shape.servers, h.Name) {
			role = "server"
		}
		line := fmt.Sprintf("%-12s %-6s %s", h.Name, role, h.Address)
		if h.GPU {
			line += " gpu"
		}
		if h.Docker != nil {
			line += " compose (Docker)"
		}
		r.report.Hosts = append(r.report.Hosts, line)
		r.logf("  %s", line)
	}
	r.logf("hosts up in %.1fs", time.Since(start).Seconds())
	return nil
}

// checkout puts the base revision's tree in Dir/base (git worktree) and returns it, a name
// for it and its stack file of the site (the working tree's path, or in the repository root
// by name); "" when there is no base or it has no such stack file.
func (r *rehearsal) checkout(ctx context.Context) (dir, what, stackFile string, err error) {
	if r.opts.Base == "" {
		return "", "", "", nil
	}
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = r.opts.ProgramDir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	rev, err := git("rev-parse", "--short", r.opts.Base)
	if err != nil {
		return "", "", "", err
	}
	rel, err := filepath.Rel(r.opts.ProgramDir, r.opts.StackFile)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = filepath.Base(r.opts.StackFile)
	}
	if _, err := git("cat-file", "-e", rev+":"+filepath.ToSlash(rel)); err != nil {
		r.logf("[base] %s has no %s: only the working tree is deployed", r.opts.Base, rel)
		return "", "", "", nil
	}
	dir = filepath.Join(r.opts.Dir, "base")
	if _, err := git("worktree", "add", "--detach", dir, rev); err != nil {
		return "", "", "", err
	}
	r.removeBase = func() {
		// Not with ctx: on Ctrl-C it is already cancelled, and the checkout must still go.
		rm := exec.Command("git", "worktree", "remove", "--force", dir)
		rm.Dir = r.opts.ProgramDir
		if out, err := rm.CombinedOutput(); err != nil {
			r.logf("warning: git worktree remove %s: %v: %s", dir, err, out)
		}
	}
	return dir, fmt.Sprintf("%s (%s)", r.opts.Base, rev), filepath.Join(dir, rel), nil
}

// deploy writes the stack file of programDir's site pointed at the hosts and runs `pulumi up`
// from programDir: in a new workspace the first time, then on the same stack (its backend,
// passphrase and secrets) from the new program.
func (r *rehearsal) deploy(ctx context.Context, what, programDir, stackFile string, prev *engine.Workspace, given map[string]string) (*engine.Workspace, map[string]string, error) {
	r.logf("\n[%s] pulumi up from %s", what, programDir)
	site, err := r.siteFor(stackFile)
	if err != nil {
		return nil, nil, err
	}
	dir := filepath.Join(r.opts.Dir, "engine")
	target := filepath.Join(r.opts.Dir, filepath.Base(r.opts.StackFile))
	if err := testhosts.WriteStackFile(stackFile, target, site); err != nil {
		return nil, nil, err
	}
	opts := engine.Options{ToolsDir: r.opts.ToolsDir, ProgramDir: programDir, StackFile: target, Dir: dir,
		Env: []string{stack.ImagePreflightEnv + "=off"}} // the fake nodes pull nothing
	if prev != nil {
		// The same stack: its backend and passphrase, and its encryption salt (the secrets).
		salt, err := encryptionSalt(prev.StackPath())
		if err != nil {
			return nil, nil, err
		}
		if err := addSalt(target, salt); err != nil {
			return nil, nil, err
		}
		opts.ExistingStack = true
		opts.Env = append(opts.Env, prev.BackendEnv()...)
		opts.Dir = filepath.Join(r.opts.Dir, "engine-change")
	}
	log, err := os.Create(filepath.Join(r.opts.Dir, strings.ReplaceAll(what, " ", "-")+".log"))
	if err != nil {
		return nil, nil, err
	}
	defer log.Close()
	opts.Log = log
	ws, err := engine.New(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	if given == nil {
		given = map[string]string{"sshPrivateKey": r.hosts.PrivateKey}
	}
	if _, values, err := ws.SetSecrets(ctx, given); err != nil {
		return nil, nil, err
	} else {
		given = values
	}
	events := filepath.Join(r.opts.Dir, strings.ReplaceAll(what, " ", "-")+".events.jsonl")
	progress := pulumiout.FollowEvents(events, func(line string) { r.logf("  %s", line) })
	start := time.Now()
	_, upErr := ws.Up(ctx, "--event-log", events)
	summary := progress()
	d := Deploy{What: what, Duration: time.Since(start), Err: upErr}
	if data, err := os.ReadFile(events); err == nil {
		if evs, err := pulumiout.ReadEvents(data); err == nil {
			d.Changed, d.HostCommands = changes(evs), pulumiout.HostOperations(evs)
		}
	}
	r.report.Deploys = append(r.report.Deploys, d)
	r.logf("[%s] %s in %.1fs", what, summary, d.Duration.Seconds())
	return ws, given, nil
}

// changes are the resources an update changed, host commands aside.
func changes(events []apitype.EngineEvent) []string {
	var out []string
	for _, e := range events {
		if o := e.ResOutputsEvent; o != nil && !o.Planning && o.Metadata.Op != apitype.OpSame &&
			o.Metadata.Op != apitype.OpRead && o.Metadata.Op != apitype.OpRefresh && o.Metadata.Type != "pulumi:pulumi:Stack" &&
			!strings.HasPrefix(o.Metadata.Type, "command:") {
			out = append(out, fmt.Sprintf("%s %s %s", o.Metadata.Op, o.Metadata.Type, pulumiout.URNName(o.Metadata.URN)))
		}
	}
	return out
}

// siteFor is the stack file's site with its cluster pointed at the test hosts (the same node
// names, roles, GPU flags, labels and taints; K3s from the stand-in's release files of the
// site's version), Istio's charts from a local copy when the site runs Istio, and a closed
// site's image bundle written from the test images.
func (r *rehearsal) siteFor(stackFile string) (map[string]any, error) {
	sh, err := readShape(stackFile)
	if err != nil {
		return nil, err
	}
	for _, name := range slices.Concat(sh.servers, sh.agents) {
		if r.hosts.Host(name) == nil {
			return nil, fmt.Errorf("%s: node %s is not in the working tree's stack file, whose nodes the test hosts are: rehearse a change of the site's nodes from a base that has them all", stackFile, name)
		}
	}
	artifacts := filepath.Join(r.opts.Dir, "artifacts", sh.k3sVersion)
	if _, err := os.Stat(artifacts); err != nil {
		r.logf("  building the stand-in K3s release files for %s (TEST-ONLY k3s, air-gapped layout)...", sh.k3sVersion)
		if err := testhosts.StandInArtifacts(artifacts, sh.k3sVersion, r.opts.ToolsDir); err != nil {
			return nil, err
		}
	}
	cluster := r.hosts.ClusterConfig(testhosts.Cluster{Servers: sh.servers, Agents: sh.agents, Artifacts: artifacts,
		Version: sh.k3sVersion, Labels: sh.labels, Taints: sh.taints})
	site := sh.site
	if own, ok := site["cluster"].(map[string]any); ok && own["addons"] != nil {
		cluster["addons"] = own["addons"]
	}
	site["cluster"] = cluster
	parsed, err := inprocess.ParseWithSite(stackFile, site)
	if err != nil {
		return nil, err
	}
	if parsed.Config.IstioEnabled() {
		charts, err := helmrender.IstioChartsDir()
		if err != nil {
			return nil, err
		}
		testhosts.WithIstioCharts(cluster, charts)
	}
	if sh.closed {
		// One directory for every deploy: the same images are the same files, uploaded once.
		dir := filepath.Join(r.opts.Dir, "bundle")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := testimages.WriteBundle(context.Background(), dir, parsed, r.images); err != nil {
			return nil, err
		}
		cluster["k3s"].(map[string]any)["imageBundle"] = dir
	}
	return site, nil
}

func encryptionSalt(stackFile string) (string, error) {
	data, err := os.ReadFile(stackFile)
	if err != nil {
		return "", err
	}
	var f struct {
		Salt string `yaml:"encryptionsalt"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return "", err
	}
	if f.Salt == "" {
		return "", fmt.Errorf("%s has no encryptionsalt", stackFile)
	}
	return f.Salt, nil
}

func addSalt(stackFile, salt string) error {
	data, err := os.ReadFile(stackFile)
	if err != nil {
		return err
	}
	return os.WriteFile(stackFile, append([]byte("encryptionsalt: "+salt+"\n"), data...), 0o600)
}

// check waits for the apps and asks `site status` about the site.
func (r *rehearsal) check(ctx context.Context, ws *engine.Workspace) {
	r.logf("\n[check] apps Available, site status")
	out, err := ws.Outputs(ctx, true)
	if err != nil {
		r.report.Apps = err
		return
	}
	kubeconfig, _ := out["kubeconfig"].(string)
	ns, _ := out["namespace"].(string)
	cluster, err := harness.Attach([]byte(kubeconfig))
	if err != nil {
		r.report.Apps = err
		return
	}
	deps, err := cluster.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err == nil {
		var names []string
		for _, d := range deps.Items {
			names = append(names, d.Name)
		}
		if len(names) == 0 {
			err = fmt.Errorf("no Deployment in namespace %q", ns)
		} else {
			err = cluster.WaitAvailable(ctx, ns, names, 5*time.Minute)
		}
	}
	r.report.Apps = err
	// A site's first night: the nightly backup job once, as its timer would run it (status
	// counts a site whose backups never ran as degraded).
	if r.shape.backup {
		start := time.Now()
		job := compose.Spec{}.JobPath()
		if out, err := r.hosts.Run(ctx, r.shape.composeHost, "sudo -n "+job); err != nil {
			r.report.Backup, r.report.BackupErr = "failed", fmt.Errorf("%s on %s: %w\n%s", job, r.shape.composeHost, err, out)
		} else {
			r.report.Backup = fmt.Sprintf("the job ran once on %s in %s", r.shape.composeHost, time.Since(start).Round(100*time.Millisecond))
		}
	}
	report, err := day2.Gather(ctx, engine.FleetStack{WS: ws}, day2.Options{})
	if err != nil {
		r.report.Status = err.Error()
		return
	}
	r.report.Status = report.VerdictLine()
	r.report.Healthy = report.Verdict == day2.Healthy
}
