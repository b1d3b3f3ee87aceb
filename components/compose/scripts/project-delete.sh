# project-delete.sh: the only script that stops the project. It runs when infra.compose
# leaves the config or the stack is destroyed; a replaced generation of it does nothing.
# The volumes and DATA_DIR are kept unless REMOVE_DATA is true; the .env (secrets) goes.
# In: GEN REMOVE_DATA (true|false)
: "${GEN:?}" "${REMOVE_DATA:?}"
marker_is "$MARKER" "$GEN" || {
	log "superseded; nothing to do"
	exit 0
}
if as_root test -f "$DATA_DIR/compose.yaml" && as_root test -f "$DATA_DIR/.env"; then
	if [ "$REMOVE_DATA" = true ]; then
		dc --profile init down --volumes --remove-orphans
	else
		dc --profile init down --remove-orphans
	fi
fi
as_root rm -f "$DATA_DIR/.env" "$MARKER"
if [ "$REMOVE_DATA" = true ]; then
	as_root rm -rf "$DATA_DIR"
	log "project $PROJECT stopped; $DATA_DIR removed (infra.compose.removeDataOnDestroy)"
else
	log "project $PROJECT stopped; data kept in $DATA_DIR (infra.compose.removeDataOnDestroy is false)"
fi
