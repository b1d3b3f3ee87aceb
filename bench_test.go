package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	sigsyaml "sigs.k8s.io/yaml"

	"xgen-infra/internal/engine"
	"xgen-infra/internal/harness"
	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testhosts"
	"xgen-infra/sites"
)

// BenchmarkHarnessStart: etcd, API server, controller-manager, scheduler, kwok, nodes and
// Istio CRDs from nothing to ready.
func BenchmarkHarnessStart(b *testing.B) {
	tools := toolsDir(b)
	for i := 0; i < b.N; i++ {
		c, err := harness.Start(context.Background(), harness.Options{ToolsDir: tools, Dir: b.TempDir(), InstallIstioCRDs: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := c.Stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkSite: per site, the time to apply its objects and converge (every Deployment
// Available), and the time of a second, no-op apply.
func BenchmarkSite(b *testing.B) {
	tools := toolsDir(b)
	for _, stackFile := range siteStackFiles(b) {
		b.Run(stackName(stackFile), func(b *testing.B) {
			objs := rehearsalObjects(b, stackFile, nil)
			ns, deployments := deploymentsOf(objs)
			var converge, noop time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				ctx := context.Background()
				c, err := harness.Start(ctx, harness.Options{ToolsDir: tools, Dir: b.TempDir(), InstallIstioCRDs: true})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				if _, err := c.Apply(ctx, bodies(objs)); err != nil {
					b.Fatal(err)
				}
				if err := c.WaitAvailable(ctx, ns, deployments, 3*time.Minute); err != nil {
					b.Fatal(err)
				}
				converge += time.Since(start)
				start = time.Now()
				if _, err := c.Apply(ctx, bodies(objs)); err != nil {
					b.Fatal(err)
				}
				noop += time.Since(start)
				b.StopTimer()
				if err := c.Stop(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(converge.Seconds()/float64(b.N), "s-apply+converge")
			b.ReportMetric(noop.Seconds()/float64(b.N), "s-noop-reapply")
			b.ReportMetric(float64(len(objs)), "objects")
		})
	}
}

// BenchmarkEngineNoopPreview (P1): the real engine's no-op preview of the converged xgen site's
// Kubernetes layer (the apps on a local API server, the same objects kubectl compares), with
// the program compiled on every run (`runtime: go`) and with a prebuilt program binary
// (runtime.options.binary), against `kubectl diff --server-side` of the same objects on the
// same API server. Reports seconds per run and the ratios to kubectl.
func BenchmarkEngineNoopPreview(b *testing.B) {
	tools := engineTools(b)
	stackFile := filepath.Join(b.TempDir(), "Pulumi.xgen.yaml")
	if err := inprocess.KubernetesLayer("Pulumi.xgen.yaml", stackFile, harness.RehearsalHostAddress); err != nil {
		b.Fatal(err)
	}
	d := deployStack(b, tools, stackFile)
	ctx := context.Background()

	binary := filepath.Join(b.TempDir(), "xgen-infra")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	prebuilt, err := engine.New(ctx, engine.Options{
		ToolsDir: tools, ProgramDir: ".", StackFile: d.ws.StackPath(), Dir: b.TempDir(), Binary: binary,
		Env: d.ws.BackendEnv(), ExistingStack: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	objectsDir := writeObjects(b, stackFile, d.secrets)
	kubectl := exec.Command(filepath.Join(tools, "bin", "kubectl"), "diff", "--server-side", "--force-conflicts", "-f", objectsDir)
	kubectl.Env = append(os.Environ(), "KUBECONFIG="+d.cluster.Kubeconfig)

	var compiled, fast, diff time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := d.ws.Run(ctx, nil, "preview", "--expect-no-changes"); err != nil {
			b.Fatal(err)
		}
		compiled += time.Since(start)
		start = time.Now()
		if _, err := prebuilt.Run(ctx, nil, "preview", "--expect-no-changes"); err != nil {
			b.Fatal(err)
		}
		fast += time.Since(start)
		start = time.Now()
		cmd := *kubectl
		if out, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState.ExitCode() != 1 { // 1: differences found
			b.Fatalf("kubectl diff: %v\n%s", err, out)
		}
		diff += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(compiled.Seconds()/n, "s-preview-compiled")
	b.ReportMetric(fast.Seconds()/n, "s-preview-prebuilt")
	b.ReportMetric(diff.Seconds()/n, "s-kubectl-diff")
	b.ReportMetric(compiled.Seconds()/diff.Seconds(), "ratio-compiled")
	b.ReportMetric(fast.Seconds()/diff.Seconds(), "ratio-prebuilt")
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
	rec, err := inprocess.Run(program, sites.ConfigNamespace, stackName(stackFile), config, secretKeys)
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

// BenchmarkHostLayer: three bare test hosts (server, agent, GPU agent) to K3s to the xgen
// site's apps Available (host commands over SSH, then the apps applied through the read-back
// kubeconfig), and the no-op rerun of the host layer (0 remote commands).
func BenchmarkHostLayer(b *testing.B) {
	var bootstrap, noop time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx := context.Background()
		hosts := startHosts(b, []testhosts.Spec{{Name: "xgen-1"}, {Name: "xgen-2"}, {Name: "xgen-gpu", GPU: true}})
		s := &hostStack{t: b, hosts: hosts, engine: testhosts.NewEngine(), stackFile: "Pulumi.xgen.yaml",
			artifacts: standInArtifacts(b, hostsVersion), servers: []string{"xgen-1"}, agents: []string{"xgen-2", "xgen-gpu"}}
		objs := rehearsalObjects(b, "Pulumi.xgen.yaml", withRehearsalHost)
		ns, deployments := deploymentsOf(objs)
		crds, err := os.ReadFile(filepath.Join(toolsDir(b), "istio-crds.yaml"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := s.up(ctx)
		if err != nil {
			b.Fatal(err)
		}
		c, err := harness.Attach(kubeconfigOf(b, res))
		if err != nil {
			b.Fatal(err)
		}
		if err := c.InstallCRDs(ctx, crds); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Apply(ctx, bodies(objs)); err != nil {
			b.Fatal(err)
		}
		if err := c.WaitAvailable(ctx, ns, deployments, 3*time.Minute); err != nil {
			b.Fatal(err)
		}
		bootstrap += time.Since(start)
		start = time.Now()
		again, err := s.up(ctx)
		if err != nil {
			b.Fatal(err)
		}
		noop += time.Since(start)
		if len(again.Ops) != 0 {
			b.Fatalf("no-op rerun ran %d remote commands", len(again.Ops))
		}
		b.StopTimer()
	}
	b.ReportMetric(bootstrap.Seconds()/float64(b.N), "s/bootstrap-to-apps")
	b.ReportMetric(noop.Seconds()/float64(b.N), "s/noop-rerun")
}
