package components

import (
	"errors"
	"fmt"
	"net"
	"slices"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NetworkPoliciesArgs declares every flow of the application namespace; everything else is
// denied, in both directions.
type NetworkPoliciesArgs struct {
	// Namespace the services run in. Required.
	Namespace string
	// Services are every service in Namespace (pods labelled NameLabel=Name). Required.
	Services []PolicyService
	// Ingress is where outside traffic reaches the services with FromIngress. Required when
	// one has it.
	Ingress *IngressSource
	// DNS is the cluster DNS every pod may query. Default: pods labelled k8s-app=kube-dns
	// in kube-system (CoreDNS on K3s and EKS alike), UDP and TCP 53.
	DNS *DNSPeer
	// Scraper is the metrics scraper (the observability add-on's Prometheus), admitted to
	// every service on its MetricsPort. Default none.
	Scraper *ScrapeSource
	// Labels are added to every policy. Default none.
	Labels map[string]string
}

// ScrapeSource is the pods that scrape the services' metrics.
type ScrapeSource struct {
	Namespace string
	PodLabels map[string]string
}

// PolicyService is one service's flows.
type PolicyService struct {
	// Name selects the pods (NameLabel) and names the policy.
	Name string
	// Port is the service's container port, the only port it is reached on.
	Port int
	// Calls are other Services entries it calls on their Port.
	Calls []string
	// FromIngress admits the ingress (Args.Ingress) on Port.
	FromIngress bool
	// MetricsPort is where Args.Scraper scrapes it. Default 0: Port.
	MetricsPort int
	// NoMetrics: the service serves no metrics, so the scraper is not let in. Default false.
	NoMetrics bool
	// Egress are destinations outside the namespace: the infra endpoints.
	Egress []PolicyEndpoint
}

// PolicyEndpoint is a destination outside the namespace: exactly one of CIDR (an address,
// "10.0.0.5/32"; "0.0.0.0/0" for a host known only by name) or Namespace (its pods).
type PolicyEndpoint struct {
	// Name says what it is (postgres, objectStorage, a named egress flow ...), for errors.
	Name      string
	CIDR      string
	Namespace string
	// Except are blocks inside CIDR it does not reach (the internet leaves out the private
	// ranges). Default none.
	Except []string
	// Ports are TCP ports.
	Ports []int
}

// IngressSource is where the ingress traffic comes from.
type IngressSource struct {
	// PodLabels select the ingress pods (the Istio gateway, Traefik) in any namespace.
	PodLabels map[string]string
	// Anywhere admits every source: a NodePort or LoadBalancer Service brings outside
	// clients straight to the pods.
	Anywhere bool
}

// DNSPeer is the cluster DNS.
type DNSPeer struct {
	Namespace string
	PodLabels map[string]string
}

// NetworkPolicies is a default-deny policy, a DNS policy and one policy per service.
type NetworkPolicies struct {
	pulumi.ResourceState

	Policies []*networkingv1.NetworkPolicy
}

// DefaultDenyPolicy is the name of the policy that selects every pod and allows nothing.
const DefaultDenyPolicy = "default-deny"

// NewNetworkPolicies registers the policies.
func NewNetworkPolicies(ctx *pulumi.Context, name string, args NetworkPoliciesArgs, opts ...pulumi.ResourceOption) (*NetworkPolicies, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("network policies: %w", err)
	}
	dns := args.DNS
	if dns == nil {
		dns = &DNSPeer{Namespace: "kube-system", PodLabels: map[string]string{"k8s-app": "kube-dns"}}
	}
	comp := &NetworkPolicies{}
	if err := ctx.RegisterComponentResource("xgen:index:NetworkPolicies", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	register := func(policyName string, spec *networkingv1.NetworkPolicySpecArgs) error {
		p, err := networkingv1.NewNetworkPolicy(ctx, policyName, &networkingv1.NetworkPolicyArgs{
			Metadata: objectMeta(policyName, args.Namespace, args.Labels),
			Spec:     spec,
		}, parent)
		if err == nil {
			comp.Policies = append(comp.Policies, p)
		}
		return err
	}
	both := pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")}
	everyPod := &metav1.LabelSelectorArgs{}

	// Nothing in or out unless a policy below says so.
	if err := register(DefaultDenyPolicy, &networkingv1.NetworkPolicySpecArgs{PodSelector: everyPod, PolicyTypes: both}); err != nil {
		return nil, err
	}
	if err := register("allow-dns", &networkingv1.NetworkPolicySpecArgs{
		PodSelector: everyPod,
		PolicyTypes: pulumi.StringArray{pulumi.String("Egress")},
		Egress: networkingv1.NetworkPolicyEgressRuleArray{networkingv1.NetworkPolicyEgressRuleArgs{
			To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
				NamespaceSelector: namespaceSelector(dns.Namespace),
				PodSelector:       &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(dns.PodLabels)},
			}},
			Ports: networkingv1.NetworkPolicyPortArray{port("UDP", 53), port("TCP", 53)},
		}},
	}); err != nil {
		return nil, err
	}

	ports := map[string]int{}
	callers := map[string][]string{}
	for _, s := range args.Services {
		ports[s.Name] = s.Port
		for _, callee := range s.Calls {
			callers[callee] = append(callers[callee], s.Name)
		}
	}
	for _, s := range args.Services {
		ingress := networkingv1.NetworkPolicyIngressRuleArray{}
		egress := networkingv1.NetworkPolicyEgressRuleArray{}
		own := networkingv1.NetworkPolicyPortArray{port("TCP", s.Port)}
		if from := callers[s.Name]; len(from) > 0 {
			slices.Sort(from)
			ingress = append(ingress, networkingv1.NetworkPolicyIngressRuleArgs{
				From:  networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{PodSelector: podsNamedAny(from)}},
				Ports: own,
			})
		}
		if s.FromIngress {
			rule := networkingv1.NetworkPolicyIngressRuleArgs{Ports: own}
			if !args.Ingress.Anywhere {
				rule.From = networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
					NamespaceSelector: &metav1.LabelSelectorArgs{},
					PodSelector:       &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(args.Ingress.PodLabels)},
				}}
			}
			ingress = append(ingress, rule)
		}
		if sc := args.Scraper; sc != nil && !s.NoMetrics {
			metrics := s.MetricsPort
			if metrics == 0 {
				metrics = s.Port
			}
			ingress = append(ingress, networkingv1.NetworkPolicyIngressRuleArgs{
				From: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
					NamespaceSelector: namespaceSelector(sc.Namespace),
					PodSelector:       &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(sc.PodLabels)},
				}},
				Ports: networkingv1.NetworkPolicyPortArray{port("TCP", metrics)},
			})
		}
		for _, callee := range s.Calls {
			egress = append(egress, networkingv1.NetworkPolicyEgressRuleArgs{
				To:    networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{PodSelector: podsNamed(callee)}},
				Ports: networkingv1.NetworkPolicyPortArray{port("TCP", ports[callee])},
			})
		}
		for _, e := range s.Egress {
			peer := networkingv1.NetworkPolicyPeerArgs{}
			if e.Namespace != "" {
				peer.NamespaceSelector = namespaceSelector(e.Namespace)
			} else {
				block := &networkingv1.IPBlockArgs{Cidr: pulumi.String(e.CIDR)}
				if len(e.Except) > 0 { // none: no except key (an empty list is a diff on every site)
					block.Except = pulumi.ToStringArray(e.Except)
				}
				peer.IpBlock = block
			}
			rule := networkingv1.NetworkPolicyEgressRuleArgs{To: networkingv1.NetworkPolicyPeerArray{peer}}
			var ps networkingv1.NetworkPolicyPortArray
			for _, p := range e.Ports {
				ps = append(ps, port("TCP", p))
			}
			rule.Ports = ps
			egress = append(egress, rule)
		}
		spec := &networkingv1.NetworkPolicySpecArgs{PodSelector: podsNamed(s.Name), PolicyTypes: both, Ingress: ingress, Egress: egress}
		if err := register(s.Name, spec); err != nil {
			return nil, err
		}
	}
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{"policies": pulumi.Int(len(comp.Policies))}); err != nil {
		return nil, err
	}
	return comp, nil
}

