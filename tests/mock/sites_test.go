package mock

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/sites"
)

var get = inprocess.Get

var sixServices = []string{"xgen-backend-gateway", "xgen-core", "xgen-documents", "xgen-frontend", "xgen-mcp-station", "xgen-workflow"}

func TestSiteXgen(t *testing.T) {
	v := sitetest.ViewOf(t, "Pulumi.xgen.yaml")
	want := append(append([]string{}, sixServices...), "xgen-model")
	sort.Strings(want)
	if got := v.AppNames("Deployment", "xgen"); !reflect.DeepEqual(got, want) {
		t.Errorf("deployments = %v, want %v", got, want)
	}
	model := v.Object(t, "Deployment", "xgen-model")
	if get(model, "spec", "template", "spec", "nodeSelector", "nvidia.com/gpu.present") != "true" {
		t.Error("xgen-model is not pinned to GPU nodes")
	}
	fe := v.ConfigMapOf(t, "xgen-frontend")
	if get(fe, "data", "MODEL_SERVICE_BASE_URL") != "http://xgen-model:8000" || get(fe, "data", "APP_SITE") != "xgen" {
		t.Errorf("frontend config = %v", get(fe, "data"))
	}
	// dev environment: the frontend autoscales (prd would pin 3 replicas).
	if !slices.Contains(v.Names("HorizontalPodAutoscaler"), "xgen-frontend") {
		t.Error("dev frontend has no HPA")
	}
	if img := get(v.Object(t, "Deployment", "xgen-core"), "spec", "template", "spec", "containers", 0, "image"); img != "docker.x2bee.com/xgen/main/xgen-core:latest-amd64" {
		t.Errorf("image %v", img)
	}
}

func TestSiteJeju(t *testing.T) {
	v := sitetest.ViewOf(t, "Pulumi.xgen-jeju.yaml")
	if got := v.AppNames("Deployment", "xgen"); !reflect.DeepEqual(got, sixServices) {
		t.Errorf("deployments = %v, want %v (no xgen-model without a GPU)", got, sixServices)
	}
	for _, o := range v.Objs {
		if strings.Contains(o.Name, "model") {
			t.Errorf("%s %s at a site without xgen-model", o.Kind, o.Name)
		}
		if o.Kind == "ConfigMap" && get(o.Body, "data", "MODEL_SERVICE_BASE_URL") != nil {
			t.Errorf("%s points at xgen-model", o.Name)
		}
	}
	fe := v.Object(t, "Deployment", "xgen-frontend")
	// prd: fixed 3 replicas (no HPA), with the site's own smaller resources.
	if get(fe, "spec", "replicas") != int64(3) || get(fe, "spec", "template", "spec", "containers", 0, "resources", "limits", "memory") != "1Gi" {
		t.Errorf("frontend replicas %v, limits %v", get(fe, "spec", "replicas"), get(fe, "spec", "template", "spec", "containers", 0, "resources", "limits"))
	}
	if slices.Contains(v.Names("HorizontalPodAutoscaler"), "xgen-frontend") {
		t.Error("prd frontend has an HPA")
	}
	if got := v.Names("Gateway"); len(got) != 0 {
		t.Errorf("gateway at a site without a domain: %v", got)
	}
}

func TestSiteLotteimall(t *testing.T) {
	v := sitetest.ViewOf(t, "Pulumi.lotteimall.yaml")
	// The apps in the site's own namespace; the infra Services (backed by the first K3s
	// server, which runs the Compose infra) in xgen-system; the observability add-on in its
	// own.
	if ns := v.Namespaces(); !reflect.DeepEqual(ns, map[string]bool{"lotteimall": true, "xgen-system": true, "xgen-observability": true}) {
		t.Errorf("namespaced objects in %v, want lotteimall, xgen-system and xgen-observability", ns)
	}
	// istio-system: the Istio add-on of the cluster the program makes (a domain, no shared
	// gateway).
	if got := v.Names("Namespace"); !reflect.DeepEqual(got, []string{"istio-system", "lotteimall", "xgen-observability", "xgen-system"}) {
		t.Errorf("namespaces created = %v", got)
	}
	img := get(v.Object(t, "Deployment", "xgen-workflow"), "spec", "template", "spec", "containers", 0, "image")
	if img != "docker.x2bee.com/xgen/lotteimall/xgen-workflow:latest-amd64" {
		t.Errorf("image %v, want the lotteimall site path", img)
	}
}

