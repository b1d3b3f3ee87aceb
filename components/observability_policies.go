package components

import (
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components/obsconfig"
)

// networkPolicies allow exactly the add-on's flows into its namespace: Prometheus scrapes
// the exporters and sends alerts to Alertmanager; Grafana asks Prometheus, Loki and Tempo; the collector sends to Loki and
// Tempo; the site's services send spans to the collector; Grafana is reached on its port
// from anywhere (its node port). Everything else into the add-on is denied. Prometheus' scrape of the site's
// services is allowed by the site's own policies (NetworkPoliciesArgs.Scraper,
// ObservabilityScraper).
func (b *obsBuilder) networkPolicies(a ObservabilityArgs) {
	fromPrometheus := networkingv1.NetworkPolicyPeerArgs{
		NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(a.Namespace)}},
		PodSelector:       &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{NameLabel: pulumi.String("prometheus")}},
	}
	policy := func(resource, name, ns string, podApps []string, from []networkingv1.NetworkPolicyPeerArgs, ports []int) {
		sel := &metav1.LabelSelectorArgs{}
		if len(podApps) > 0 {
			sel.MatchExpressions = metav1.LabelSelectorRequirementArray{metav1.LabelSelectorRequirementArgs{
				Key: pulumi.String(NameLabel), Operator: pulumi.String("In"), Values: pulumi.ToStringArray(podApps)}}
		}
		var rules networkingv1.NetworkPolicyIngressRuleArray
		if ports != nil {
			portArgs := networkingv1.NetworkPolicyPortArray{}
			for _, p := range ports {
				portArgs = append(portArgs, networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(p)})
			}
			rule := networkingv1.NetworkPolicyIngressRuleArgs{Ports: portArgs}
			if from != nil {
				peers := networkingv1.NetworkPolicyPeerArray{}
				for _, f := range from {
					peers = append(peers, f)
				}
				rule.From = peers
			}
			rules = append(rules, rule)
		}
		_, err := networkingv1.NewNetworkPolicy(b.ctx, b.resourceName(resource), &networkingv1.NetworkPolicyArgs{
			Metadata: objectMeta(name, ns),
			Spec: &networkingv1.NetworkPolicySpecArgs{
				PodSelector: sel, PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")}, Ingress: rules,
			},
		}, b.opts...)
		b.keep(err)
	}
	policy("deny-ingress", "observability-default-deny-ingress", a.Namespace, nil, nil, nil)
	policy("allow-scrape-exporters", "allow-prometheus-scrape", a.Namespace, []string{"node-exporter", "kube-state-metrics", "blackbox-exporter", "dcgm-exporter"},
		[]networkingv1.NetworkPolicyPeerArgs{fromPrometheus},
		[]int{obsconfig.NodeExporterPort, obsconfig.KubeStateMetricsPort, obsconfig.BlackboxPort, obsconfig.DCGMExporterPort})
	if a.Alerting != nil {
		policy("allow-alerts", "allow-prometheus-alerts", a.Namespace, []string{"alertmanager"},
			[]networkingv1.NetworkPolicyPeerArgs{fromPrometheus}, []int{obsconfig.AlertmanagerPort})
	}
	policy("allow-grafana-to-prometheus", "allow-grafana-to-prometheus", a.Namespace, []string{"prometheus"},
		[]networkingv1.NetworkPolicyPeerArgs{{PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{NameLabel: pulumi.String("grafana")}}}},
		[]int{prometheusPort})
	// Grafana's node port: from anywhere the node port is reachable (no from: every source).
	policy("allow-grafana", "allow-grafana-ui", a.Namespace, []string{"grafana"}, nil, []int{GrafanaPort})
	pods := func(app string) networkingv1.NetworkPolicyPeerArgs {
		return networkingv1.NetworkPolicyPeerArgs{PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{NameLabel: pulumi.String(app)}}}
	}
	if a.Logs != nil && a.Logs.LokiURL == "" {
		policy("allow-to-loki", "allow-to-loki", a.Namespace, []string{"loki"},
			[]networkingv1.NetworkPolicyPeerArgs{pods("otel-collector"), pods("grafana")}, []int{obsconfig.LokiPort})
	}
	if a.Traces != nil {
		policy("allow-collector-to-tempo", "allow-collector-to-tempo", a.Namespace, []string{"tempo"},
			[]networkingv1.NetworkPolicyPeerArgs{pods("otel-collector")}, []int{obsconfig.OTLPGRPCPort})
		policy("allow-grafana-to-tempo", "allow-grafana-to-tempo", a.Namespace, []string{"tempo"},
			[]networkingv1.NetworkPolicyPeerArgs{pods("grafana")}, []int{obsconfig.TempoPort})
		// The site's services send their spans (their own policies allow the egress), in
		// every environment of the site.
		var from []networkingv1.NetworkPolicyPeerArgs
		for _, ns := range append([]string{a.SiteNamespace}, a.OtherNamespaces...) {
			from = append(from, networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: &metav1.LabelSelectorArgs{
				MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(ns)}}})
		}
		policy("allow-traces", "allow-site-traces", a.Namespace, []string{"otel-collector"}, from, []int{obsconfig.OTLPHTTPPort})
	}
}
