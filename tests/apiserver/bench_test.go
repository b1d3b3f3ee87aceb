package apiserver

import (
	"context"
	"testing"
	"time"

	"xgen-infra/internal/testkit/harness"
	"xgen-infra/internal/testkit/livetest"
	"xgen-infra/internal/testkit/sitetest"
)

// BenchmarkHarnessStart: etcd, API server, controller-manager, scheduler, kwok, nodes and
// Istio CRDs from nothing to ready.
func BenchmarkHarnessStart(b *testing.B) {
	tools := livetest.ToolsDir(b)
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
	tools := livetest.ToolsDir(b)
	for _, stackFile := range sitetest.StackFiles(b) {
		b.Run(sitetest.StackName(stackFile), func(b *testing.B) {
			objs := sitetest.RehearsalObjects(b, stackFile, nil)
			ns, deployments := sitetest.DeploymentsOf(objs)
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
				if _, err := c.Apply(ctx, sitetest.Bodies(objs)); err != nil {
					b.Fatal(err)
				}
				if err := c.WaitAvailable(ctx, ns, deployments, 3*time.Minute); err != nil {
					b.Fatal(err)
				}
				converge += time.Since(start)
				start = time.Now()
				if _, err := c.Apply(ctx, sitetest.Bodies(objs)); err != nil {
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
