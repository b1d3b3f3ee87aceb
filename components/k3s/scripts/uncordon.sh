# uncordon.sh (runs on the first server): waits until NODE is Ready on K3S_VERSION, then
# lets pods back on it.
# In: NODE K3S_VERSION READY_TIMEOUT
: "${NODE:?}" "${K3S_VERSION:?}" "${READY_TIMEOUT:?}"
node_ready() {
	[ "$(kube get node "$NODE" -o 'jsonpath={.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type=="Ready")].status}')" = "$K3S_VERSION True" ]
}
wait_until "$READY_TIMEOUT" "node $NODE to be Ready on $K3S_VERSION" node_ready
kube uncordon "$NODE" >/dev/null
log "node $NODE Ready on $K3S_VERSION"
