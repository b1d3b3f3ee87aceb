# project-delete.sh: the only script that stops the project. It runs when infra.compose
# leaves the config or the stack is destroyed, and on the old host after the project moved
# to another (its new place is up by then). A generation replaced on this host (the project
# moved to another dataDir here) only removes the old place's .env: the new place's
# containers already replaced the old ones; the old data stays.
# The volumes and DATA_DIR are kept unless REMOVE_DATA is true; the .env (secrets) goes.
# In: GEN REMOVE_DATA (true|false)
: "${GEN:?}" "${REMOVE_DATA:?}"
marker_is "$MARKER" "$GEN" || {
	now=$(as_root cat "$MARKER.data-dir" 2>/dev/null || true)
	if [ -n "$now" ] && [ "$now" != "$DATA_DIR" ]; then
		as_root rm -f "$DATA_DIR/.env"
		log "superseded: the project lives in $now; removed $DATA_DIR/.env, data kept in $DATA_DIR"
	else
		log "superseded; nothing to do"
	fi
	exit 0
}
if as_root test -f "$DATA_DIR/compose.yaml" && as_root test -f "$DATA_DIR/.env"; then
	if [ "$REMOVE_DATA" = true ]; then
		dc --profile init down --volumes --remove-orphans
	else
		dc --profile init down --remove-orphans
	fi
fi
as_root rm -f "$DATA_DIR/.env" "$MARKER" "$MARKER.data-dir"
if [ "$REMOVE_DATA" = true ]; then
	as_root rm -rf "$DATA_DIR"
	log "project $PROJECT stopped; $DATA_DIR removed (infra.compose.removeDataOnDestroy)"
else
	log "project $PROJECT stopped; data kept in $DATA_DIR (infra.compose.removeDataOnDestroy is false)"
fi
