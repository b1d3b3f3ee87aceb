// Package fleet is the library of cmd/fleet: it reads each site's `pulumi preview --json`
// (the engine's digest, with the SDK's apitype types, see internal/engine), builds the
// site × change matrix, flags dangerous steps, and runs stacks in bounded parallel waves.
// It is never linked into the Pulumi program.
package fleet

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"xgen-infra/internal/pulumiout"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// Stack is one site's stack as the fleet drives it: the operator's `pulumi` CLI in the
// project directory (CLIStack), or, in tests, an engine workspace.
type Stack interface {
	Name() string
	// Preview returns `pulumi preview --json` (with --refresh for drift); the digest is
	// returned when the command fails too, if it printed one.
	Preview(ctx context.Context, refresh bool) (*pulumiout.Preview, error)
	// Up runs `pulumi up --yes`.
	Up(ctx context.Context) error
	// Outputs are `pulumi stack output --json` (secrets hidden).
	Outputs(ctx context.Context) (map[string]any, error)
}

// Danger is a step that replaces or deletes something stateful or disruptive.
type Danger struct {
	Op             apitype.OpType
	Type, Name     string
	Why            string
	ReplaceReasons []string
}

func (d Danger) String() string {
	s := fmt.Sprintf("%s %s %s: %s", d.Op, d.Type, d.Name, d.Why)
	if len(d.ReplaceReasons) > 0 {
		s += " (replace reasons: " + strings.Join(d.ReplaceReasons, ", ") + ")"
	}
	return s
}

// Report is one site's preview, digested.
type Report struct {
	Site    string
	Summary map[apitype.OpType]int
	Dangers []Danger
	// Err is why the preview failed ("" when it ran).
	Err string
}

// Changed counts the resources a change touches.
func (r Report) Changed() int {
	n := 0
	for op, c := range r.Summary {
		if op != apitype.OpSame {
			n += c
		}
	}
	return n
}

// destructive are the operations that take something away.
var destructive = map[apitype.OpType]bool{
	apitype.OpReplace: true, apitype.OpDelete: true, apitype.OpCreateReplacement: true,
	apitype.OpDeleteReplaced: true, apitype.OpDiscardReplaced: true, apitype.OpImportReplacement: true,
	apitype.OpReadReplacement: true,
}

// dangerRule says why replacing or deleting a resource is dangerous.
type dangerRule struct {
	typ, namePrefix string
	why             string
}

