package obsconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"gopkg.in/yaml.v3"
)

// DatasourceUID is the provisioned Prometheus data source's uid (the dashboards name it).
const DatasourceUID = "xgen-prometheus"

// DashboardsDir is where the dashboards ConfigMap is mounted in the Grafana container.
const DashboardsDir = "/var/lib/grafana/dashboards"

// DashboardArgs is what a site's dashboard shows.
type DashboardArgs struct {
	// Site names the site (the dashboard's title, uid and every query's site label).
	Site string
	// Namespace of the site's services.
	Namespace string
	// Services are the site's services (their Deployments and containers are named so).
	Services []string
	// HPAs are the services that autoscale.
	HPAs []string
	// Infra says whether the infra endpoints are probed (the infra panel).
	Infra bool
	// GPU says whether the site has GPU nodes (the GPU panels).
	GPU bool
}

// SiteDashboard is the site's dashboard as Grafana's JSON model: each service's CPU and
// memory requests against what it actually uses (the view the team tuned resources with),
// its restarts and, for services that autoscale, the HPA's replicas.
func SiteDashboard(a DashboardArgs) (string, error) {
	if a.Site == "" || a.Namespace == "" || len(a.Services) == 0 {
		return "", errors.New("dashboard: Site, Namespace and Services are required")
	}
	ds := common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr(DatasourceUID)}
	sel := func(extra string) string { // the site's containers, by namespace
		return fmt.Sprintf(`namespace=%q, container=~%q%s`, a.Namespace, strings.Join(sorted(a.Services), "|"), extra)
	}
	panel := func(title, unit string, targets ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
		p := timeseries.NewPanelBuilder().Title(title).Unit(unit).Datasource(ds).Height(8).Span(12)
		for _, t := range targets {
			p = p.WithTarget(t)
		}
		return p
	}
	q := func(ref, expr, legend string) *prometheus.DataqueryBuilder {
		return prometheus.NewDataqueryBuilder().RefId(ref).Expr(expr).LegendFormat(legend).Range()
	}
	b := dashboard.NewDashboardBuilder("XGEN site "+a.Site).
		Uid("xgen-site-"+a.Site).
		Tags([]string{"xgen", a.Site}).
		Refresh("1m").
		Time("now-6h", "now").
		Timezone("browser").
		WithRow(dashboard.NewRowBuilder("Resources: requests vs. use")).
		WithPanel(panel("CPU used vs. requested (cores)", "short",
			q("A", fmt.Sprintf(`sum by (container) (rate(container_cpu_usage_seconds_total{%s}[5m]))`, sel("")), "{{container}} used"),
			q("B", fmt.Sprintf(`sum by (container) (kube_pod_container_resource_requests{resource="cpu", %s})`, sel("")), "{{container}} requested"))).
		WithPanel(panel("Memory used vs. requested", "bytes",
			q("A", fmt.Sprintf(`sum by (container) (container_memory_working_set_bytes{%s})`, sel("")), "{{container}} used"),
			q("B", fmt.Sprintf(`sum by (container) (kube_pod_container_resource_requests{resource="memory", %s})`, sel("")), "{{container}} requested"))).
		WithPanel(panel("CPU throttled (share of periods)", "percentunit",
			q("A", fmt.Sprintf(`sum by (container) (rate(container_cpu_cfs_throttled_periods_total{%s}[5m])) / sum by (container) (rate(container_cpu_cfs_periods_total{%s}[5m]))`, sel(""), sel("")), "{{container}}"))).
		WithPanel(panel("Memory used / limit", "percentunit",
			q("A", fmt.Sprintf(`sum by (container) (container_memory_working_set_bytes{%s}) / sum by (container) (kube_pod_container_resource_limits{resource="memory", %s})`, sel(""), sel("")), "{{container}}"))).
		WithRow(dashboard.NewRowBuilder("Health")).
		WithPanel(panel("Restarts (1h)", "short",
			q("A", fmt.Sprintf(`sum by (container) (increase(kube_pod_container_status_restarts_total{%s}[1h]))`, sel("")), "{{container}}"))).
		WithPanel(panel("Available replicas", "short",
			q("A", fmt.Sprintf(`kube_deployment_status_replicas_available{namespace=%q}`, a.Namespace), "{{deployment}}")))
	if len(a.HPAs) > 0 {
		b = b.WithPanel(panel("HPA replicas: current vs. desired", "short",
			q("A", fmt.Sprintf(`kube_horizontalpodautoscaler_status_current_replicas{namespace=%q, horizontalpodautoscaler=~%q}`, a.Namespace, strings.Join(sorted(a.HPAs), "|")), "{{horizontalpodautoscaler}} current"),
			q("B", fmt.Sprintf(`kube_horizontalpodautoscaler_status_desired_replicas{namespace=%q, horizontalpodautoscaler=~%q}`, a.Namespace, strings.Join(sorted(a.HPAs), "|")), "{{horizontalpodautoscaler}} desired")))
	}
	if a.Infra {
		b = b.WithPanel(panel("Infra reachable (1 = answers)", "short",
			q("A", fmt.Sprintf(`max by (infra) (probe_success{site=%q, job=~"infra|infra-redis"})`, a.Site), "{{infra}}"),
		)).WithPanel(panel("Infra answer time", "s",
			q("A", fmt.Sprintf(`max by (infra) (probe_duration_seconds{site=%q, job=~"infra|infra-redis"})`, a.Site), "{{infra}}"),
		))
	}
	if a.GPU {
		b = b.WithRow(dashboard.NewRowBuilder("GPU")).
			WithPanel(panel("GPU utilisation", "percent",
				q("A", fmt.Sprintf(`avg by (node, gpu) (DCGM_FI_DEV_GPU_UTIL{site=%q})`, a.Site), "{{node}} GPU {{gpu}}"))).
			WithPanel(panel("GPU memory used", "decmbytes",
				q("A", fmt.Sprintf(`sum by (node, gpu) (DCGM_FI_DEV_FB_USED{site=%q})`, a.Site), "{{node}} GPU {{gpu}}")))
	}
	d, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("dashboard %s: %w", a.Site, err)
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return "", fmt.Errorf("dashboard %s: %w", a.Site, err)
	}
	return string(out), nil
}