func TestSiteAww(t *testing.T) {
	v := sitetest.ViewOf(t, "Pulumi.xgen-aww.yaml")
	docs := v.ConfigMapOf(t, "xgen-documents")
	want := map[string]string{
		"MINIO_ENDPOINT": "https://s3.ap-northeast-2.amazonaws.com", "MINIO_SECURE": "true",
		"MINIO_DOCUMENT_BUCKET": "xgen-aww", "MINIO_FILE_STORAGE_BUCKET": "xgen-aww",
		"POSTGRES_HOST": "10.100.1.70", "REDIS_HOST": "10.100.1.70", "QDRANT_HOST": "10.100.1.70",
	}
	for k, w := range want {
		if got := get(docs, "data", k); got != w {
			t.Errorf("%s = %v, want %q", k, got, w)
		}
	}
	for _, k := range []string{"MINIO_DATA_ACCESS_KEY", "MINIO_DATA_SECRET_KEY"} {
		if get(docs, "data", k) != nil {
			t.Errorf("%s in a ConfigMap: the S3 key must come from the Secret only", k)
		}
		if get(v.Object(t, "Secret", "xgen-secrets"), "data", k) == nil {
			t.Errorf("%s missing from xgen-secrets (the name xgen-documents reads)", k)
		}
	}
	core := v.Object(t, "Deployment", "xgen-core")
	if img := get(core, "spec", "template", "spec", "containers", 0, "image"); img != "10.100.1.65:5000/xgen/aww/xgen-core:latest-amd64" {
		t.Errorf("image %v, want the site's own registry and path", img)
	}
	if get(core, "spec", "template", "spec", "imagePullSecrets", 0, "name") != "xgen-registry" {
		t.Error("no image pull secret for the site registry")
	}
	if get(v.Object(t, "Secret", "xgen-registry"), "type") != "kubernetes.io/dockerconfigjson" {
		t.Error("pull secret of the wrong type")
	}
}

// TestFifthSiteNeedsOnlyAStackFile: a site that exists only as testdata/Pulumi.<x>.yaml.
func TestFifthSiteNeedsOnlyAStackFile(t *testing.T) {
	v := sitetest.ViewOf(t, "testdata/Pulumi.acme-busan.yaml")
	if got, want := v.Names("Deployment"), []string{"xgen-backend-gateway", "xgen-core", "xgen-frontend", "xgen-workflow"}; !reflect.DeepEqual(got, want) {
		t.Errorf("deployments = %v, want %v", got, want)
	}
	if ns := v.Namespaces(); !reflect.DeepEqual(ns, map[string]bool{"acme": true, "xgen-system": true}) {
		t.Errorf("namespaces %v", ns)
	}
	// Redis, Qdrant and MinIO are on the host; PostgreSQL is external, so it gets no Service.
	if got, want := v.Names("EndpointSlice"), []string{"minio-host", "qdrant-host", "redis-host"}; !reflect.DeepEqual(got, want) {
		t.Errorf("endpoint slices %v, want %v", got, want)
	}
	q := v.Object(t, "EndpointSlice", "qdrant-host")
	if get(q, "endpoints", 0, "addresses", 0) != "192.0.2.10" || get(q, "metadata", "labels", "kubernetes.io/service-name") != "qdrant" ||
		get(q, "ports", 1, "port") != int64(6334) {
		t.Errorf("qdrant slice %v", q)
	}
	if get(v.Object(t, "Service", "qdrant"), "spec", "selector") != nil {
		t.Error("host service has a selector")
	}
	core := v.Object(t, "Deployment", "xgen-core")
	if get(core, "spec", "replicas") != int64(2) || get(core, "spec", "template", "spec", "containers", 0, "image") != "registry.acme.example:5000/xgen/acme/xgen-core:2026.11.1" {
		t.Errorf("core replicas %v image %v", get(core, "spec", "replicas"), get(core, "spec", "template", "spec", "containers", 0, "image"))
	}
	if get(v.ConfigMapOf(t, "xgen-core"), "data", "POSTGRES_DB") != "acme" {
		t.Error("site infra not applied")
	}
}

