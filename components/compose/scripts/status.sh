# status.sh: what `site status` reads from the compose host, read-only: one
# "service NAME STATE HEALTH" line per service of the project (Compose's own view; HEALTH is
# "-" without a health check), and the newest backup's age in seconds ("backup_age=" when
# there is none).
# In: BACKUP_DIR (empty: no backups)
BACKUP_DIR=${BACKUP_DIR:-}
dc ps --all --format '{{.Service}} {{.State}} {{.Health}}' | while read -r name state health; do
	echo "service $name $state ${health:--}"
done
if [ -n "$BACKUP_DIR" ]; then
	newest=$(as_root find "$BACKUP_DIR" -maxdepth 1 -type f \( -name 'postgres-*.dump' -o -name 'qdrant-*.snapshot' \) -printf '%T@\n' 2>/dev/null |
		sort -n | tail -n 1 | cut -d. -f1)
	if [ -n "$newest" ]; then
		echo "backup_age=$(($(date +%s) - newest))"
	else
		echo "backup_age="
	fi
fi
