package hosts

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"xgen-infra/internal/testkit/harness"
	"xgen-infra/internal/testkit/livetest"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/internal/testkit/testhosts"
)

// BenchmarkHostLayer: three bare test hosts (server, agent, GPU agent) to K3s to the xgen
// site's apps Available (host commands over SSH, then the apps applied through the read-back
// kubeconfig), and the no-op rerun of the host layer (0 remote commands).
func BenchmarkHostLayer(b *testing.B) {
	var bootstrap, noop time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx := context.Background()
		hosts := livetest.StartHosts(b, []testhosts.Spec{{Name: "xgen-1", Docker: livetest.Docker(b)}, {Name: "xgen-2"}, {Name: "xgen-gpu", GPU: true}})
		s := &hostStack{t: b, hosts: hosts, engine: testhosts.NewEngine(), stackFile: "Pulumi.xgen.yaml",
			artifacts: livetest.StandInArtifacts(b, livetest.HostsVersion), servers: []string{"xgen-1"}, agents: []string{"xgen-2", "xgen-gpu"}}
		objs := sitetest.RehearsalObjects(b, "Pulumi.xgen.yaml", sitetest.WithRehearsalHost)
		ns, deployments := sitetest.DeploymentsOf(objs)
		crds, err := os.ReadFile(filepath.Join(livetest.ToolsDir(b), "istio-crds.yaml"))
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
		if _, err := c.Apply(ctx, sitetest.Bodies(objs)); err != nil {
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
