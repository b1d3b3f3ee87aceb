# backup.sh: the nightly job (installed by backup-install, run by its timer as root): a
# pg_dump of the application database and a Qdrant snapshot into BACKUP_DIR, then removes
# backups older than RETENTION_DAYS; a run that completes records its time in METRICS_DIR (the
# BackupStale alert). Restore steps: README "Infra on the host".
# In: BACKUP_DIR RETENTION_DAYS DB (empty: no PostgreSQL) QDRANT_URL (empty: no Qdrant) METRICS_DIR
: "${BACKUP_DIR:?}" "${RETENTION_DAYS:?}" "${METRICS_DIR:?}"
DB=${DB:-} QDRANT_URL=${QDRANT_URL:-}
stamp=$(date +%Y%m%d-%H%M%S)
umask 077
mkdir -p "$BACKUP_DIR"
if [ -n "$DB" ]; then
	out="$BACKUP_DIR/postgres-$DB-$stamp.dump"
	dc exec -T postgres pg_dump -U postgres --format=custom "$DB" >"$out.part" || die "pg_dump of $DB failed"
	mv "$out.part" "$out"
	log "database $DB: $out"
fi
if [ -n "$QDRANT_URL" ]; then
	name=$(curl -fsS -X POST "$QDRANT_URL/snapshots" | sed -n 's/.*"name":"\([^"]*\)".*/\1/p')
	[ -n "$name" ] || die "Qdrant did not create a snapshot"
	out="$BACKUP_DIR/qdrant-$stamp.snapshot"
	curl -fsS -o "$out.part" "$QDRANT_URL/snapshots/$name" || die "cannot download Qdrant snapshot $name"
	mv "$out.part" "$out"
	curl -fsS -X DELETE "$QDRANT_URL/snapshots/$name" >/dev/null || log "could not delete snapshot $name on the server"
	log "qdrant: $out"
fi
find "$BACKUP_DIR" -maxdepth 1 -type f \( -name 'postgres-*.dump' -o -name 'qdrant-*.snapshot' \) -mtime +"$((RETENTION_DAYS - 1))" -print -delete |
	while read -r old; do log "removed $old (older than $RETENTION_DAYS days)"; done
# This run's success, in Prometheus' text format for node-exporter (not root: world-readable),
# renamed into place so a scrape never reads half a file.
mkdir -p "$METRICS_DIR" && chmod 0755 "$METRICS_DIR"
printf '# HELP xgen_backup_last_success_timestamp_seconds When the nightly backup of the compose project last completed (Unix time).\n# TYPE xgen_backup_last_success_timestamp_seconds gauge\nxgen_backup_last_success_timestamp_seconds{project="%s"} %s\n' \
	"$PROJECT" "$(date +%s)" >"$METRICS_DIR/backup-$PROJECT.prom.tmp"
chmod 0644 "$METRICS_DIR/backup-$PROJECT.prom.tmp" && mv -f "$METRICS_DIR/backup-$PROJECT.prom.tmp" "$METRICS_DIR/backup-$PROJECT.prom"
