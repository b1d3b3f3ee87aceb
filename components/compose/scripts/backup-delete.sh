# backup-delete.sh: removes the backup job and its timer (never the backups themselves).
# A replaced generation does nothing.
# In: JOB GEN METRICS_DIR
: "${JOB:?}" "${GEN:?}" "${METRICS_DIR:?}"
marker_is "$MARKER.backup" "$GEN" || {
	log "superseded; nothing to do"
	exit 0
}
unit=xgen-infra-backup-$PROJECT
as_root systemctl disable --now "$unit.timer" >/dev/null 2>&1 || true
# No backup expected any more: its metrics go too (no BackupStale for a job that is gone).
as_root rm -f "/etc/systemd/system/$unit.timer" "/etc/systemd/system/$unit.service" "$JOB" "$MARKER.backup" \
	"$METRICS_DIR/backup-$PROJECT.prom" "$METRICS_DIR/backup-$PROJECT-installed.prom"
as_root systemctl daemon-reload
log "backup timer removed; existing backups kept"