func TestSiteIngress(t *testing.T) {
	cases := []struct {
		stackFile, wantGatewayRef string
		wantGateways              []string
		wantHosts                 []any
	}{
		{"Pulumi.xgen.yaml", "xgen/xgen-gateway", []string{"xgen-gateway"}, []any{"xgen.x2bee.com", "xgen.infoedu.co.kr"}},
		{"Pulumi.lotteimall.yaml", "lotteimall/xgen-gateway", []string{"xgen-gateway"}, []any{"agent.lotteimall.com"}},
		{"Pulumi.xgen-aww.yaml", "istio-system/istio-gateway", nil, []any{"xgen.lamitie.kr"}},
	}
	for _, tc := range cases {
		t.Run(tc.stackFile, func(t *testing.T) {
			v := sitetest.ViewOf(t, tc.stackFile)
			ns := strings.SplitN(tc.wantGatewayRef, "/", 2)[0] // the site's own namespace, or a shared gateway's
			if got := v.AppNames("Gateway", ns); !reflect.DeepEqual(got, tc.wantGateways) {
				t.Errorf("gateways %v, want %v", got, tc.wantGateways)
			}
			vs := v.Object(t, "VirtualService", "xgen") // the stack's own environment's, first
			if get(vs, "spec", "gateways", 0) != tc.wantGatewayRef || !reflect.DeepEqual(get(vs, "spec", "hosts"), tc.wantHosts) {
				t.Errorf("virtual service gateways %v hosts %v", get(vs, "spec", "gateways"), get(vs, "spec", "hosts"))
			}
			// The API route is there, before the catch-all "/" (longest prefix first: with
			// Grafana's /grafana/ it is no longer the third).
			routes, _ := get(vs, "spec", "http").([]any)
			var prefixes []any
			for i := range routes {
				prefixes = append(prefixes, get(vs, "spec", "http", i, "match", 0, "uri", "prefix"))
			}
			if !slices.Contains(prefixes, any("/api/")) || len(prefixes) == 0 || prefixes[len(prefixes)-1] != "/" {
				t.Errorf("route prefixes %v: want /api/ and, last, /", prefixes)
			}
		})
	}
	jeju := sitetest.ViewOf(t, "Pulumi.xgen-jeju.yaml")
	if len(jeju.Names("VirtualService"))+len(jeju.Names("Gateway"))+len(jeju.Names("Ingress")) != 0 {
		t.Error("ingress objects at a site without a domain")
	}
	if get(jeju.Object(t, "Service", "xgen-frontend-external"), "spec", "type") != "NodePort" {
		t.Error("jeju frontend is not exposed on a NodePort")
	}
}

// TestRoutesOnlyForServicesTheSiteRuns: without xgen-backend-gateway there is no /api/ route.
func TestRoutesOnlyForServicesTheSiteRuns(t *testing.T) {
	config := map[string]string{sites.SiteKey: `{"environments": {"prd": {"domain": "a.example.com"}}, "services": {"xgen-frontend": {}, "xgen-core": {}}}`}
	rec, err := sitetest.RunWithSecrets("small", config, nil)
	if err != nil {
		t.Fatal(err)
	}
	objs, _ := rec.KubernetesObjects()
	v := sitetest.View{Rec: rec, Objs: objs}
	var prefixes []string
	for _, r := range get(v.Object(t, "VirtualService", "xgen"), "spec", "http").([]any) {
		prefixes = append(prefixes, get(r, "match", 0, "uri", "prefix").(string))
	}
	want := append(append([]string{}, sites.DefaultStreamingPaths...), "/")
	if !reflect.DeepEqual(prefixes, want) {
		t.Errorf("routes %v, want %v", prefixes, want)
	}
}

// TestEveryObjectUsesTheSiteProvider: no Kubernetes resource may fall back to Pulumi's
// default provider, which would deploy to whatever cluster the ambient kubeconfig names.
func TestEveryObjectUsesTheSiteProvider(t *testing.T) {
	for _, stackFile := range append(sitetest.StackFiles(t), "testdata/Pulumi.acme-busan.yaml") {
		rec := sitetest.Run(t, stackFile)
		provider, ok := rec.Find("pulumi:providers:kubernetes", "k8s")
		if !ok {
			t.Fatalf("%s: no explicit kubernetes provider", stackFile)
		}
		for _, r := range rec.Resources {
			if r.Custom && strings.HasPrefix(r.Type, "kubernetes:") && !strings.HasPrefix(r.Provider, provider.URN+"::") {
				t.Errorf("%s: %s %s uses provider %q", stackFile, r.Type, r.Name, r.Provider)
			}
		}
	}
}

// TestNoHostChangesBeforeEveryPreflight: on a site that installs K3s and runs the compose
// infra, the first change on each host (K3s' host marker, the compose project) waits for
// every host's preflight, so that one bad host stops the site before any change on any host.
func TestNoHostChangesBeforeEveryPreflight(t *testing.T) {
	for _, stackFile := range []string{"Pulumi.xgen.yaml", "Pulumi.xgen-jeju.yaml", "Pulumi.lotteimall.yaml"} {
		t.Run(stackFile, func(t *testing.T) {
			rec := sitetest.Run(t, stackFile)
			var preflights, gated []inprocess.Resource
			for _, r := range rec.Resources {
				switch {
				case r.Type != "command:remote:Command":
				case strings.HasPrefix(r.Name, "preflight-"):
					preflights = append(preflights, r)
				case strings.HasPrefix(r.Name, "host-") || r.Name == "infra-project":
					gated = append(gated, r)
				}
			}
			if len(preflights) == 0 || !slices.ContainsFunc(gated, func(r inprocess.Resource) bool { return r.Name == "infra-project" }) {
				t.Fatalf("%d preflights, first changes %d: the site has no cluster and compose infra", len(preflights), len(gated))
			}
			for _, g := range gated {
				for _, p := range preflights {
					if !slices.Contains(g.DependsOn, p.URN) {
						t.Errorf("%s does not wait for %s", g.Name, p.Name)
					}
				}
			}
		})
	}
}
