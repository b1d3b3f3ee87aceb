package mock

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/sitetest"
)

// The head office runs prd beside dev (Pulumi.xgen.yaml): prd's services in their own
// namespace, on their own domain, with their own database, Redis, Qdrant and buckets; the
// hosts, cluster and compose project once.
func TestHeadOfficeRunsPrdBesideDev(t *testing.T) {
	v := sitetest.ViewOf(t, "Pulumi.xgen.yaml")
	if got, want := v.AppNames("Deployment", "xgen-prd"), []string{"xgen-backend-gateway", "xgen-core", "xgen-documents", "xgen-frontend", "xgen-mcp-station", "xgen-workflow"}; !reflect.DeepEqual(got, want) {
		t.Errorf("prd deployments %v, want %v (the GPU's xgen-model stays dev's)", got, want)
	}
	if got := v.AppNames("Deployment", "xgen"); len(got) != 7 {
		t.Errorf("dev deployments %v, want all seven", got)
	}
	// One K3s cluster and one compose project.
	for _, typ := range []string{"xgen:index:K3sCluster", "xgen:index:InfraCompose", "xgen:index:HostServices"} {
		n := 0
		for _, r := range v.Rec.Resources {
			if r.Type == typ {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d of %s, want one", n, typ)
		}
	}
	cm := func(ns string) map[string]any {
		name, _ := inprocess.Get(v.ObjectIn(t, "Deployment", ns, "xgen-core"), "spec", "template", "spec", "containers", 0, "envFrom", 0, "configMapRef", "name").(string)
		data, _ := v.ObjectIn(t, "ConfigMap", ns, name)["data"].(map[string]any)
		return data
	}
	for ns, want := range map[string]map[string]any{
		"xgen": {"POSTGRES_DB": "plateerag", "POSTGRES_USER": "xgen", "REDIS_HOST": "redis.xgen-system.svc.cluster.local", "REDIS_PORT": "6379",
			"QDRANT_HOST": "qdrant.xgen-system.svc.cluster.local", "QDRANT_PORT": "6333", "MINIO_DOCUMENT_BUCKET": "documents", "MINIO_FILE_STORAGE_BUCKET": "files"},
		"xgen-prd": {"POSTGRES_DB": "plateerag_prd", "POSTGRES_USER": "xgen_prd", "REDIS_HOST": "redis-prd.xgen-system.svc.cluster.local", "REDIS_PORT": "6380",
			"QDRANT_HOST": "qdrant-prd.xgen-system.svc.cluster.local", "QDRANT_PORT": "6343", "QDRANT_GRPC_PORT": "6344",
			"MINIO_DOCUMENT_BUCKET": "documents-prd", "MINIO_FILE_STORAGE_BUCKET": "files-prd"},
	} {
		data := cm(ns)
		for k, w := range want {
			if data[k] != w {
				t.Errorf("%s: xgen-core's %s = %v, want %v", ns, k, data[k], w)
			}
		}
	}
	// prd's own Redis and Qdrant are reached through their own host Services.
	for _, name := range []string{"redis-prd", "qdrant-prd"} {
		if get(v.ObjectIn(t, "Service", "xgen-system", name), "spec", "selector") != nil {
			t.Errorf("%s has a selector", name)
		}
	}
	// Each environment's route on the one gateway, by its domain.
	// (dev also answers on the seeds' dev frontend host, its alias.)
	for ns, hosts := range map[string][]any{"xgen": {"xgen.x2bee.com", "xgen.infoedu.co.kr"}, "xgen-prd": {"jeju-xgen.x2bee.com"}} {
		vs := v.ObjectIn(t, "VirtualService", ns, "xgen")
		if got := get(vs, "spec", "hosts"); !reflect.DeepEqual(got, hosts) || get(vs, "spec", "gateways", 0) != ns+"/xgen-gateway" {
			t.Errorf("%s: virtual service hosts %v gateways %v", ns, got, get(vs, "spec", "gateways"))
		}
		gw := v.ObjectIn(t, "Gateway", ns, "xgen-gateway")
		if got := get(gw, "spec", "servers", 0, "hosts"); !reflect.DeepEqual(got, hosts) {
			t.Errorf("%s: gateway hosts %v", ns, got)
		}
	}
	// prd's pods read prd's passwords: the secrets of prd's own keys (each placeholder of
	// this run names its key).
	devSecret, prdSecret := v.ObjectIn(t, "Secret", "xgen", "xgen-secrets"), v.ObjectIn(t, "Secret", "xgen-prd", "xgen-secrets")
	for _, key := range []string{"POSTGRES_PASSWORD", "REDIS_PASSWORD"} {
		dev, prd := get(devSecret, "data", key), get(prdSecret, "data", key)
		if dev == nil || prd == nil || dev == prd {
			t.Errorf("%s: dev %v, prd %v: want each environment's own", key, dev, prd)
		}
	}
	// The compose project runs prd's Redis and Qdrant and makes its database.
	project := composeFile(t, v.Rec)
	for _, want := range []string{"redis-prd:", "qdrant-prd:", ":6380:6379", ":6343:6333", "XGEN_DB_PRD: plateerag_prd", "XGEN_ENVIRONMENTS: prd", "documents-prd"} {
		if !strings.Contains(project, want) {
			t.Errorf("compose file lacks %q", want)
		}
	}
}

// The observability add-on watches prd too: its services scraped (a job each), its own Redis
// and Qdrant probed, its spans taken.
func TestHeadOfficeObservesPrd(t *testing.T) {
	v := sitetest.ViewOf(t, "Pulumi.xgen.yaml")
	var prometheus string
	for _, o := range v.Objs {
		if o.Kind == "ConfigMap" && strings.Contains(o.Name, "prometheus-config") {
			data, _ := o.Body["data"].(map[string]any)
			for _, text := range data {
				if s, _ := text.(string); strings.Contains(s, "scrape_configs") {
					prometheus = s
				}
			}
		}
	}
	if prometheus == "" {
		t.Fatal("no Prometheus configuration")
	}
	for _, want := range []string{"job_name: xgen-prd/xgen-core", "job_name: xgen-core", "redis-prd.xgen-system.svc.cluster.local:6380", "qdrant-prd.xgen-system.svc.cluster.local:6343"} {
		if !strings.Contains(prometheus, want) {
			t.Errorf("Prometheus' configuration lacks %q", want)
		}
	}
	traces := v.ObjectIn(t, "NetworkPolicy", "xgen-observability", "allow-site-traces")
	var from []any
	for i := 0; i < 2; i++ {
		from = append(from, get(traces, "spec", "ingress", 0, "from", i, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"))
	}
	if !reflect.DeepEqual(from, []any{"xgen", "xgen-prd"}) {
		t.Errorf("spans are taken from %v, want both environments", from)
	}
}

// A change to dev's own settings leaves every resource of prd as it was.
func TestSideEnvironmentIsIndependent(t *testing.T) {
	base := sitetest.Run(t, "Pulumi.xgen.yaml")
	changed, err := sitetest.RunStack("Pulumi.xgen.yaml", func(site map[string]any) {
		envs := site["environments"].(map[string]any)
		envs["dev"].(map[string]any)["domain"] = "dev.xgen.example"
		site["infra"] = map[string]any{"compose": site["infra"].(map[string]any)["compose"],
			"postgres": map[string]any{"database": "devdb", "user": "devuser"}, "redis": map[string]any{"port": 6390}}
	})
	if err != nil {
		t.Fatal(err)
	}
	prd := func(rs []inprocess.Resource) map[string]resource.PropertyMap {
		out := map[string]resource.PropertyMap{}
		for _, r := range rs {
			if strings.Contains(r.URN, "xgen:environment:prd") {
				out[r.URN] = r.Inputs
			}
		}
		return out
	}
	before, after := prd(base.Resources), prd(changed.Resources)
	if len(before) < 20 {
		t.Fatalf("only %d resources of prd", len(before))
	}
	for urn, in := range before {
		if !reflect.DeepEqual(in, after[urn]) {
			t.Errorf("%s changed with dev's settings:\n%v\n%v", urn, in, after[urn])
		}
	}
	// ... and dev did change (the test would prove nothing otherwise).
	devVS, _ := changed.Find("kubernetes:networking.istio.io/v1:VirtualService", "xgen")
	if !strings.Contains(fmt.Sprint(devVS.Inputs), "dev.xgen.example") {
		t.Error("dev's route did not take its new domain")
	}
}

// composeFile is the compose.yaml the program writes to the compose host.
func composeFile(t *testing.T, rec *inprocess.Recorder) string {
	t.Helper()
	res, ok := rec.Find("command:remote:Command", "infra-file-compose")
	if !ok {
		t.Fatal("no command writes compose.yaml")
	}
	plain, _ := res.PlainInputs()
	file, _ := plain["stdin"].(string)
	return file
}
