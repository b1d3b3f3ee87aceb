// Package hostdefaults owns the facts and defaults of the host layer that the site model
// (sites) and the host builders (components/k3s, components/compose) both need: each is
// decided here once, in a leaf package, so that sites imports no builder package.
package hostdefaults

import "time"

// K3s.
const (
	// K3sAPIPort is K3s' API server port.
	K3sAPIPort = 6443
	// GPULabelKey=GPULabelValue marks a GPU node (what GPU services select); GPUTaint keeps
	// other pods off it.
	GPULabelKey   = "nvidia.com/gpu.present"
	GPULabelValue = "true"
	GPUTaint      = "nvidia.com/gpu=present:NoSchedule"
	// ReadyTimeout bounds each wait for a service or node.
	ReadyTimeout = 5 * time.Minute
	// ConnectTimeout bounds one SSH connection attempt.
	ConnectTimeout = 10 * time.Second
)

// The compose project.
const (
	// ComposeWaitTimeout bounds `docker compose up --wait`.
	ComposeWaitTimeout = 5 * time.Minute
	// The observability exporters' ports, on the host as in their containers (the images'
	// defaults).
	PostgresExporterPort = 9187
	RedisExporterPort    = 9121
	// MetricsTextfileDir is where host jobs (the nightly backup) leave their metrics in
	// Prometheus' text format: the observability add-on's node-exporter reads it on every
	// node (its textfile collector).
	MetricsTextfileDir = "/var/lib/xgen-infra/metrics"
)
