# migrate-check.sh: what `site migrate-check` reads from the compose host before a
# switch-over from the seeds' system, read-only: the state of the project's data directory
# ("data_dir absent", "data_dir empty", "data_dir entries N") and one "volume NAME" line per
# Docker volume of the old compose project (what the migration copies from; kept after it).
# In: OLD_PROJECT (the old compose project's name)
: "${OLD_PROJECT:?}"
if ! as_root test -e "$DATA_DIR"; then
	echo "data_dir absent"
else
	entries=$(as_root find "$DATA_DIR" -mindepth 1 -maxdepth 1 | wc -l)
	if [ "$entries" -eq 0 ]; then
		echo "data_dir empty"
	else
		echo "data_dir entries $entries"
	fi
fi
as_root docker volume ls --quiet --filter "label=com.docker.compose.project=$OLD_PROJECT" 2>/dev/null |
	while read -r volume; do
		echo "volume $volume"
	done