// The provisioned data sources' uids.
const (
	LokiDatasourceUID  = "xgen-loki"
	TempoDatasourceUID = "xgen-tempo"
)

// GrafanaDatasources is Grafana's provisioning file for the data sources (read-only in the
// UI: the file is the truth): Prometheus, and Loki and Tempo when their URL is not "".
// Traces link to their logs and the other way round.
func GrafanaDatasources(prometheusURL, lokiURL, tempoURL string) (string, error) {
	sources := []map[string]any{{
		"name": "Prometheus", "type": "prometheus", "uid": DatasourceUID, "access": "proxy",
		"url": prometheusURL, "isDefault": true, "editable": false,
	}}
	if lokiURL != "" {
		loki := map[string]any{"name": "Loki", "type": "loki", "uid": LokiDatasourceUID, "access": "proxy", "url": lokiURL, "editable": false}
		if tempoURL != "" {
			loki["jsonData"] = map[string]any{"derivedFields": []any{map[string]any{
				"name": "trace_id", "matcherType": "label", "matcherRegex": "trace_id",
				"datasourceUid": TempoDatasourceUID, "url": "$${__value.raw}",
			}}}
		}
		sources = append(sources, loki)
	}
	if tempoURL != "" {
		tempo := map[string]any{"name": "Tempo", "type": "tempo", "uid": TempoDatasourceUID, "access": "proxy", "url": tempoURL, "editable": false}
		if lokiURL != "" {
			tempo["jsonData"] = map[string]any{"tracesToLogsV2": map[string]any{"datasourceUid": LokiDatasourceUID, "filterByTraceID": true}}
		}
		sources = append(sources, tempo)
	}
	out, err := yaml.Marshal(map[string]any{"apiVersion": 1, "datasources": sources})
	return string(out), err
}

// GrafanaDashboardProvider is Grafana's provisioning file that loads the dashboards from
// DashboardsDir (no UI edits kept: a dashboard changes in code).
func GrafanaDashboardProvider() (string, error) {
	out, err := yaml.Marshal(map[string]any{
		"apiVersion": 1,
		"providers": []map[string]any{{
			"name": "xgen", "folder": "XGEN", "type": "file", "disableDeletion": true, "allowUiUpdates": false,
			"options": map[string]any{"path": DashboardsDir},
		}},
	})
	return string(out), err
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
