package obsconfig

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"
)

// Ports of the logs and traces services.
const (
	LokiPort     = 3100
	TempoPort    = 3200
	OTLPGRPCPort = 4317
	OTLPHTTPPort = 4318
	// PodLogsDir is where the kubelet writes every container's log on a node.
	PodLogsDir = "/var/log/pods"
	// DockerLogsDir is where Docker's json-file driver writes its containers' logs (the
	// compose project's, on its host).
	DockerLogsDir = "/var/lib/docker/containers"
)

// LokiConfig is a single-process Loki keeping its data on its volume (/loki) for retention
// (a Go duration in hours, e.g. "168h").
func LokiConfig(retention string) (string, error) {
	if retention == "" {
		return "", errors.New("loki config: retention is required")
	}
	return marshal("loki config", map[string]any{
		"auth_enabled": false,
		"server":       map[string]any{"http_listen_port": LokiPort, "grpc_listen_port": 9095, "log_level": "warn"},
		"common": map[string]any{
			"path_prefix": "/loki", "replication_factor": 1,
			"ring":    map[string]any{"kvstore": map[string]any{"store": "inmemory"}},
			"storage": map[string]any{"filesystem": map[string]any{"chunks_directory": "/loki/chunks", "rules_directory": "/loki/rules"}},
		},
		"schema_config": map[string]any{"configs": []any{map[string]any{
			"from": "2024-01-01", "store": "tsdb", "object_store": "filesystem", "schema": "v13",
			"index": map[string]any{"prefix": "index_", "period": "24h"},
		}}},
		"limits_config": map[string]any{
			"retention_period": retention, "allow_structured_metadata": true,
			// The labels a query selects by: the site, the service (the container's name),
			// the namespace, the pod and the node.
			"otlp_config": map[string]any{"resource_attributes": map[string]any{"attributes_config": []any{
				map[string]any{"action": "index_label", "attributes": []string{LabelSite, "k8s.node.name"}},
			}}},
		},
		"compactor": map[string]any{
			"working_directory": "/loki/compactor", "retention_enabled": true, "delete_request_store": "filesystem",
		},
		"analytics": map[string]any{"reporting_enabled": false},
	})
}

// TempoConfig is a single-process Tempo receiving OTLP from the collector and keeping traces
// on its volume (/var/tempo) for retention.
func TempoConfig(retention string) (string, error) {
	if retention == "" {
		return "", errors.New("tempo config: retention is required")
	}
	return marshal("tempo config", map[string]any{
		"server": map[string]any{"http_listen_port": TempoPort, "log_level": "warn"},
		"distributor": map[string]any{"receivers": map[string]any{"otlp": map[string]any{"protocols": map[string]any{
			"grpc": map[string]any{"endpoint": fmt.Sprintf("0.0.0.0:%d", OTLPGRPCPort)},
		}}}},
		"storage": map[string]any{"trace": map[string]any{
			"backend": "local", "local": map[string]any{"path": "/var/tempo/traces"}, "wal": map[string]any{"path": "/var/tempo/wal"},
		}},
		"compactor":    map[string]any{"compaction": map[string]any{"block_retention": retention}},
		"usage_report": map[string]any{"reporting_enabled": false},
	})
}

// CollectorArgs is what the OpenTelemetry Collector on every node does.
type CollectorArgs struct {
	// Site is the "site" resource attribute of every log line and span.
	Site string
	// Namespace is the add-on's (its own pods' logs are not shipped: no loop).
	Namespace string
	// LokiOTLPURL receives the logs (Loki's OTLP endpoint, ours or the customer's).
	LokiOTLPURL string
	// TempoEndpoint receives the traces (host:port, OTLP gRPC); "" when traces are off.
	TempoEndpoint string
	// ComposeProject, with logs, also ships the compose project's logs on the node that
	// runs it (Docker's json-file logs, labelled by compose.LogLabelProject and
	// compose.LogLabelService); "" for none.
	ComposeProject string
}

// The labels Docker's json-file driver writes into each compose service's log line
// ("attrs"); the compose package sets them (compose.LogLabelProject, LogLabelService).
const (
	dockerLabelProject = "com.docker.compose.project"
	dockerLabelService = "com.docker.compose.service"
)

