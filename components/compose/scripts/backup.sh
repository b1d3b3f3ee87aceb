# backup.sh: the nightly job (installed by backup-install, run by its timer as root): a
# pg_dump of each environment's database and a snapshot of each Qdrant into BACKUP_DIR, then
# removes backups older than RETENTION_DAYS; a run that completes records its time in
# METRICS_DIR (the BackupStale alert). Restore steps: docs/infra.md "Restoring a backup".
# In: BACKUP_DIR RETENTION_DAYS DBS (databases, space-separated; empty: no PostgreSQL)
#     QDRANTS ("name=URL" for each Qdrant, space-separated; empty: no Qdrant) METRICS_DIR
: "${BACKUP_DIR:?}" "${RETENTION_DAYS:?}" "${METRICS_DIR:?}"
DBS=${DBS:-} QDRANTS=${QDRANTS:-}
stamp=$(date +%Y%m%d-%H%M%S)
umask 077
mkdir -p "$BACKUP_DIR"
for db in $DBS; do
	out="$BACKUP_DIR/postgres-$db-$stamp.dump"
	dc exec -T postgres pg_dump -U postgres --format=custom "$db" >"$out.part" || die "pg_dump of $db failed"
	mv "$out.part" "$out"
	log "database $db: $out"
done
for qdrant in $QDRANTS; do
	name=${qdrant%%=*} url=${qdrant#*=}
	snapshot=$(curl -fsS -X POST "$url/snapshots" | sed -n 's/.*"name":"\([^"]*\)".*/\1/p')
	[ -n "$snapshot" ] || die "$name did not create a snapshot"
	out="$BACKUP_DIR/$name-$stamp.snapshot"
	curl -fsS -o "$out.part" "$url/snapshots/$snapshot" || die "cannot download $name snapshot $snapshot"
	mv "$out.part" "$out"
	curl -fsS -X DELETE "$url/snapshots/$snapshot" >/dev/null || log "could not delete snapshot $snapshot on $name"
	log "$name: $out"
done
find "$BACKUP_DIR" -maxdepth 1 -type f \( -name 'postgres-*.dump' -o -name 'qdrant-*.snapshot' \) -mtime +"$((RETENTION_DAYS - 1))" -print -delete |
	while read -r old; do log "removed $old (older than $RETENTION_DAYS days)"; done
# This run's success, in Prometheus' text format for node-exporter (not root: world-readable),
# renamed into place so a scrape never reads half a file.
mkdir -p "$METRICS_DIR" && chmod 0755 "$METRICS_DIR"
printf '# HELP xgen_backup_last_success_timestamp_seconds When the nightly backup of the compose project last completed (Unix time).\n# TYPE xgen_backup_last_success_timestamp_seconds gauge\nxgen_backup_last_success_timestamp_seconds{project="%s"} %s\n' \
	"$PROJECT" "$(date +%s)" >"$METRICS_DIR/backup-$PROJECT.prom.tmp"
chmod 0644 "$METRICS_DIR/backup-$PROJECT.prom.tmp" && mv -f "$METRICS_DIR/backup-$PROJECT.prom.tmp" "$METRICS_DIR/backup-$PROJECT.prom"