// dangerRules: stateful data, credentials every pod loads, and host commands whose delete
// (which a replace runs too) uninstalls or stops something.
var dangerRules = []dangerRule{
	{"kubernetes:core/v1:Namespace", "", "a namespace: deleting it deletes everything in it"},
	{"kubernetes:core/v1:Secret", "", "a Secret every pod loads: a replace leaves a moment without it, a delete breaks the site"},
	{"kubernetes:core/v1:PersistentVolumeClaim", "", "a volume claim: its data"},
	{"kubernetes:core/v1:PersistentVolume", "", "a volume: its data"},
	{"kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", "", "a CRD: deleting it deletes every object of its kind (Istio's: every Gateway and VirtualService)"},
	{"kubernetes:helm.sh/v4:Chart", "", "an add-on chart: a delete removes everything it installed (istio-base: Istio's CRDs, and with them every Gateway and VirtualService)"},
	{"command:remote:Command", "infra-project", "the infra compose project: its delete stops PostgreSQL, Redis, Qdrant and MinIO (data removed with removeDataOnDestroy)"},
	{"command:remote:Command", "infra-backup", "the nightly backup job"},
	{"command:remote:Command", "host-", "a K3s host: its delete uninstalls K3s"},
	{"command:remote:Command", "install-", "a K3s install: it restarts K3s on the host"},
	{"command:remote:Command", "member-", "a cluster node: its delete drains and removes the node"},
	{"command:remote:Command", "destroy-guard", "the destroy guard: its delete marks a destroy of the whole cluster"},
	{"command:remote:CopyToRemote", "upload-k3s-", "a K3s binary: the install that follows restarts K3s"},
	{"aws:s3/bucketV2:BucketV2", "", "an S3 bucket: its objects"},
	{"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "", "the bucket's public access block: the bucket may be exposed meanwhile"},
	{"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "", "the bucket's default encryption"},
	{"aws:iam/accessKey:AccessKey", "", "the applications' S3 access key: pods lose access until they roll onto the new one"},
}

// Digest reads one site's preview.
func Digest(site string, p *pulumiout.Preview) Report {
	r := Report{Site: site, Summary: p.ChangeSummary}
	for _, s := range p.Steps {
		if !destructive[s.Op] {
			continue
		}
		typ, name := stepTypeName(s)
		for _, rule := range dangerRules {
			if rule.typ == typ && strings.HasPrefix(name, rule.namePrefix) {
				r.Dangers = append(r.Dangers, Danger{Op: s.Op, Type: typ, Name: name, Why: rule.why, ReplaceReasons: s.ReplaceReasons})
				break
			}
		}
	}
	if errs := p.Errors(); len(errs) > 0 {
		r.Err = errs[0]
	}
	return r
}

func stepTypeName(s pulumiout.Step) (string, string) {
	typ := ""
	if s.NewState != nil {
		typ = s.NewState.Type
	} else if s.OldState != nil {
		typ = s.OldState.Type
	}
	name := s.URN[strings.LastIndex(s.URN, "::")+2:]
	return typ, name
}

// Drifted says whether a refresh preview would change anything: what is live differs from
// what the program (the deployed code) says.
func (r Report) Drifted() bool { return r.Changed() > 0 }

// matrixOps are the matrix's columns.
var matrixOps = []apitype.OpType{apitype.OpCreate, apitype.OpUpdate, apitype.OpReplace, apitype.OpDelete, apitype.OpSame}

// Matrix renders the site × change table, then the dangers and failures; markdown for a
// merge-request comment, else plain text.
func Matrix(reports []Report, markdown bool) string {
	var b strings.Builder
	cols := []string{"site"}
	for _, op := range matrixOps {
		cols = append(cols, string(op))
	}
	cols = append(cols, "DANGER", "status")
	var rows [][]string
	for _, r := range reports {
		row := []string{r.Site}
		for _, op := range matrixOps {
			row = append(row, fmt.Sprint(r.Summary[op]))
		}
		status := "ok"
		switch {
		case r.Err != "":
			status = "FAILED"
		case len(r.Dangers) > 0:
			status = "DANGER"
		case r.Changed() == 0:
			status = "no change"
		}
		row = append(row, fmt.Sprint(len(r.Dangers)), status)
		rows = append(rows, row)
	}
	if markdown {
		b.WriteString("| " + strings.Join(cols, " | ") + " |\n|" + strings.Repeat("---|", len(cols)) + "\n")
		for _, row := range rows {
			b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		}
	} else {
		widths := make([]int, len(cols))
		for _, row := range append([][]string{cols}, rows...) {
			for i, c := range row {
				widths[i] = max(widths[i], len(c))
			}
		}
		for _, row := range append([][]string{cols}, rows...) {
			for i, c := range row {
				fmt.Fprintf(&b, "%-*s  ", widths[i], c)
			}
			b.WriteString("\n")
		}
	}
	for _, r := range reports {
		for _, d := range r.Dangers {
			if markdown {
				fmt.Fprintf(&b, "\n- **DANGER** `%s`: %s", r.Site, d)
			} else {
				fmt.Fprintf(&b, "\nDANGER %s: %s", r.Site, d)
			}
		}
	}
	for _, r := range reports {
		if r.Err != "" {
			fmt.Fprintf(&b, "\nFAILED %s: %s", r.Site, firstLine(r.Err))
		}
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// PreviewAll previews every stack, at most parallel at a time, in the stacks' order.
func PreviewAll(ctx context.Context, stacks []Stack, parallel int, refresh bool) []Report {
	reports := make([]Report, len(stacks))
	ForEach(stacks, parallel, func(i int, s Stack) {
		p, err := s.Preview(ctx, refresh)
		switch {
		case p != nil:
			reports[i] = Digest(s.Name(), p)
			if err != nil && reports[i].Err == "" {
				reports[i].Err = err.Error()
			}
		case err != nil:
			reports[i] = Report{Site: s.Name(), Err: err.Error()}
		}
	})
	return reports
}

// ForEach calls f for every stack, at most parallel at a time, and returns when all are done.
func ForEach(stacks []Stack, parallel int, f func(int, Stack)) {
	if parallel < 1 {
		parallel = 1
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, s := range stacks {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i, s)
		}()
	}
	wg.Wait()
}

// ParseWaves reads "a,b:c" (waves split by ':', sites by ','): each site once, every one known.
func ParseWaves(spec string, known []string) ([][]string, error) {
	var waves [][]string
	seen := map[string]bool{}
	for i, w := range strings.Split(spec, ":") {
		var wave []string
		for _, s := range strings.Split(w, ",") {
			s = strings.TrimSpace(s)
			switch {
			case s == "":
				return nil, fmt.Errorf("--waves %q: wave %d has an empty site name", spec, i+1)
			case seen[s]:
				return nil, fmt.Errorf("--waves %q: %s is in two waves", spec, s)
			case !slices.Contains(known, s):
				return nil, fmt.Errorf("--waves %q: %s is not a stack here (stacks: %s)", spec, s, strings.Join(known, ", "))
			}
			seen[s] = true
			wave = append(wave, s)
		}
		waves = append(waves, wave)
	}
	return waves, nil
}

// Rollout is what `up --waves` did.
type Rollout struct {
	Rolled    []string
	Failed    map[string]string // site -> why
	NotRolled []string
}

// Health is a site's health after its up (cmd/fleet: `site status`'s verdict); an error says
// why it is not healthy.
type Health func(ctx context.Context, s Stack) error

// Up rolls the waves out in order: a wave's sites in parallel (bounded), each `pulumi up`
// then a health check: a preview that must plan no change (the site converged) and, when
// health is given, the site healthy. After a wave with a failure, no later wave runs.
func Up(ctx context.Context, waves [][]Stack, parallel int, health Health) Rollout {
	r := Rollout{Failed: map[string]string{}}
	var mu sync.Mutex
	for i, wave := range waves {
		if len(r.Failed) > 0 {
			for _, later := range waves[i:] {
				for _, s := range later {
					r.NotRolled = append(r.NotRolled, s.Name())
				}
			}
			break
		}
		ForEach(wave, parallel, func(_ int, s Stack) {
			why := ""
			if err := s.Up(ctx); err != nil {
				why = "up: " + firstLine(err.Error())
			} else if p, err := s.Preview(ctx, false); err != nil || p == nil {
				why = fmt.Sprintf("health check: preview failed: %v", err)
			} else if rep := Digest(s.Name(), p); rep.Changed() > 0 || rep.Err != "" {
				why = fmt.Sprintf("health check: not converged after up (%s)", pulumiout.Summary(p.ChangeSummary))
			} else if health != nil {
				if err := health(ctx, s); err != nil {
					why = "health check: " + firstLine(err.Error())
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if why != "" {
				r.Failed[s.Name()] = why
			} else {
				r.Rolled = append(r.Rolled, s.Name())
			}
		})
	}
	sort.Strings(r.Rolled)
	return r
}

// Versions is site → service → image tag, from each stack's `images` output; an environment
// deployed beside a stack's own (its `environments` output) is a site of its own, named
// "<stack>/<environment>".
func Versions(ctx context.Context, stacks []Stack, parallel int) (map[string]map[string]string, map[string]string) {
	out, failed := map[string]map[string]string{}, map[string]string{}
	var mu sync.Mutex
	ForEach(stacks, parallel, func(_ int, s Stack) {
		outputs, err := s.Outputs(ctx)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed[s.Name()] = firstLine(err.Error())
			return
		}
		out[s.Name()] = imageVersions(outputs["images"])
		envs, _ := outputs["environments"].(map[string]any)
		for env, o := range envs {
			fields, _ := o.(map[string]any)
			out[s.Name()+"/"+env] = imageVersions(fields["images"])
		}
	})
	return out, failed
}

// imageVersions is service → version of an `images` output.
func imageVersions(images any) map[string]string {
	tags := map[string]string{}
	m, _ := images.(map[string]any)
	for svc, img := range m {
		ref, _ := img.(string)
		tags[svc] = ImageVersion(ref)
	}
	return tags
}

// ImageVersion is what an image reference deploys: its tag, and with a digest (a site that
// deploys by digest) the tag and the digest's first 12 hex digits, so that two sites on the
// same mutable tag but different builds show different versions.
func ImageVersion(ref string) string {
	name, digest, pinned := strings.Cut(ref, "@")
	tag := ""
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		tag = name[i+1:]
	}
	if !pinned {
		return tag
	}
	short := strings.TrimPrefix(digest, "sha256:")
	if len(short) > 12 {
		short = short[:12]
	}
	if tag == "" {
		return "@" + short
	}
	return tag + "@" + short
}

// VersionsTable renders Versions as service × site.
func VersionsTable(versions map[string]map[string]string, markdown bool) string {
	var sitesList []string
	services := map[string]bool{}
	for site, tags := range versions {
		sitesList = append(sitesList, site)
		for svc := range tags {
			services[svc] = true
		}
	}
	sort.Strings(sitesList)
	var svcs []string
	for s := range services {
		svcs = append(svcs, s)
	}
	sort.Strings(svcs)
	var b strings.Builder
	head := append([]string{"service"}, sitesList...)
	if markdown {
		b.WriteString("| " + strings.Join(head, " | ") + " |\n|" + strings.Repeat("---|", len(head)) + "\n")
	} else {
		b.WriteString(strings.Join(head, "\t") + "\n")
	}
	for _, svc := range svcs {
		row := []string{svc}
		for _, site := range sitesList {
			tag := versions[site][svc]
			if tag == "" {
				tag = "-"
			}
			row = append(row, tag)
		}
		if markdown {
			b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		} else {
			b.WriteString(strings.Join(row, "\t") + "\n")
		}
	}
	return b.String()
}
