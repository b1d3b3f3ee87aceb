package sites

import (
	"reflect"
	"slices"
	"testing"
)

// egressSite runs xgen-workflow and xgen-model (catalog flows to the internet) and
// xgen-core (none); workflowEgress is xgen-workflow's egress in the stack file (YAML flow
// mapping, "" for none) and extra more site YAML.
func egressSite(workflowEgress, extra string) string {
	wf := "{}"
	if workflowEgress != "" {
		wf = "{egress: " + workflowEgress + "}"
	}
	return `
services:
  xgen-frontend: {}
  xgen-core: {}
  xgen-workflow: ` + wf + `
  xgen-model: {}
` + extra
}

func flowsOf(t *testing.T, site *Site, service string) []EgressFlow {
	t.Helper()
	svc, ok := site.Service(service)
	if !ok {
		t.Fatalf("the site does not run %s", service)
	}
	return site.Egress(svc)
}

// The catalog says which services need the internet and why; a closed network opens none
// of those; a site adds a flow by name and turns a catalog flow off.
func TestEgressFlows(t *testing.T) {
	open := mustParse(t, egressSite("", ""))
	wf := flowsOf(t, open, "xgen-workflow")
	if len(wf) != 1 || wf[0].Name != "model-apis" || !wf[0].Internet || wf[0].CIDR != "0.0.0.0/0" ||
		!reflect.DeepEqual(wf[0].Ports, []int{443}) || wf[0].Why == "" {
		t.Errorf("xgen-workflow's catalog flows: %+v", wf)
	}
	if !reflect.DeepEqual(wf[0].Except, internetExcept) {
		t.Errorf("the internet leaves out %v, want the private ranges %v", wf[0].Except, internetExcept)
	}
	if f := flowsOf(t, open, "xgen-core"); len(f) != 0 {
		t.Errorf("xgen-core reaches beyond the site: %+v", f)
	}
	if got, want := open.InternetServices(), []string{"xgen-workflow: model-apis (443)", "xgen-model: model-downloads (443)"}; !sameElements(got, want) {
		t.Errorf("InternetServices: %q, want %q", got, want)
	}

	closed := mustParse(t, egressSite("", "networkPolicy: {closedNetwork: true}\n"))
	for _, svc := range []string{"xgen-workflow", "xgen-model"} {
		if f := flowsOf(t, closed, svc); len(f) != 0 {
			t.Errorf("closed network: %s reaches %+v", svc, f)
		}
	}
	if got := closed.InternetServices(); len(got) != 0 {
		t.Errorf("closed network: InternetServices %q", got)
	}

	site := mustParse(t, egressSite(`{erp: {cidrs: [10.20.0.0/16, 203.0.113.7/32], ports: [8443], why: "the customer's ERP API"}, model-apis: {enabled: false}}`, ""))
	got := flowsOf(t, site, "xgen-workflow")
	want := []EgressFlow{
		{Name: "erp", CIDR: "10.20.0.0/16", Ports: []int{8443}, Why: "the customer's ERP API"},
		{Name: "erp", CIDR: "203.0.113.7/32", Ports: []int{8443}, Why: "the customer's ERP API"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("a site's own flow, the catalog's off:\n got %+v\nwant %+v", got, want)
	}

	off := mustParse(t, egressSite("", "networkPolicy: {enabled: false}\n"))
	if got := off.InternetServices(); len(got) != 1 || got[0] == "" {
		t.Errorf("policies off: InternetServices %q, want the one line that says every service", got)
	}
}

// A cluster network outside the private ranges is left out of "the internet" too.
func TestInternetExceptsTheClusterNetworks(t *testing.T) {
	site := mustParse(t, clusterSite(oneServer+"  clusterCidr: 10.52.0.0/16\n"))
	if got := site.InternetExcept(); !reflect.DeepEqual(got, internetExcept) {
		t.Errorf("a private pod network is already left out: %v", got)
	}
	site = mustParse(t, clusterSite(oneServer+"  clusterCidr: 198.18.0.0/16\n"))
	if got := site.InternetExcept(); !slices.Contains(got, "198.18.0.0/16") {
		t.Errorf("the pod network 198.18.0.0/16 is not left out of the internet: %v", got)
	}
}

func TestBadEgressConfigs(t *testing.T) {
	const k = "site.services.xgen-workflow.egress"
	flow := func(body string) string { return egressSite("{erp: "+body+"}", "") }
	cases := []badConfig{
		{"CIDR that does not parse", flow("{cidrs: [10.20.0.0/33], ports: [443]}"), k + ".erp.cidrs[0]", "address block"},
		{"address without a prefix", flow("{cidrs: [10.20.0.1], ports: [443]}"), k + ".erp.cidrs[0]", "address block"},
		{"host bits", flow("{cidrs: [10.20.0.1/16], ports: [443]}"), k + ".erp.cidrs[0]", "10.20.0.0/16"},
		{"port out of range", flow("{cidrs: [10.20.0.0/16], ports: [70000]}"), k + ".erp.ports[0]", ""},
		{"port zero", flow("{cidrs: [10.20.0.0/16], ports: [0]}"), k + ".erp.ports[0]", ""},
		{"no ports", flow("{to: internet}"), k + ".erp.ports", "is required"},
		{"both", flow("{to: internet, cidrs: [10.20.0.0/16], ports: [443]}"), k + ".erp", "give one"},
		{"neither", flow("{ports: [443]}"), k + ".erp", "reaches nothing"},
		{"other shorthand", flow("{to: anywhere, ports: [443]}"), k + ".erp.to", "the only shorthand"},
		{"bad flow name", egressSite("{ERP_API: {cidrs: [10.20.0.0/16], ports: [443]}}", ""), k + ".ERP_API", "DNS label"},
		{"internet on a closed network", egressSite("{more-apis: {to: internet, ports: [443]}}", "networkPolicy: {closedNetwork: true}\n"),
			k + ".more-apis.to", "closed network"},
		{"egress without policies", egressSite("{erp: {cidrs: [10.20.0.0/16], ports: [443]}}", "networkPolicy: {enabled: false}\n"),
			"site.services.xgen-workflow.egress", "has no effect"},
		{"closed network without policies", egressSite("", "networkPolicy: {enabled: false, closedNetwork: true}\n"), "site.networkPolicy.closedNetwork", "has no effect"},
		{"unknown key", flow("{cidrs: [10.20.0.0/16], ports: [443], protocol: UDP}"), k + ".erp.protocol", ""},
	}
	checkBadConfigs(t, cases)
}

func sameElements(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
