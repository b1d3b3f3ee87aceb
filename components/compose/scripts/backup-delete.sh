# backup-delete.sh: removes the backup job and its timer (never the backups themselves).
# A replaced generation does nothing.
# In: JOB GEN
: "${JOB:?}" "${GEN:?}"
marker_is "$MARKER.backup" "$GEN" || {
	log "superseded; nothing to do"
	exit 0
}
unit=xgen-infra-backup-$PROJECT
as_root systemctl disable --now "$unit.timer" >/dev/null 2>&1 || true
as_root rm -f "/etc/systemd/system/$unit.timer" "/etc/systemd/system/$unit.service" "$JOB" "$MARKER.backup"
as_root systemctl daemon-reload
log "backup timer removed; existing backups kept"
