set -eu
HOST='xgen-gpu-1'
LOG_TAG='xgen-infra'
PROJECT='xgen-infra'
DATA_DIR='/srv/xgen-infra'
WAIT_TIMEOUT='300'
INIT_DB='true'
INIT_BUCKETS='true'
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
# up.sh: starts (or updates) the project and waits until every service is healthy, then
# runs the database init again (a rotated password converges: the image runs initdb only on
# an empty data directory) and creates the buckets.
# In: WAIT_TIMEOUT (seconds) INIT_DB (true|false) INIT_BUCKETS (true|false)
: "${WAIT_TIMEOUT:?}" "${INIT_DB:?}" "${INIT_BUCKETS:?}"
as_root test -f "$DATA_DIR/.env" || die "$DATA_DIR/.env is missing"
# A volume keeps the device it was made with: after a move to another dataDir on this host the
# project's volumes would still bind the old place's directories. Volumes whose device is not
# under DATA_DIR are made again (they only bind a directory: the data stays where it is), once
# the containers using them are stopped.
stale=""
for volume in $(as_root docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT"); do
	device=$(as_root docker volume inspect --format '{{index .Options "device"}}' "$volume")
	case "$device" in
	"$DATA_DIR"/volumes/*) ;;
	*) stale="$stale $volume" ;;
	esac
done
if [ -n "$stale" ]; then
	dc down --remove-orphans
	# shellcheck disable=SC2086 # one word per volume
	as_root docker volume rm $stale >/dev/null
	log "volumes that bound another place's data made again for $DATA_DIR:$stale"
fi
dc up --detach --wait --wait-timeout "$WAIT_TIMEOUT" --remove-orphans ||
	die "the project did not become healthy in ${WAIT_TIMEOUT}s; see: sudo docker compose -p $PROJECT ps; sudo docker compose -p $PROJECT logs"
if [ "$INIT_DB" = true ]; then
	dc exec -T postgres sh /docker-entrypoint-initdb.d/10-xgen-app.sh
fi
if [ "$INIT_BUCKETS" = true ]; then
	dc --profile init run --rm minio-init
fi
log "project $PROJECT up"