// CollectorConfig is the OpenTelemetry Collector's configuration: every pod's log file on
// the node (the kubelet's CRI format, parsed by the container operator, which also sets the
// namespace, pod and container from the path) to Loki; with traces, OTLP from the services
// to Tempo. Every record carries site; a log line also its node and service.name (the
// container's name: the service's).
func CollectorConfig(a CollectorArgs) (string, error) {
	if a.Site == "" || a.Namespace == "" || (a.LokiOTLPURL == "" && a.TempoEndpoint == "") {
		return "", errors.New("collector config: Site, Namespace and a LokiOTLPURL or a TempoEndpoint are required")
	}
	receivers, exporters, pipelines := map[string]any{}, map[string]any{}, map[string]any{}
	processors := map[string]any{
		"memory_limiter": map[string]any{"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25},
		"resource/site": map[string]any{"attributes": []any{
			map[string]any{"key": LabelSite, "value": a.Site, "action": "upsert"},
		}},
		"batch": map[string]any{},
	}
	if a.LokiOTLPURL != "" {
		receivers["filelog"] = map[string]any{
			"include":           []string{PodLogsDir + "/*/*/*.log"},
			"exclude":           []string{PodLogsDir + "/" + a.Namespace + "_*/*/*.log"},
			"start_at":          "end",
			"include_file_path": true,
			"operators":         []any{map[string]any{"type": "container", "id": "container-parser"}},
		}
		// A log line's node is the collector's (it reads that node's files); a span's is
		// not, so only logs get it.
		processors["resource/logs"] = map[string]any{"attributes": []any{
			map[string]any{"key": "k8s.node.name", "value": "${env:NODE_NAME}", "action": "upsert"},
			map[string]any{"key": "service.name", "from_attribute": "k8s.container.name", "action": "insert"},
		}}
		exporters["otlphttp/loki"] = map[string]any{"endpoint": a.LokiOTLPURL}
		pipelines["logs"] = map[string]any{"receivers": []string{"filelog"},
			"processors": []string{"memory_limiter", "resource/site", "resource/logs", "batch"}, "exporters": []string{"otlphttp/loki"}}
		if a.ComposeProject != "" {
			receivers["filelog/compose"] = composeLogReceiver(a.ComposeProject)
			processors["resource/compose"] = map[string]any{"attributes": []any{
				map[string]any{"key": "k8s.node.name", "value": "${env:NODE_NAME}", "action": "upsert"},
				map[string]any{"key": "compose.project", "value": a.ComposeProject, "action": "upsert"},
			}}
			pipelines["logs/compose"] = map[string]any{"receivers": []string{"filelog/compose"},
				"processors": []string{"memory_limiter", "resource/site", "resource/compose", "batch"}, "exporters": []string{"otlphttp/loki"}}
		}
	}
	if a.TempoEndpoint != "" {
		receivers["otlp"] = map[string]any{"protocols": map[string]any{
			"grpc": map[string]any{"endpoint": fmt.Sprintf("0.0.0.0:%d", OTLPGRPCPort)},
			"http": map[string]any{"endpoint": fmt.Sprintf("0.0.0.0:%d", OTLPHTTPPort)},
		}}
		exporters["otlp/tempo"] = map[string]any{"endpoint": a.TempoEndpoint, "tls": map[string]any{"insecure": true}}
		pipelines["traces"] = map[string]any{"receivers": []string{"otlp"},
			"processors": []string{"memory_limiter", "resource/site", "batch"}, "exporters": []string{"otlp/tempo"}}
	}
	return marshal("collector config", map[string]any{
		"receivers": receivers, "processors": processors, "exporters": exporters,
		"extensions": map[string]any{"health_check": map[string]any{"endpoint": "0.0.0.0:13133"}},
		"service":    map[string]any{"extensions": []string{"health_check"}, "pipelines": pipelines},
	})
}

// composeLogReceiver reads Docker's json-file logs on the node, keeps the lines of the
// compose project's containers (any other container on the host is dropped) and gives each
// its service as service.name, the same label the pods' lines carry.
func composeLogReceiver(project string) map[string]any {
	attr := func(label string) string { return `attributes.attrs["` + label + `"]` }
	return map[string]any{
		"include":  []string{DockerLogsDir + "/*/*-json.log"},
		"start_at": "end",
		"operators": []any{
			// {"log":"...\n","stream":"stderr","attrs":{...},"time":"2026-..."}
			map[string]any{"type": "json_parser", "id": "docker-json",
				"timestamp": map[string]any{"parse_from": "attributes.time", "layout_type": "gotime", "layout": "2006-01-02T15:04:05.999999999Z07:00"}},
			map[string]any{"type": "filter", "id": "only-the-project",
				"expr": `attributes.attrs == nil or ` + attr(dockerLabelProject) + ` != "` + project + `"`},
			map[string]any{"type": "move", "from": attr(dockerLabelService), "to": `resource["service.name"]`},
			map[string]any{"type": "move", "from": "attributes.stream", "to": `attributes["log.iostream"]`},
			map[string]any{"type": "move", "from": "attributes.log", "to": "body"},
			map[string]any{"type": "remove", "field": "attributes.attrs"},
			map[string]any{"type": "remove", "field": "attributes.time"},
		},
	}
}

func marshal(what string, v any) (string, error) {
	out, err := yaml.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return "# Generated by xgen-infra (components/observability); do not edit.\n" + string(out), nil
}
