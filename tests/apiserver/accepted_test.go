package apiserver

// "A config the program accepts must deploy": site configs generated from pools of ordinary
// and edge values (range limits, wildcards, IPv6, long names, odd quantities); every one the
// program accepts is applied in full to the local API server with strict validation
// (server-side dry run). A value the program lets through and Kubernetes refuses fails here,
// before it can fail an operator halfway through `pulumi up`.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"xgen-infra/internal/testkit/livetest"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/sites"
)

// pick returns one element of pool.
func pick[T any](r *rand.Rand, pool ...T) T { return pool[r.IntN(len(pool))] }

// rare returns bad one time in eight, else ok: values Kubernetes refuses, kept rare so most
// generated configs stay valid.
func rare[T any](r *rand.Rand, ok, bad T) T {
	if r.IntN(8) == 0 {
		return bad
	}
	return ok
}

// maybe sets m[key] to value with probability 1/2.
func maybe(r *rand.Rand, m map[string]any, key string, value any) {
	if r.IntN(2) == 0 {
		m[key] = value
	}
}

// generateSite builds one site object; many are valid, some are not (the program must then
// refuse them, which is fine: the test only holds the accepted ones to account). The pools
// include values Kubernetes refuses (an IP as an Ingress host, label values with spaces,
// numbers beyond int32, equal Service ports), so a check the program loses fails this test.
func generateSite(r *rand.Rand) map[string]any {
	site := map[string]any{}
	env := pick(r, "dev", "stg", "prd")
	site["environment"] = env
	maybe(r, site, "namespace", pick(r, "xgen", "acme-busan", strings.Repeat("n", 63), "x1"))
	maybe(r, site, "project", pick(r, "xgen", "p", "lotte-mall"))
	maybe(r, site, "sitePath", pick(r, "main", "aww", "a.b_c-d", "lotteimall"))
	image := map[string]any{}
	maybe(r, image, "registry", pick(r, "docker.x2bee.com", "10.100.1.65:5000", "registry:1", "r.example.com:65535", "localhost"))
	maybe(r, image, "tag", pick(r, "latest-amd64", "2026.11.1", "v1", strings.Repeat("t", 128), "_x"))
	maybe(r, image, "pullPolicy", pick(r, "IfNotPresent", "Always", "Never"))
	maybe(r, image, "registryUsername", pick(r, "puller", "robot$ci", "a@b.c"))
	site["image"] = image

	infra := map[string]any{}
	maybe(r, infra, "namespace", pick(r, "xgen-system", "infra", strings.Repeat("i", 63)))
	maybe(r, infra, "hostAddress", pick(r, "192.0.2.10", "10.0.0.5", "2001:db8::10", "203.0.113.200"))
	maybe(r, infra, "postgres", map[string]any{"port": pick(r, 1, 5432, 65535), "database": pick(r, "plateerag", "acme_db"), "user": pick(r, "xgen", "app-user")})
	maybe(r, infra, "redis", map[string]any{"port": pick(r, 6379, 65535)})
	maybe(r, infra, "qdrant", map[string]any{"port": pick(r, 6333, 1), "grpcPort": rare(r, pick(r, 6334, 65535), 6333)})
	maybe(r, infra, "objectStorage", map[string]any{
		"endpoint":       pick(r, "https://s3.ap-northeast-2.amazonaws.com", "http://10.0.0.9:9000", "http://[2001:db8::9]:9000"),
		"documentBucket": pick(r, "documents", "a.b-c", strings.Repeat("b", 63)),
	})
	site["infra"] = infra

	site["vars"] = map[string]any{"APP_SITE": pick(r, "x", "", "한국어 사이트", strings.Repeat("v", 1000)), "_A1": "1"}

	// Settings the site's shape would ignore are refused (docs/configuration.md): each is
	// generated only where it has an effect (a domain routes, no domain exposes a node port).
	ingress := map[string]any{"type": pick(r, "istio", "istio", "traefik", "none")}
	envCfg := map[string]any{}
	if ingress["type"] != "none" {
		maybe(r, envCfg, "domain", pick(r, "xgen.example.com", "*.example.com", "a.b.c.example.co.kr",
			strings.Repeat("a", 63)+".example.com", "*", rare(r, "xn--9n2bp8q.example", "10.0.0.5")))
	}
	if envCfg["domain"] != nil {
		maybe(r, envCfg, "tlsCredentialName", pick(r, "xgen-tls", "a.b-c"))
	}
	site["environments"] = map[string]any{env: envCfg}
	hasDomain := envCfg["domain"] != nil
	if !hasDomain && ingress["type"] != "none" {
		maybe(r, ingress, "exposeType", pick(r, "NodePort", "LoadBalancer"))
		maybe(r, ingress, "nodePort", pick(r, 0, 30000, 32767))
	}
	if hasDomain {
		maybe(r, ingress, "streamingPaths", []any{pick(r, "/api/stream", "/a/b-c_d.e~f", "/"+strings.Repeat("p", 200))})
		if ingress["type"] == "istio" {
			maybe(r, ingress, "sharedGateway", pick(r, "istio-system/istio-gateway", "gw/a.b"))
		}
		if ingress["type"] == "istio" && ingress["sharedGateway"] == nil {
			maybe(r, ingress, "gatewaySelector", map[string]any{pick(r, "istio", "app.kubernetes.io/name"): pick(r, "ingressgateway", "a.b-c_d", rare(r, strings.Repeat("g", 63), "ingress gateway"))})
		}
	}
	site["ingress"] = ingress

	services := map[string]any{"xgen-frontend": map[string]any{}}
	for _, name := range []string{"xgen-backend-gateway", "xgen-core", "xgen-workflow", "xgen-documents", "xgen-mcp-station", "xgen-model"} {
		if r.IntN(3) > 0 {
			services[name] = generateService(r, name)
		}
	}
	if ingress["type"] == "none" && r.IntN(2) == 0 {
		delete(services, "xgen-frontend")
	}
	site["services"] = services
	return site
}

