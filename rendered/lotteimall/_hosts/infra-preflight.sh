set -eu
HOST='lotteimall-1'
LOG_TAG='xgen-infra'
PROJECT='xgen-infra'
DATA_DIR='/srv/xgen-infra'
PORTS='5432 6333 6334 6379 9000 9001 9121 9187'
MIN_DISK_MB='5120'
NEED_BACKUP='true'
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
# preflight.sh: checks the compose host before the project changes. Nothing is written.
# In: PORTS (published ports, space-separated) MIN_DISK_MB NEED_BACKUP (true|false)
: "${PORTS:?}" "${MIN_DISK_MB:?}" "${NEED_BACKUP:?}"
me=$(id -un)
if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
	die "user $me cannot run sudo without a password; add '$me ALL=(ALL) NOPASSWD:ALL' to /etc/sudoers.d/$me (visudo -f)"
fi
command -v docker >/dev/null 2>&1 ||
	die "Docker is not installed; install Docker Engine with the compose plugin (docker-ce, docker-compose-plugin)"
as_root docker info >/dev/null 2>&1 ||
	die "the Docker engine does not answer (docker info); start it: sudo systemctl enable --now docker"
version=$(as_root docker compose version --short 2>/dev/null) ||
	die "Docker Compose v2 is missing (docker compose version); install the docker-compose-plugin package"
version=${version#v}
major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
case "$major.$minor" in
*[!0-9.]* | .* | *.) die "cannot read the Docker Compose version \"$version\"" ;;
esac
if [ "$major" -lt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -lt 20 ]; }; then
	die "Docker Compose $version is too old: up --wait with --wait-timeout needs 2.20 or newer"
fi
# The first existing directory on the way to DATA_DIR says which file system it lands on.
dir=$DATA_DIR
while [ ! -d "$dir" ]; do dir=$(dirname "$dir"); done
avail=$(df -Pm "$dir" | awk 'NR == 2 { print $4 }')
[ "$avail" -ge "$MIN_DISK_MB" ] || die "only $avail MB free under $dir; the infra data needs at least $MIN_DISK_MB MB"
# The project's own containers hold its ports; anything else there would stop it starting.
if ! project_running; then
	for port in $PORTS; do
		if port_listening "$port"; then
			die "TCP port $port is in use by another program; find it with: sudo ss -ltnp 'sport = :$port'"
		fi
	done
fi
if [ "$NEED_BACKUP" = true ]; then
	if [ ! -d /run/systemd/system ] || ! command -v systemctl >/dev/null 2>&1; then
		die "infra.compose.backup runs from a systemd timer, but systemd is not running"
	fi
	command -v curl >/dev/null 2>&1 || die "infra.compose.backup downloads Qdrant snapshots with curl, which is missing"
fi
log "preflight ok: Docker Compose $version, $avail MB free"
