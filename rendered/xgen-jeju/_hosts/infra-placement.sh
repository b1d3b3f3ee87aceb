set -eu
HOST='xgen-jeju-1'
LOG_TAG='xgen-infra'
PROJECT='xgen-infra'
DATA_DIR='/srv/xgen-infra'
PLACEMENT='192.0.2.31:/srv/xgen-infra'
ALLOW_MOVE='false'
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
