# placement.sh: runs on the operator's machine (a local command, after every change of
# where the project lives), not on a host. It prints the project's place; when the place
# changes (another host, another dataDir) it refuses unless ALLOW_MOVE is true, because the
# data (volumes, backups) does not move with the project: the services would start empty.
# The old place's project is stopped once the new one is up, by its own delete script: if
# that was deployed with removeDataOnDestroy it would remove the old data too, so such a move
# is refused until an update has turned removeDataOnDestroy off.
# In: PLACEMENT (address:dataDir) ALLOW_MOVE REMOVE_DATA (true|false)
#     PULUMI_COMMAND_STDOUT (set by the command provider: the last run's output, if any)
: "${PLACEMENT:?}" "${ALLOW_MOVE:?}" "${REMOVE_DATA:?}"
previous=$(printf '%s\n' "${PULUMI_COMMAND_STDOUT:-}" | sed -n 's/^placement: //p')
previous_remove=$(printf '%s\n' "${PULUMI_COMMAND_STDOUT:-}" | sed -n 's/^removeDataOnDestroy: //p')
if [ -n "$previous" ] && [ "$previous" != "$PLACEMENT" ] && [ "$ALLOW_MOVE" != true ]; then
	die "site.infra.compose: the project would move from $previous to $PLACEMENT, but its data stays in $previous and the services would start empty there. To move it: stop the project on the old place, copy <dataDir>/volumes (and the backups) to the new one, then set site.infra.compose.allowMove: true for this update (also to start empty on purpose); or put site.infra.compose.host and dataDir back. Nothing has been changed."
fi
if [ -n "$previous" ] && [ "$previous" != "$PLACEMENT" ] && [ "$previous_remove" = true ]; then
	die "site.infra.compose: the project at $previous was deployed with removeDataOnDestroy: true, so stopping it there after the move would remove its data. Run pulumi up with removeDataOnDestroy: false at the old place first, then move. Nothing has been changed."
fi
[ -z "$previous" ] || [ "$previous" = "$PLACEMENT" ] || log "project moved from $previous to $PLACEMENT (site.infra.compose.allowMove)"
echo "placement: $PLACEMENT"
echo "removeDataOnDestroy: $REMOVE_DATA"
