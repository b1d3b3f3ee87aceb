set -eu
HOST='xgen-gpu-1'
LOG_TAG='xgen-infra'
PROJECT='xgen-infra'
DATA_DIR='/srv/xgen-infra'
GEN='6e38ed7d023e7498'
REMOVE_DATA='false'
# lib.sh: helpers every host script starts with (the builders put it after the script's
# parameters). POSIX sh: the login shell of the SSH user runs the scripts.
# Parameters come from the header the builder writes; every script gets HOST and LOG_TAG.
: "${HOST:?}" "${LOG_TAG:?}"

log() { printf '%s[%s]: %s\n' "$LOG_TAG" "$HOST" "$*" >&2; }
die() {
	printf '%s[%s]: error: %s\n' "$LOG_TAG" "$HOST" "$*" >&2
	exit 1
}
# as_root runs a command as root without ever prompting (no TTY, no password).
as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}
# port_listening PORT: something listens on TCP PORT in this host's network.
port_listening() {
	hex=$(printf ':%04X' "$1")
	awk -v p="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# wait_until SECONDS WHAT CMD...: retries CMD every 2 s until it succeeds or time is up.
wait_until() {
	limit=$1 what=$2
	shift 2
	waited=0
	until "$@" >/dev/null 2>&1; do
		[ "$waited" -lt "$limit" ] || die "timed out after ${limit}s waiting for $what"
		sleep 2
		waited=$((waited + 2))
	done
}
# marker_is FILE VALUE: FILE (root-owned) holds exactly VALUE.
marker_is() { [ "$(as_root cat "$1" 2>/dev/null || true)" = "$2" ]; }
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
