# lib.sh (compose): what the compose host scripts share beyond the common lib.
# Every script gets PROJECT and DATA_DIR.
: "${PROJECT:?}" "${DATA_DIR:?}"
# dc runs docker compose on the project as root (the .env is root's, mode 0600).
dc() {
	as_root docker compose --project-name "$PROJECT" --project-directory "$DATA_DIR" \
		--file "$DATA_DIR/compose.yaml" --env-file "$DATA_DIR/.env" "$@"
}
# project_running: a container of the project is running.
project_running() {
	[ -n "$(as_root docker ps -q --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null)" ]
}
# shellcheck disable=SC2034 # read by the scripts that keep markers
MARKER=/var/lib/xgen-infra/$PROJECT.generation
