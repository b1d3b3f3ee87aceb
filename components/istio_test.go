package components

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/internal/inprocess"
)

func istioTestArgs() IstioArgs {
	return IstioArgs{
		Version: "1.31.1", Hub: "10.0.0.11:30500/istio", Namespace: "istio-system",
		Charts: map[string]ChartSource{
			"istio-base":           {Chart: "/opt/istio/manifests/charts/base"},
			"istiod":               {Chart: "istiod", Repo: "https://charts.example.com/istio", Version: "1.31.1"},
			"istio-ingressgateway": {Chart: "/opt/istio/manifests/charts/gateway"},
		},
		Gateway: IstioGatewayArgs{ServiceType: "NodePort", HTTPNodePort: 31080, HTTPSNodePort: 31443, Replicas: 2,
			Labels: map[string]string{"xgen.ai/gateway": "public"}},
	}
}

func runIstio(t *testing.T, args IstioArgs) *inprocess.Recorder {
	t.Helper()
	rec, err := inprocess.Run(func(ctx *pulumi.Context) error {
		_, err := NewIstio(ctx, "istio", args)
		return err
	}, "test", "test", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// The charts are registered in install order, each waiting for the one before (the
// namespace first), all children of the component, with exactly the computed values.
func TestIstioChartsInOrder(t *testing.T) {
	rec := runIstio(t, istioTestArgs())
	component, ok := rec.Find("xgen:index:Istio", "istio")
	if !ok {
		t.Fatal("no Istio component")
	}
	ns, ok := rec.Find("kubernetes:core/v1:Namespace", "istio-system")
	if !ok || ns.Parent != component.URN {
		t.Fatalf("namespace istio-system missing or not the component's child: %+v", ns)
	}
	charts := byType(rec, "kubernetes:helm.sh/v4:Chart")
	var names []string
	for _, c := range charts {
		names = append(names, c.Name)
	}
	if !reflect.DeepEqual(names, IstioReleases) {
		t.Fatalf("charts registered %v, want %v", names, IstioReleases)
	}
	values := IstioValues(istioTestArgs())
	prev := ns.URN
	for _, c := range charts {
		if c.Parent != component.URN {
			t.Errorf("%s: parent %s", c.Name, c.Parent)
		}
		if len(c.DependsOn) != 1 || c.DependsOn[0] != prev {
			t.Errorf("%s depends on %v, want %s", c.Name, c.DependsOn, prev)
		}
		prev = c.URN
		in, _ := c.PlainInputs()
		if in["name"] != c.Name || in["namespace"] != "istio-system" {
			t.Errorf("%s: release %v in %v", c.Name, in["name"], in["namespace"])
		}
		got, _ := json.Marshal(in["values"])
		if want, _ := json.Marshal(values[c.Name]); string(got) != string(want) {
			t.Errorf("%s values:\n got %s\nwant %s", c.Name, got, want)
		}
	}
	// A repository chart carries its repository and version; a local one neither.
	istiod, _ := rec.Find("kubernetes:helm.sh/v4:Chart", "istiod")
	in, _ := istiod.PlainInputs()
	if inprocess.Get(in, "repositoryOpts", "repo") != "https://charts.example.com/istio" || in["version"] != "1.31.1" || in["chart"] != "istiod" {
		t.Errorf("istiod chart source: %v", in)
	}
	base, _ := rec.Find("kubernetes:helm.sh/v4:Chart", "istio-base")
	in, _ = base.PlainInputs()
	if in["repositoryOpts"] != nil || in["version"] != nil || in["chart"] != "/opt/istio/manifests/charts/base" {
		t.Errorf("istio-base chart source: %v", in)
	}
}

func TestIstioValues(t *testing.T) {
	v := IstioValues(istioTestArgs())
	for _, release := range IstioReleases {
		if inprocess.Get(v[release], "global", "hub") != "10.0.0.11:30500/istio" || inprocess.Get(v[release], "global", "tag") != "1.31.1" {
			t.Errorf("%s: images from %v:%v", release, inprocess.Get(v[release], "global", "hub"), inprocess.Get(v[release], "global", "tag"))
		}
	}
	gw := v["istio-ingressgateway"]
	if inprocess.Get(gw, "service", "type") != "NodePort" || inprocess.Get(gw, "service", "ports", 1, "nodePort") != 31080 ||
		inprocess.Get(gw, "service", "ports", 2, "nodePort") != 31443 || inprocess.Get(gw, "labels", "xgen.ai/gateway") != "public" ||
		gw["replicaCount"] != 2 || inprocess.Get(gw, "autoscaling", "enabled") != false {
		t.Errorf("gateway values: %v", gw)
	}
	lb := istioTestArgs()
	lb.Gateway = IstioGatewayArgs{ServiceType: "LoadBalancer", Replicas: 1}
	gw = IstioValues(lb)["istio-ingressgateway"]
	if inprocess.Get(gw, "service", "type") != "LoadBalancer" || inprocess.Get(gw, "service", "ports", 1, "nodePort") != nil || gw["replicaCount"] != 1 {
		t.Errorf("load balancer gateway values: %v", gw)
	}
}

func TestIstioRefusesIncompleteArgs(t *testing.T) {
	cases := map[string]func(a *IstioArgs){
		"Version is required":          func(a *IstioArgs) { a.Version = "" },
		"Hub is required":              func(a *IstioArgs) { a.Hub = "" },
		"Charts[istiod] is required":   func(a *IstioArgs) { delete(a.Charts, "istiod") },
		"HTTPSNodePort are required":   func(a *IstioArgs) { a.Gateway.HTTPSNodePort = 0 },
		"use LoadBalancer or NodePort": func(a *IstioArgs) { a.Gateway.ServiceType = "ClusterIP" },
		// No fallbacks: what sites always sets is checked, not defaulted again here.
		`ServiceType ""`:        func(a *IstioArgs) { a.Gateway.ServiceType = "" },
		"Namespace is required": func(a *IstioArgs) { a.Namespace = "" },
		"Gateway.Replicas 0":    func(a *IstioArgs) { a.Gateway.Replicas = 0 },
	}
	for want, edit := range cases {
		args := istioTestArgs()
		edit(&args)
		_, err := inprocess.Run(func(ctx *pulumi.Context) error {
			_, err := NewIstio(ctx, "istio", args)
			return err
		}, "test", "test", nil, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
}
