# drain.sh (runs on the first server): before NODE is upgraded, cordon and drain it. A node
# that is not registered yet, or already runs K3S_VERSION, is left alone (first install).
# In: NODE K3S_VERSION DRAIN_TIMEOUT
: "${NODE:?}" "${K3S_VERSION:?}" "${DRAIN_TIMEOUT:?}"
if [ ! -x /usr/local/bin/k3s ]; then
	log "no K3s here yet; nothing to drain"
	exit 0
fi
current=$(kube get node "$NODE" --ignore-not-found -o 'jsonpath={.status.nodeInfo.kubeletVersion}') ||
	die "cannot read node $NODE from the API server"
if [ -z "$current" ] || [ "$current" = "$K3S_VERSION" ]; then
	log "node $NODE: nothing to drain (${current:-not registered})"
	exit 0
fi
kube cordon "$NODE" >/dev/null
if [ "$(kube get nodes -o name | wc -l)" -gt 1 ]; then
	kube drain "$NODE" --ignore-daemonsets --delete-emptydir-data --force --timeout="$DRAIN_TIMEOUT" >/dev/null ||
		die "node $NODE did not drain within $DRAIN_TIMEOUT (a PodDisruptionBudget that allows no eviction?)"
fi
log "node $NODE cordoned and drained for $current -> $K3S_VERSION"