func (a *NetworkPoliciesArgs) validate() error {
	var errs []error
	if a.Namespace == "" || len(a.Services) == 0 {
		errs = append(errs, errors.New("Namespace and at least one service are required"))
	}
	names := map[string]bool{}
	for _, s := range a.Services {
		if s.Name == "" || names[s.Name] || s.Name == DefaultDenyPolicy || s.Name == "allow-dns" {
			errs = append(errs, fmt.Errorf("service name %q is empty, repeated or reserved", s.Name))
		}
		names[s.Name] = true
		if s.Port < 1 || s.Port > 65535 {
			errs = append(errs, fmt.Errorf("service %s: port %d is not a TCP port", s.Name, s.Port))
		}
		if s.MetricsPort < 0 || s.MetricsPort > 65535 {
			errs = append(errs, fmt.Errorf("service %s: metrics port %d is not a TCP port", s.Name, s.MetricsPort))
		}
		if s.FromIngress && (a.Ingress == nil || (!a.Ingress.Anywhere && len(a.Ingress.PodLabels) == 0)) {
			errs = append(errs, fmt.Errorf("service %s is reached from the ingress, but Ingress names no source", s.Name))
		}
		for _, e := range s.Egress {
			_, _, cidrErr := net.ParseCIDR(e.CIDR)
			if (e.Namespace == "") == (e.CIDR == "") || (e.CIDR != "" && cidrErr != nil) || len(e.Ports) == 0 {
				errs = append(errs, fmt.Errorf("service %s: egress %s needs exactly one of a CIDR or a namespace, and ports", s.Name, e.Name))
			}
			for _, x := range e.Except {
				if !strictlyInside(x, e.CIDR) {
					errs = append(errs, fmt.Errorf("service %s: egress %s: except %q is not a block strictly inside %s", s.Name, e.Name, x, e.CIDR))
				}
			}
			for _, p := range e.Ports {
				if p < 1 || p > 65535 {
					errs = append(errs, fmt.Errorf("service %s: egress %s: port %d is not a TCP port", s.Name, e.Name, p))
				}
			}
		}
	}
	if sc := a.Scraper; sc != nil && (sc.Namespace == "" || len(sc.PodLabels) == 0) {
		errs = append(errs, errors.New("Scraper needs a namespace and pod labels"))
	}
	for _, s := range a.Services {
		for _, callee := range s.Calls {
			if !names[callee] || callee == s.Name {
				errs = append(errs, fmt.Errorf("service %s calls %q, which is not another service here", s.Name, callee))
			}
		}
	}
	return errors.Join(errs...)
}

