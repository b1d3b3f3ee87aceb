package components

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/internal/inprocess"
)

const networkPolicyType = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

func policyArgs() NetworkPoliciesArgs {
	return NetworkPoliciesArgs{
		Namespace: "xgen",
		Ingress:   &IngressSource{PodLabels: map[string]string{"istio": "ingressgateway"}},
		Services: []PolicyService{
			{Name: "front", Port: 3000, FromIngress: true, Calls: []string{"api"}},
			{Name: "api", Port: 8000, Egress: []PolicyEndpoint{{Name: "postgres", CIDR: "10.0.0.5/32", Ports: []int{5432}}}},
		},
	}
}

// TestNetworkPoliciesShape: what each policy says; the semantics of the whole set are
// checked by an independent evaluator in the root package (networkpolicy_test.go).
func TestNetworkPoliciesShape(t *testing.T) {
	rec, err := inprocess.Run(func(ctx *pulumi.Context) error {
		_, err := NewNetworkPolicies(ctx, "np", policyArgs())
		return err
	}, "test", "test", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	comp, _ := rec.Find("xgen:index:NetworkPolicies", "np")
	for _, name := range []string{DefaultDenyPolicy, "allow-dns", "front", "api"} {
		res, ok := rec.Find(networkPolicyType, name)
		if !ok || res.Parent != comp.URN {
			t.Errorf("policy %s missing or not parented to the component", name)
		}
	}
	deny := body(t, rec, networkPolicyType, DefaultDenyPolicy)
	if at(deny, "spec", "podSelector") == nil || at(deny, "spec", "ingress") != nil || at(deny, "spec", "egress") != nil ||
		at(deny, "spec", "policyTypes", 1) != "Egress" {
		t.Errorf("default-deny = %v", at(deny, "spec"))
	}
	api := body(t, rec, networkPolicyType, "api")
	checks := []struct {
		name      string
		got, want any
	}{
		{"api selects its pods", at(api, "spec", "podSelector", "matchLabels", NameLabel), "api"},
		{"front may call api", at(api, "spec", "ingress", 0, "from", 0, "podSelector", "matchExpressions", 0, "values", 0), "front"},
		{"on its port", at(api, "spec", "ingress", 0, "ports", 0, "port"), int64(8000)},
		{"no ingress from the gateway", at(api, "spec", "ingress", 1), nil},
		{"postgres by address", at(api, "spec", "egress", 0, "to", 0, "ipBlock", "cidr"), "10.0.0.5/32"},
		{"on its port", at(api, "spec", "egress", 0, "ports", 0, "port"), int64(5432)},
	}
	front := body(t, rec, networkPolicyType, "front")
	checks = append(checks, []struct {
		name      string
		got, want any
	}{
		{"gateway pods in any namespace", at(front, "spec", "ingress", 0, "from", 0, "podSelector", "matchLabels", "istio"), "ingressgateway"},
		{"front calls api on its port", at(front, "spec", "egress", 0, "ports", 0, "port"), int64(8000)},
	}...)
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestNetworkPoliciesRejectBadArgs(t *testing.T) {
	cases := []struct {
		name   string
		change func(*NetworkPoliciesArgs)
		want   string
	}{
		{"unknown callee", func(a *NetworkPoliciesArgs) { a.Services[0].Calls = []string{"nobody"} }, `calls "nobody"`},
		{"self call", func(a *NetworkPoliciesArgs) { a.Services[1].Calls = []string{"api"} }, `api calls "api"`},
		{"ingress without a source", func(a *NetworkPoliciesArgs) { a.Ingress = nil }, "Ingress names no source"},
		{"bad cidr", func(a *NetworkPoliciesArgs) { a.Services[1].Egress[0].CIDR = "10.0.0.5" }, "egress postgres"},
		{"cidr and namespace", func(a *NetworkPoliciesArgs) { a.Services[1].Egress[0].Namespace = "infra" }, "exactly one"},
		{"reserved name", func(a *NetworkPoliciesArgs) { a.Services[1].Name = DefaultDenyPolicy }, "reserved"},
		{"port", func(a *NetworkPoliciesArgs) { a.Services[1].Port = 0 }, "port 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := policyArgs()
			tc.change(&args)
			rec, err := inprocess.Run(func(ctx *pulumi.Context) error {
				_, err := NewNetworkPolicies(ctx, "np", args)
				return err
			}, "test", "test", nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if len(rec.Resources) != 0 {
				t.Errorf("%d resources registered despite the error", len(rec.Resources))
			}
		})
	}
}
