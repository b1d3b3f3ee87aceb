package sites

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
)

// EgressSpec is one named outbound flow of a service beyond the site (its calls, infra and
// DNS are flows of their own): where to and on which TCP ports. Flows are keyed by name in
// ServiceSpec.Egress, so the catalog, its environments and the site merge flow by flow: a
// site adds a flow under a new name, changes one field of a catalog flow, or turns a
// catalog flow off with enabled: false.
type EgressSpec struct {
	// To is "internet" (EgressInternet): every address except the private, carrier-grade
	// NAT, loopback, link-local and cluster ranges (InternetExcept). Exactly one of To and
	// CIDRs.
	To string `json:"to,omitempty"`
	// CIDRs are the addresses the flow reaches, e.g. ["10.20.0.0/16", "203.0.113.7/32"].
	CIDRs []string `json:"cidrs,omitempty"`
	// Ports are the TCP ports (1-65535) it reaches there. Required.
	Ports []int `json:"ports,omitempty"`
	// Why says what the flow is for; `site status` and the docs show it.
	Why string `json:"why,omitempty"`
	// Enabled opens the flow. Default true; false turns a catalog flow off at a site.
	Enabled *bool `json:"enabled,omitempty"`
}

// EgressInternet is the EgressSpec.To shorthand for "the internet".
const EgressInternet = "internet"

// internetExcept are the ranges "the internet" leaves out (RFC 1918, RFC 6598, loopback,
// RFC 3927): private networks, where a site's own hosts and the cluster live, are opened
// by CIDR, never by the shorthand.
var internetExcept = []string{"10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"}

// EgressFlow is one open outbound flow of a resolved service.
type EgressFlow struct {
	// Name is the flow's key in ServiceSpec.Egress.
	Name string
	// CIDR and Except are the one address block it reaches: for the internet 0.0.0.0/0
	// except InternetExcept.
	CIDR   string
	Except []string
	// Internet says the flow is the "internet" shorthand.
	Internet bool
	// Ports are TCP ports.
	Ports []int
	// Why says what it is for.
	Why string
}

// InternetExcept is what the "internet" shorthand leaves out on this site: the private,
// carrier-grade NAT, loopback and link-local ranges, and the cluster's pod and Service
// networks where they lie outside them.
func (s *Site) InternetExcept() []string {
	except := slices.Clone(internetExcept)
	if cl := s.Config.Cluster; cl != nil {
		for _, cidr := range []string{cl.ClusterCIDR, cl.ServiceCIDR} {
			if !coveredBy(cidr, internetExcept) {
				except = append(except, cidr)
			}
		}
	}
	sort.Strings(except)
	return except
}

// coveredBy says whether cidr lies inside one of the blocks.
func coveredBy(cidr string, blocks []string) bool {
	ip, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return false
	}
	ones, _ := n.Mask.Size()
	for _, b := range blocks {
		_, bn, err := net.ParseCIDR(b)
		if err != nil {
			continue
		}
		bones, _ := bn.Mask.Size()
		if bn.Contains(ip) && bones <= ones {
			return true
		}
	}
	return false
}

// Egress is the service's open outbound flows, by name: its enabled flows, and on a closed
// network (networkPolicy.closedNetwork) none to the internet.
func (s *Site) Egress(svc Service) []EgressFlow {
	var flows []EgressFlow
	for _, name := range sortedMapKeys(svc.Spec.Egress) {
		e := svc.Spec.Egress[name]
		if e.Enabled != nil && !*e.Enabled {
			continue
		}
		internet := e.To == EgressInternet
		if internet && s.Config.NetworkPolicy.ClosedNetwork {
			continue
		}
		if internet {
			flows = append(flows, EgressFlow{Name: name, CIDR: "0.0.0.0/0", Except: s.InternetExcept(), Internet: true, Ports: e.Ports, Why: e.Why})
			continue
		}
		for _, cidr := range e.CIDRs {
			flows = append(flows, EgressFlow{Name: name, CIDR: cidr, Ports: e.Ports, Why: e.Why})
		}
	}
	return flows
}

// InternetServices lists the services that may reach the internet, with the flows that let
// them ("xgen-model: model-downloads (443)"), for `site status`: empty where none may, and
// one line saying so where the site's network policies are off (then every service may).
func (s *Site) InternetServices() []string {
	if !*s.Config.NetworkPolicy.Enabled {
		return []string{"every service (networkPolicy.enabled is false, so no flow is limited)"}
	}
	out := []string{}
	for _, svc := range s.Services {
		var names []string
		for _, f := range s.Egress(svc) {
			if f.Internet {
				names = append(names, fmt.Sprintf("%s (%s)", f.Name, joinInts(f.Ports)))
			}
		}
		if len(names) > 0 {
			out = append(out, svc.Name+": "+strings.Join(names, ", "))
		}
	}
	return out
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// validateEgress checks one service's flows (path "services.<name>.egress"); siteSpec is what
// the stack file itself wrote for the service, where the internet shorthand is refused on a
// closed network.
func validateEgress(p *problemList, path string, flows map[string]EgressSpec, siteSpec ServiceSpec, c *Config) {
	for _, name := range sortedMapKeys(flows) {
		e, key := flows[name], path+"."+name
		if !dnsLabel.MatchString(name) {
			p.add(key, name, "a flow name must be a lowercase DNS label that says what it reaches, e.g. \"model-apis\"")
		}
		if e.Enabled != nil && !*e.Enabled {
			continue
		}
		switch {
		case e.To != "" && len(e.CIDRs) > 0:
			p.add(key, nil, "has both to: %q and cidrs; give one (a catalog flow to the internet is turned off with enabled: false and replaced by a flow of another name)", e.To)
		case e.To == "" && len(e.CIDRs) == 0:
			p.add(key, nil, "reaches nothing; give to: internet or cidrs: [\"10.20.0.0/16\"]")
		case e.To != "" && e.To != EgressInternet:
			p.add(key+".to", e.To, "the only shorthand is %q; name other destinations by cidrs", EgressInternet)
		}
		for i, cidr := range e.CIDRs {
			if _, n, err := net.ParseCIDR(cidr); err != nil {
				p.add(fmt.Sprintf("%s.cidrs[%d]", key, i), cidr, "must be an address block such as \"10.20.0.0/16\" or \"203.0.113.7/32\"")
			} else if n.String() != cidr {
				p.add(fmt.Sprintf("%s.cidrs[%d]", key, i), cidr, "has host bits set; write the block as %s", n.String())
			}
		}
		if len(e.Ports) == 0 {
			p.add(key+".ports", nil, "is required: the TCP ports the service reaches there, e.g. [443]")
		}
		for i, port := range e.Ports {
			validatePort(p, fmt.Sprintf("%s.ports[%d]", key, i), port)
		}
		if own, ok := siteSpec.Egress[name]; ok && own.To == EgressInternet && c.NetworkPolicy.ClosedNetwork {
			p.add(key+".to", own.To, "a closed network (networkPolicy.closedNetwork: true) has no internet; name the addresses the service reaches by cidrs, or remove the flow")
		}
	}
}
