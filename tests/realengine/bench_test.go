package realengine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sigsyaml "sigs.k8s.io/yaml"

	"xgen-infra/internal/engine"
	"xgen-infra/internal/fleet"
	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/livetest"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/sites"
	"xgen-infra/stack"
)

// BenchmarkEngineNoopPreview (P1): the real engine's no-op preview of the converged xgen site's
// Kubernetes layer (the apps on a local API server, the same objects kubectl compares), as
// Pulumi.yaml runs it (the prebuilt program binary through tools/program.sh, current) and with
// the program compiled on every run (plain `runtime: go`), against `kubectl diff --server-side`
// of the same objects on the same API server. Reports seconds per run and the ratios to kubectl.
func BenchmarkEngineNoopPreview(b *testing.B) {
	tools := engineTools(b)
	stackFile := filepath.Join(b.TempDir(), "Pulumi.xgen.yaml")
	if err := inprocess.KubernetesLayer("Pulumi.xgen.yaml", stackFile, sitetest.RehearsalHostAddress); err != nil {
		b.Fatal(err)
	}
	d := deployStack(b, tools, stackFile)
	ctx := context.Background()
	compiling, err := engine.New(ctx, engine.Options{
		ToolsDir: tools, ProgramDir: ".", StackFile: d.ws.StackPath(), Dir: b.TempDir(), Compile: true,
		Env: d.ws.BackendEnv(), ExistingStack: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	objectsDir := writeObjects(b, stackFile, d.secrets)

	var compiled, prebuilt, diff time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := d.ws.Run(ctx, nil, "preview", "--expect-no-changes"); err != nil {
			b.Fatal(err)
		}
		prebuilt += time.Since(start)
		start = time.Now()
		if _, err := compiling.Run(ctx, nil, "preview", "--expect-no-changes"); err != nil {
			b.Fatal(err)
		}
		compiled += time.Since(start)
		diff += kubectlDiff(b, tools, d.cluster.Kubeconfig, objectsDir)
	}
	n := float64(b.N)
	b.ReportMetric(compiled.Seconds()/n, "s-preview-compiled")
	b.ReportMetric(prebuilt.Seconds()/n, "s-preview-prebuilt")
	b.ReportMetric(diff.Seconds()/n, "s-kubectl-diff")
	b.ReportMetric(compiled.Seconds()/diff.Seconds(), "ratio-compiled")
	b.ReportMetric(prebuilt.Seconds()/diff.Seconds(), "ratio-prebuilt")
}

// writeObjects writes the stack's Kubernetes objects, with the given secret values, as YAML
// files for kubectl.
func writeObjects(b *testing.B, stackFile string, secrets map[string]string) string {
	config, secretKeys, err := inprocess.LoadStackFile(stackFile)
	if err != nil {
		b.Fatal(err)
	}
	for key, value := range secrets {
		config[sites.ConfigNamespace+":"+key] = value
		secretKeys = append(secretKeys, sites.ConfigNamespace+":"+key)
	}
	rec, err := inprocess.Run(stack.Program, sites.ConfigNamespace, sitetest.StackName(stackFile), config, secretKeys)
	if err != nil {
		b.Fatal(err)
	}
	objs, err := rec.KubernetesObjects()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for i, o := range objs {
		data, err := sigsyaml.Marshal(o.Body)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.yaml", i)), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkFleetPreview: `cmd/fleet preview`'s work (fleet.PreviewAll) of the four sites and
// of 24 sites (the four and 20 generated from the fifth), no-op, on one local API server, with
// the program built once (Pulumi.yaml's prebuilt binary) and up to fleetParallel previews at a
// time; against the sum of `kubectl diff --server-side` of the same sites' objects. Each site
// is its Kubernetes layer in namespaces of its own, so that they can share the cluster.
func BenchmarkFleetPreview(b *testing.B) {
	const fleetParallel = 4
	tools := engineTools(b)
	c := livetest.StartOwnersCluster(b) // the stacks are Kubernetes layers
	ctx := context.Background()
	kubeconfig, err := c.SelfContainedKubeconfig()
	if err != nil {
		b.Fatal(err)
	}
	files := sitetest.StackFiles(b)
	for i := 1; i <= 20; i++ {
		files = append(files, filepath.Join("testdata", "Pulumi.acme-busan.yaml")+"#"+fmt.Sprintf("gen-%02d", i))
	}
	var stacks []fleet.Stack
	var stackFiles []string
	secrets := make([]map[string]string, len(files))
	var mu sync.Mutex
	var setupErr error
	sem := make(chan struct{}, fleetParallel)
	var wg sync.WaitGroup
	for _, f := range files {
		src, name, _ := strings.Cut(f, "#")
		if name == "" {
			name = sitetest.StackName(src)
		}
		stackFile := filepath.Join(b.TempDir(), "Pulumi."+name+".yaml")
		if err := fleetSiteFile(src, stackFile, name); err != nil {
			b.Fatal(err)
		}
		ws, err := engine.New(ctx, engine.Options{ToolsDir: tools, ProgramDir: ".", StackFile: stackFile, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		i := len(stacks)
		stacks = append(stacks, engine.FleetStack{WS: ws})
		stackFiles = append(stackFiles, stackFile)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, values, err := ws.SetThrowawaySecrets(ctx, string(kubeconfig))
			if err == nil {
				_, err = ws.Up(ctx)
			}
			mu.Lock()
			defer mu.Unlock()
			secrets[i] = values
			if err != nil {
				setupErr = errors.Join(setupErr, fmt.Errorf("%s: %w", name, err))
			}
		}()
	}
	wg.Wait()
	if setupErr != nil {
		b.Fatal(setupErr)
	}
	var objectDirs []string
	for i, f := range stackFiles {
		objectDirs = append(objectDirs, writeObjects(b, f, secrets[i]))
	}
	// No destroy afterwards: the API server, the backends and the workspaces are this
	// benchmark's own and go with it (24 destroys were a minute of make test for nothing).

	preview := func(stacks []fleet.Stack) time.Duration {
		start := time.Now()
		for _, r := range fleet.PreviewAll(ctx, stacks, fleetParallel, false) {
			if r.Err != "" || r.Changed() > 0 {
				b.Fatalf("%s: no-op preview: %d changes, %s", r.Site, r.Changed(), r.Err)
			}
		}
		return time.Since(start)
	}
	var four, all, diffs time.Duration
	for i := 0; i < b.N; i++ {
		four += preview(stacks[:4])
		all += preview(stacks)
		for _, dir := range objectDirs {
			diffs += kubectlDiff(b, tools, c.Kubeconfig, dir)
		}
	}
	n := float64(b.N)
	b.ReportMetric(four.Seconds()/n, "s-fleet-preview-4-sites")
	b.ReportMetric(all.Seconds()/n, "s-fleet-preview-24-sites")
	b.ReportMetric(diffs.Seconds()/n, "s-kubectl-diff-sum-24-sites")
}

// fleetSiteFile writes src's Kubernetes layer as site name, in namespaces of its own.
func fleetSiteFile(src, dst, name string) error {
	if err := inprocess.KubernetesLayer(src, dst, sitetest.RehearsalHostAddress); err != nil {
		return err
	}
	data, err := os.ReadFile(dst)
	if err != nil {
		return err
	}
	var file map[string]any
	if err := sigsyaml.Unmarshal(data, &file); err != nil {
		return err
	}
	site := file["config"].(map[string]any)["xgen-infra:site"].(map[string]any)
	site["namespace"] = name
	// Its own infra namespace where the site has one (host Services at hostAddress); a site
	// whose infra all has its own hosts has none (the setting would be refused as ignored).
	if infra, _ := site["infra"].(map[string]any); infra != nil && infra["hostAddress"] != nil {
		infra["namespace"] = name + "-infra"
	}
	out, err := sigsyaml.Marshal(file)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, out, 0o600)
}

func kubectlDiff(b *testing.B, tools, kubeconfig, dir string) time.Duration {
	cmd := exec.Command(filepath.Join(tools, "bin", "kubectl"), "diff", "--server-side", "--force-conflicts", "-f", dir)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState.ExitCode() != 1 { // 1: differences found
		b.Fatalf("kubectl diff: %v\n%s", err, out)
	}
	return time.Since(start)
}
