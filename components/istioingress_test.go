package components

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"xgen-infra/internal/inprocess"
)

const (
	gatewayType        = "kubernetes:networking.istio.io/v1:Gateway"
	virtualServiceType = "kubernetes:networking.istio.io/v1:VirtualService"
	ingressType        = "kubernetes:networking.k8s.io/v1:Ingress"
)

func ingressBase() IstioIngressArgs {
	return IstioIngressArgs{
		Namespace:       "xgen",
		Type:            IngressIstio,
		ExposeType:      "NodePort",
		GatewaySelector: map[string]string{"istio": "ingressgateway"},
		Hosts:           []string{"xgen.example.com"},
		Frontend:        Backend{Name: "xgen-frontend", Port: 3000},
		StreamingPaths:  []string{"/api/workflow/execute/based_id/stream", "/api/workflow/execute/deploy/stream"},
		Routes:          []Route{{PathPrefix: "/api/", Backend: Backend{Name: "xgen-backend-gateway", Port: 8000}}},
	}
}

func runIngress(t *testing.T, args IstioIngressArgs) (*inprocess.Recorder, []string) {
	t.Helper()
	var urls []string
	rec, err := inprocess.Run(func(ctx *pulumi.Context) error {
		ing, err := NewIstioIngress(ctx, "xgen", args)
		if err != nil {
			return err
		}
		// Exported so that the run awaits the apply.
		ctx.Export("urls", ing.URLs.ApplyT(func(u []string) []string { urls = u; return u }))
		return nil
	}, "test", "test", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rec, urls
}

func kinds(rec *inprocess.Recorder) []string {
	var out []string
	for _, r := range rec.Resources {
		if r.Custom {
			out = append(out, r.Type+"/"+r.Name)
		}
	}
	return out
}

func TestIngressRoutesInOrderWithSSEDone(t *testing.T) {
	args := ingressBase()
	args.Routes = append(args.Routes, Route{PathPrefix: "/api/admin/", Backend: Backend{Name: "xgen-core", Port: 8000}})
	rec, urls := runIngress(t, args)
	vs := body(t, rec, virtualServiceType, "xgen")
	http := at(vs, "spec", "http").([]any)
	var got []string
	for _, r := range http {
		got = append(got, at(r, "match", 0, "uri", "prefix").(string)+" -> "+at(r, "route", 0, "destination", "host").(string))
	}
	want := []string{
		"/api/workflow/execute/based_id/stream -> xgen-frontend.xgen.svc.cluster.local",
		"/api/workflow/execute/deploy/stream -> xgen-frontend.xgen.svc.cluster.local",
		"/api/admin/ -> xgen-core.xgen.svc.cluster.local", // longer prefix before /api/
		"/api/ -> xgen-backend-gateway.xgen.svc.cluster.local",
		"/ -> xgen-frontend.xgen.svc.cluster.local",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for i, r := range http {
		streaming := i < 2
		// No route may carry a deadline: Istio's default is none, and its CRD refuses "0s".
		if at(r, "timeout") != nil {
			t.Errorf("route %d has timeout %v: a stream would be cut at that deadline", i, at(r, "timeout"))
		}
		if streaming && at(r, "retries", "attempts") != int64(0) {
			t.Errorf("streaming route %d: retries %v, want attempts 0", i, at(r, "retries"))
		}
		if !streaming && at(r, "retries") != nil {
			t.Errorf("route %d: SSE settings leak onto an ordinary route", i)
		}
	}
	if at(vs, "spec", "gateways", 0) != "xgen/xgen-gateway" {
		t.Errorf("gateways = %v", at(vs, "spec", "gateways"))
	}
	if !reflect.DeepEqual(urls, []string{"http://xgen.example.com"}) {
		t.Errorf("urls = %v", urls)
	}
	gw, _ := rec.Find(gatewayType, "xgen-gateway")
	comp, _ := rec.Find("xgen:index:IstioIngress", "xgen")
	if gw.Parent != comp.URN {
		t.Error("gateway not parented to the component")
	}
}

func TestIngressGatewayServers(t *testing.T) {
	cases := []struct {
		name             string
		credential       string
		redirect         bool
		wantServers      int
		wantRedirect     any
		wantURL, wantTLS string
	}{
		{"http only", "", false, 1, nil, "http://xgen.example.com", ""},
		{"https", "xgen-tls", false, 2, nil, "https://xgen.example.com", "xgen-tls"},
		{"https with redirect", "xgen-tls", true, 2, true, "https://xgen.example.com", "xgen-tls"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := ingressBase()
			args.TLSCredentialName, args.HTTPSRedirect = tc.credential, tc.redirect
			rec, urls := runIngress(t, args)
			gw := body(t, rec, gatewayType, "xgen-gateway")
			servers := at(gw, "spec", "servers").([]any)
			if len(servers) != tc.wantServers || at(servers[0], "tls", "httpsRedirect") != tc.wantRedirect {
				t.Errorf("servers = %v", servers)
			}
			if tc.wantTLS != "" && (at(servers[1], "tls", "credentialName") != tc.wantTLS || at(servers[1], "tls", "mode") != "SIMPLE" || at(servers[1], "port", "number") != int64(443)) {
				t.Errorf("https server = %v", servers[1])
			}
			if at(gw, "spec", "selector", "istio") != "ingressgateway" {
				t.Errorf("selector = %v", at(gw, "spec", "selector"))
			}
			if urls[0] != tc.wantURL {
				t.Errorf("url %s, want %s", urls[0], tc.wantURL)
			}
		})
	}
}

func TestIngressSharedGateway(t *testing.T) {
	args := ingressBase()
	args.SharedGateway = "istio-system/istio-gateway"
	rec, urls := runIngress(t, args)
	if _, ok := rec.Find(gatewayType, "xgen-gateway"); ok {
		t.Error("a Gateway was created next to the shared one (certificate conflict)")
	}
	vs := body(t, rec, virtualServiceType, "xgen")
	if !reflect.DeepEqual(at(vs, "spec", "gateways"), []any{"istio-system/istio-gateway"}) {
		t.Errorf("gateways = %v", at(vs, "spec", "gateways"))
	}
	if urls[0] != "https://xgen.example.com" {
		t.Errorf("url %v", urls)
	}
}

func TestIngressWithoutDomainExposesFrontend(t *testing.T) {
	cases := []struct {
		name, expose string
		nodePort     int
		wantPort     int64
		wantNodePort any
		wantURLs     []string
	}{
		{"node port", "NodePort", 30080, 3000, int64(30080), []string{"http://<node-ip>:30080"}},
		{"any node port", "NodePort", 0, 3000, nil, nil},
		{"load balancer", "LoadBalancer", 0, 80, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := ingressBase()
			args.Hosts, args.ExposeType, args.NodePort = nil, tc.expose, tc.nodePort
			rec, urls := runIngress(t, args)
			if got := kinds(rec); !reflect.DeepEqual(got, []string{"kubernetes:core/v1:Service/xgen-frontend-external"}) {
				t.Fatalf("registered %v, want only the exposure Service (no Gateway, no VirtualService)", got)
			}
			svc := body(t, rec, "kubernetes:core/v1:Service", "xgen-frontend-external")
			if at(svc, "spec", "type") != tc.expose || at(svc, "spec", "ports", 0, "port") != tc.wantPort ||
				at(svc, "spec", "ports", 0, "nodePort") != tc.wantNodePort || at(svc, "spec", "selector", NameLabel) != "xgen-frontend" {
				t.Errorf("service spec = %v", at(svc, "spec"))
			}
			if len(urls) != len(tc.wantURLs) || (len(urls) > 0 && urls[0] != tc.wantURLs[0]) {
				t.Errorf("urls %v, want %v", urls, tc.wantURLs)
			}
		})
	}
}

