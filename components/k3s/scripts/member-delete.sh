# member-delete.sh (first server): NODE was removed from the config: cordon, drain and delete
# it. On a destroy of the whole stack (guard-delete ran) the node is left alone.
# In: NODE GEN DRAIN_TIMEOUT
: "${NODE:?}" "${GEN:?}" "${DRAIN_TIMEOUT:?}"
marker_is "$MARKERS/members/$NODE" "$GEN" || {
	log "node $NODE: superseded; nothing to do"
	exit 0
}
if as_root test -f "$MARKERS/destroying"; then
	log "node $NODE: kept (the stack is destroyed, not the node removed)"
	exit 0
fi
if [ -n "$(kube get node "$NODE" --ignore-not-found -o name)" ]; then
	kube cordon "$NODE" >/dev/null
	kube drain "$NODE" --ignore-daemonsets --delete-emptydir-data --force --timeout="$DRAIN_TIMEOUT" >/dev/null ||
		die "node $NODE did not drain within $DRAIN_TIMEOUT"
	kube delete node "$NODE" >/dev/null
fi
as_root rm -f "$MARKERS/members/$NODE"
log "node $NODE drained and deleted"