// strictlyInside says whether block is a smaller block inside cidr (what the API server
// requires of an ipBlock's except).
func strictlyInside(block, cidr string) bool {
	ip, n, err := net.ParseCIDR(block)
	_, outer, err2 := net.ParseCIDR(cidr)
	if err != nil || err2 != nil {
		return false
	}
	ones, _ := n.Mask.Size()
	outerOnes, _ := outer.Mask.Size()
	return outer.Contains(ip) && ones > outerOnes
}

func port(protocol string, n int) networkingv1.NetworkPolicyPortArgs {
	return networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String(protocol), Port: pulumi.Int(n)}
}

func podsNamed(name string) *metav1.LabelSelectorArgs {
	return &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{NameLabel: pulumi.String(name)}}
}

func podsNamedAny(names []string) *metav1.LabelSelectorArgs {
	return &metav1.LabelSelectorArgs{MatchExpressions: metav1.LabelSelectorRequirementArray{metav1.LabelSelectorRequirementArgs{
		Key: pulumi.String(NameLabel), Operator: pulumi.String("In"), Values: pulumi.ToStringArray(names),
	}}}
}

// namespaceSelector uses the label the API server puts on every namespace.
func namespaceSelector(ns string) *metav1.LabelSelectorArgs {
	return &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(ns)}}
}