// TestIngressWildcardHostStaysAString: "*" reaches the objects as a string and survives a
// YAML round trip (it is quoted, never read as an alias).
func TestIngressWildcardHostStaysAString(t *testing.T) {
	args := ingressBase()
	args.Hosts = []string{"*"}
	rec, _ := runIngress(t, args)
	objs, err := rec.KubernetesObjects()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		out, err := o.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "- *\n") {
			t.Errorf("%s renders an unquoted * host:\n%s", o.Kind, out)
		}
		var back map[string]any
		if err := yaml.Unmarshal(out, &back); err != nil {
			t.Fatalf("%s does not parse back: %v", o.Kind, err)
		}
		if o.Kind == "Gateway" && at(back, "spec", "servers", 0, "hosts", 0) != "*" {
			t.Errorf("gateway host after round trip = %v", at(back, "spec", "servers", 0, "hosts"))
		}
		if o.Kind == "VirtualService" && at(back, "spec", "hosts", 0) != "*" {
			t.Errorf("virtual service host after round trip = %v", at(back, "spec", "hosts"))
		}
	}
}

func TestIngressTraefik(t *testing.T) {
	args := ingressBase()
	args.Type, args.TLSCredentialName = IngressTraefik, "xgen-tls"
	rec, urls := runIngress(t, args)
	if got := kinds(rec); !reflect.DeepEqual(got, []string{ingressType + "/xgen"}) {
		t.Fatalf("registered %v, want only an Ingress", got)
	}
	ing := body(t, rec, ingressType, "xgen")
	if at(ing, "spec", "ingressClassName") != "traefik" || at(ing, "spec", "rules", 0, "host") != "xgen.example.com" ||
		at(ing, "spec", "tls", 0, "secretName") != "xgen-tls" {
		t.Errorf("ingress spec = %v", at(ing, "spec"))
	}
	var got []string
	for _, p := range at(ing, "spec", "rules", 0, "http", "paths").([]any) {
		got = append(got, at(p, "path").(string)+" -> "+at(p, "backend", "service", "name").(string))
	}
	want := []string{
		"/api/workflow/execute/based_id/stream -> xgen-frontend", "/api/workflow/execute/deploy/stream -> xgen-frontend",
		"/api/ -> xgen-backend-gateway", "/ -> xgen-frontend",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("paths = %v, want %v", got, want)
	}
	if urls[0] != "https://xgen.example.com" {
		t.Errorf("urls %v", urls)
	}
}