func generateService(r *rand.Rand, name string) map[string]any {
	s := map[string]any{}
	maybe(r, s, "port", pick(r, 1, 8000, 65535))
	maybe(r, s, "tag", pick(r, "v2", "2026.12.0-rc.1"))
	if r.IntN(2) == 0 {
		s["autoscaling"] = map[string]any{"enabled": false}
		s["replicas"] = pick(r, 1, 2, 7, rare(r, math.MaxInt32, 1<<32))
	} else {
		min := pick(r, 1, 2, 10)
		s["autoscaling"] = map[string]any{"enabled": true, "minReplicas": min, "maxReplicas": pick(r, min, min+1, rare(r, math.MaxInt32, 1<<32+2)),
			"targetCPUUtilization": pick(r, 1, 80, 100)}
	}
	cpu := pick(r, [2]string{"1m", "10m"}, [2]string{"0.5", "1"}, [2]string{"100m", "2"}, [2]string{"1", "64"})
	mem := pick(r, [2]string{"1", "1Ki"}, [2]string{"512Mi", "1Gi"}, [2]string{"1e9", "2G"}, [2]string{"256Mi", "1Ti"})
	maybe(r, s, "resources", map[string]any{
		"requests": map[string]any{"cpu": cpu[0], "memory": mem[0]},
		"limits":   map[string]any{"cpu": cpu[1], "memory": mem[1]},
	})
	if name == "xgen-model" {
		maybe(r, s, "gpu", map[string]any{"count": pick(r, 1, 8), "nodeSelector": map[string]any{"nvidia.com/gpu.product": pick(r, "NVIDIA-A100-SXM4-80GB", rare(r, "a.b_c", "nvidia a100"))}})
	}
	maybe(r, s, "probes", map[string]any{
		"path":     pick(r, "/health", "/healthz?full=1", "/"),
		"liveness": map[string]any{"initialDelaySeconds": pick(r, 0, 600), "periodSeconds": pick(r, 1, 60), "timeoutSeconds": 1, "failureThreshold": pick(r, 1, 100)},
	})
	maybe(r, s, "terminationGracePeriodSeconds", pick(r, 1, 30, 3600))
	maybe(r, s, "preStopSleepSeconds", pick(r, 0, 5))
	maybe(r, s, "runAsUser", pick(r, 1, 1000, math.MaxInt32))
	maybe(r, s, "spreadAcrossNodes", pick(r, true, false))
	maybe(r, s, "config", map[string]any{"LOG_LEVEL": pick(r, "debug", "", "x=y")})
	return s
}

func TestAcceptedConfigsApply(t *testing.T) {
	livetest.ToolsDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := livetest.StartCluster(t)
	r := rand.New(rand.NewPCG(2026, 11))
	const generated = 120
	accepted := 0
	for i := 0; i < generated; i++ {
		site := generateSite(r)
		js, err := json.Marshal(site)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := sitetest.RunWithSecrets(fmt.Sprintf("gen-%d", i), map[string]string{sites.SiteKey: string(js)}, nil)
		if err != nil {
			continue // refused by the program before registering anything: fine
		}
		accepted++
		objs, err := rec.KubernetesObjects()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.DryRunApply(ctx, sitetest.Bodies(objs)); err != nil {
			t.Errorf("config %d was accepted by the program but refused by Kubernetes: %v\nsite: %s", i, err, js)
		}
	}
	t.Logf("%d of %d generated configs accepted, every accepted one applied in full", accepted, generated)
	// Not vacuous: the generator must produce a good share of valid configs.
	if accepted < generated/4 {
		t.Errorf("only %d of %d generated configs were accepted; the generator no longer exercises the apply path", accepted, generated)
	}
}
