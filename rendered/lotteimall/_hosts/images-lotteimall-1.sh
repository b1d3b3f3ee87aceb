set -eu
HOST='lotteimall-1'
LOG_TAG='xgen-k3s'
IMAGES='0000000000000000000000000000000000000000000000000000000000000000 xgen-docker.x2bee.com_xgen_lotteimall_xgen-backend-gateway_latest-amd64.tar /var/tmp/xgen-k3s-000000000000-xgen-docker.x2bee.com_xgen_lotteimall_xgen-backend-gateway_latest-amd64.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-docker.x2bee.com_xgen_lotteimall_xgen-core_latest-amd64.tar /var/tmp/xgen-k3s-000000000000-xgen-docker.x2bee.com_xgen_lotteimall_xgen-core_latest-amd64.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-docker.x2bee.com_xgen_lotteimall_xgen-documents_latest-amd64.tar /var/tmp/xgen-k3s-000000000000-xgen-docker.x2bee.com_xgen_lotteimall_xgen-documents_latest-amd64.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-docker.x2bee.com_xgen_lotteimall_xgen-frontend_latest-amd64.tar /var/tmp/xgen-k3s-000000000000-xgen-docker.x2bee.com_xgen_lotteimall_xgen-frontend_latest-amd64.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-docker.x2bee.com_xgen_lotteimall_xgen-mcp-station_latest-amd64.tar /var/tmp/xgen-k3s-000000000000-xgen-docker.x2bee.com_xgen_lotteimall_xgen-mcp-station_latest-amd64.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-docker.x2bee.com_xgen_lotteimall_xgen-workflow_latest-amd64.tar /var/tmp/xgen-k3s-000000000000-xgen-docker.x2bee.com_xgen_lotteimall_xgen-workflow_latest-amd64.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-docker.io_istio_pilot_1.31.1.tar /var/tmp/xgen-k3s-000000000000-xgen-docker.io_istio_pilot_1.31.1.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-docker.io_istio_proxyv2_1.31.1.tar /var/tmp/xgen-k3s-000000000000-xgen-docker.io_istio_proxyv2_1.31.1.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-quay.io_prometheus_prometheus_v3.13.2.tar /var/tmp/xgen-k3s-000000000000-xgen-quay.io_prometheus_prometheus_v3.13.2.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-quay.io_prometheus_alertmanager_v0.35.0.tar /var/tmp/xgen-k3s-000000000000-xgen-quay.io_prometheus_alertmanager_v0.35.0.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-docker.io_grafana_grafana_12.1.1.tar /var/tmp/xgen-k3s-000000000000-xgen-docker.io_grafana_grafana_12.1.1.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-registry.k8s.io_kube-state-metrics_kube-state-metrics_v2.16.0.tar /var/tmp/xgen-k3s-000000000000-xgen-registry.k8s.io_kube-state-metrics_kube-state-metrics_v2.16.0.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-quay.io_prometheus_node-exporter_v1.9.1.tar /var/tmp/xgen-k3s-000000000000-xgen-quay.io_prometheus_node-exporter_v1.9.1.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-quay.io_prometheus_blackbox-exporter_v0.27.0.tar /var/tmp/xgen-k3s-000000000000-xgen-quay.io_prometheus_blackbox-exporter_v0.27.0.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-docker.io_grafana_loki_3.5.3.tar /var/tmp/xgen-k3s-000000000000-xgen-docker.io_grafana_loki_3.5.3.tar
0000000000000000000000000000000000000000000000000000000000000000 xgen-docker.io_otel_opentelemetry-collector-contrib_0.131.0.tar /var/tmp/xgen-k3s-000000000000-xgen-docker.io_otel_opentelemetry-collector-contrib_0.131.0.tar'
READY_TIMEOUT='300'
# lib.sh: helpers every host script starts with (the builders put it after the script's
# parameters). POSIX sh: the login shell of the SSH user runs the scripts.
# Parameters come from the header the builder writes; every script gets HOST and LOG_TAG.
: "${HOST:?}" "${LOG_TAG:?}"

log() { printf '%s[%s]: %s\n' "$LOG_TAG" "$HOST" "$*" >&2; }
die() {
	printf '%s[%s]: error: %s\n' "$LOG_TAG" "$HOST" "$*" >&2
	exit 1
}
# as_root runs a command as root without ever prompting (no TTY, no password).
as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}
# port_listening PORT: something listens on TCP PORT in this host's network.
port_listening() {
	hex=$(printf ':%04X' "$1")
	awk -v p="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# wait_until SECONDS WHAT CMD...: retries CMD every 2 s until it succeeds or time is up.
wait_until() {
	limit=$1 what=$2
	shift 2
	waited=0
	until "$@" >/dev/null 2>&1; do
		[ "$waited" -lt "$limit" ] || die "timed out after ${limit}s waiting for $what"
		sleep 2
		waited=$((waited + 2))
	done
}
# marker_is FILE VALUE: FILE (root-owned) holds exactly VALUE.
marker_is() { [ "$(as_root cat "$1" 2>/dev/null || true)" = "$2" ]; }
# lib.sh (k3s): what the K3s scripts share beyond the common lib.
kube() { as_root /usr/local/bin/k3s kubectl "$@"; }
# shellcheck disable=SC2034 # read by the scripts that keep markers
MARKERS=/var/lib/rancher/xgen
# import-images.sh: puts the image bundle's tarballs into K3s' images directory and has
# containerd import each new one (K3s before v1.31.5 / v1.32.0 imports that directory only
# when it starts; later releases also watch it, and a second import is harmless). A file
# already there with the same digest is left alone; bundle files no longer listed are
# removed from the directory (their images stay in containerd until pruned).
# In: IMAGES (lines "<sha256> <name> <staged upload>", names xgen-*.tar) READY_TIMEOUT
: "${IMAGES:?}" "${READY_TIMEOUT:?}"
dir=/var/lib/rancher/k3s/agent/images
as_root mkdir -p "$dir"
wait_until "$READY_TIMEOUT" "containerd to answer" as_root /usr/local/bin/k3s ctr version
keep=" "
imported=0
while read -r sha name staged; do
	[ -n "$name" ] || continue
	case "$name" in xgen-*.tar) ;; *) die "bundle file $name: the names are xgen-*.tar" ;; esac
	keep="$keep$name "
	if echo "$sha  $dir/$name" | as_root sha256sum -c --status 2>/dev/null; then
		continue
	fi
	echo "$sha  $staged" | sha256sum -c --status ||
		die "the uploaded $staged does not match its SHA-256; run pulumi up again to upload it again"
	as_root install -m 0644 "$staged" "$dir/$name"
	rm -f "$staged"
	as_root /usr/local/bin/k3s ctr --namespace k8s.io images import "$dir/$name" >/dev/null ||
		die "containerd could not import $name"
	imported=$((imported + 1))
	log "imported $name"
done <<LIST
$IMAGES
LIST
for f in "$dir"/xgen-*.tar; do
	[ -e "$f" ] || continue
	case "$keep" in *" ${f##*/} "*) ;; *)
		as_root rm -f "$f"
		log "removed ${f##*/} (no longer in the bundle)"
		;;
	esac
done
log "images: $imported imported"