func TestIngressNoneCreatesNothing(t *testing.T) {
	args := ingressBase()
	args.Type = IngressNone
	rec, urls := runIngress(t, args)
	if got := kinds(rec); len(got) != 0 || len(urls) != 0 {
		t.Errorf("type none registered %v, urls %v", got, urls)
	}
}

func TestIngressRejectsBadInputBeforeRegistering(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*IstioIngressArgs)
		want string
	}{
		{"shared gateway form", func(a *IstioIngressArgs) { a.SharedGateway = "istio-gateway" }, "not namespace/name"},
		{"streaming path", func(a *IstioIngressArgs) { a.StreamingPaths = []string{"api/stream"} }, `"api/stream" does not start with /`},
		{"route path", func(a *IstioIngressArgs) { a.Routes[0].PathPrefix = "api" }, `route "api"`},
		{"type", func(a *IstioIngressArgs) { a.Type = "nginx" }, `Type "nginx"`},
		{"redirect without tls", func(a *IstioIngressArgs) { a.HTTPSRedirect = true }, "HTTPSRedirect needs TLSCredentialName"},
		{"no frontend", func(a *IstioIngressArgs) { a.Frontend = Backend{} }, "Frontend name and port"},
		{"traefik to another namespace", func(a *IstioIngressArgs) {
			a.Type = IngressTraefik
			a.Routes = append(a.Routes, Route{PathPrefix: "/grafana/", Backend: Backend{Name: "grafana", Port: 3000, Namespace: "xgen-observability"}})
		}, "Traefik's Ingress reaches only its own namespace"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := ingressBase()
			tc.mod(&args)
			rec, err := inprocess.Run(func(ctx *pulumi.Context) error {
				_, err := NewIstioIngress(ctx, "xgen", args)
				return err
			}, "test", "test", nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if len(rec.Resources) != 0 {
				t.Errorf("%d resources registered", len(rec.Resources))
			}
		})
	}
}

// A backend in another namespace (the observability add-on's Grafana) is routed to by its
// full in-cluster name.
func TestIngressRoutesToAnotherNamespace(t *testing.T) {
	args := ingressBase()
	args.Routes = append(args.Routes, Route{PathPrefix: "/grafana/", Backend: Backend{Name: "grafana", Port: 3000, Namespace: "xgen-observability"}})
	spec := args.virtualServiceSpec("istio-system/xgen")
	found := false
	for _, r := range spec["http"].([]any) {
		route := r.(map[string]any)
		if route["name"] == "grafana" {
			found = true
			dest := route["route"].([]any)[0].(map[string]any)["destination"].(map[string]any)
			if dest["host"] != "grafana.xgen-observability.svc.cluster.local" {
				t.Errorf("grafana routed to %v", dest["host"])
			}
		} else if dest := route["route"].([]any)[0].(map[string]any)["destination"].(map[string]any); !strings.HasSuffix(dest["host"].(string), "."+args.Namespace+".svc.cluster.local") {
			t.Errorf("%v routed out of the site's namespace: %v", route["name"], dest["host"])
		}
	}
	if !found {
		t.Error("no grafana route")
	}
}

// TestIngressRefusesWhatSitesAlwaysSets: the component has no fallbacks of its own for what
// the site model decides (one owner per default): each is checked.
func TestIngressRefusesWhatSitesAlwaysSets(t *testing.T) {
	cases := map[string]func(a *IstioIngressArgs){
		`Type ""`:                     func(a *IstioIngressArgs) { a.Type = "" },
		`ExposeType ""`:               func(a *IstioIngressArgs) { a.ExposeType = "" },
		"GatewaySelector is required": func(a *IstioIngressArgs) { a.GatewaySelector = nil },
	}
	for want, edit := range cases {
		args := ingressBase()
		edit(&args)
		_, err := inprocess.Run(func(ctx *pulumi.Context) error {
			_, err := NewIstioIngress(ctx, "xgen", args)
			return err
		}, "test", "test", nil, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
	shared := ingressBase()
	shared.GatewaySelector, shared.SharedGateway = nil, "istio-system/shared"
	if _, err := inprocess.Run(func(ctx *pulumi.Context) error {
		_, err := NewIstioIngress(ctx, "xgen", shared)
		return err
	}, "test", "test", nil, nil); err != nil {
		t.Errorf("a shared gateway needs no selector: %v", err)
	}
}
