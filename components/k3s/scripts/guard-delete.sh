# guard-delete.sh (first server): runs first when the whole cluster is destroyed, and only
# then: it tells the per-node deletes that follow that this is a destroy, not a removed node.
# In: GEN
: "${GEN:?}"
if marker_is "$MARKERS/guard" "$GEN"; then
	as_root touch "$MARKERS/destroying"
	log "destroying the cluster's stack"
fi
