set -eu
HOST='lotteimall-1'
LOG_TAG='xgen-infra'
PROJECT='xgen-infra'
DATA_DIR='/srv/xgen-infra'
IMAGES='0000000000000000000000000000000000000000000000000000000000000000 postgres_15.4.tar /var/tmp/xgen-infra-000000000000-postgres_15.4.tar
0000000000000000000000000000000000000000000000000000000000000000 redis_8.0-alpine.tar /var/tmp/xgen-infra-000000000000-redis_8.0-alpine.tar
0000000000000000000000000000000000000000000000000000000000000000 qdrant_qdrant_v1.13.4.tar /var/tmp/xgen-infra-000000000000-qdrant_qdrant_v1.13.4.tar
0000000000000000000000000000000000000000000000000000000000000000 minio_minio_RELEASE.2025-04-22T22-12-26Z.tar /var/tmp/xgen-infra-000000000000-minio_minio_RELEASE.2025-04-22T22-12-26Z.tar
0000000000000000000000000000000000000000000000000000000000000000 minio_mc_RELEASE.2025-04-16T18-13-26Z.tar /var/tmp/xgen-infra-000000000000-minio_mc_RELEASE.2025-04-16T18-13-26Z.tar
0000000000000000000000000000000000000000000000000000000000000000 quay.io_prometheuscommunity_postgres-exporter_v0.17.1.tar /var/tmp/xgen-infra-000000000000-quay.io_prometheuscommunity_postgres-exporter_v0.17.1.tar
0000000000000000000000000000000000000000000000000000000000000000 docker.io_oliver006_redis_exporter_v1.74.0.tar /var/tmp/xgen-infra-000000000000-docker.io_oliver006_redis_exporter_v1.74.0.tar'
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
# load-images.sh: `docker load`s the image bundle's compose images on this host (a closed
# network has no registry to pull them from). An image whose digest this host loaded
# already is skipped (a marker per file under DATA_DIR/images).
# In: IMAGES (lines "<sha256> <name> <staged upload>")
: "${IMAGES:?}"
as_root mkdir -p "$DATA_DIR/images"
loaded=0
while read -r sha name staged; do
	[ -n "$name" ] || continue
	marker="$DATA_DIR/images/$name.sha256"
	[ "$(as_root cat "$marker" 2>/dev/null || true)" = "$sha" ] && continue
	echo "$sha  $staged" | sha256sum -c --status ||
		die "the uploaded $staged does not match its SHA-256; run pulumi up again to upload it again"
	as_root docker load --input "$staged" >/dev/null || die "docker could not load $name"
	printf '%s\n' "$sha" | as_root tee "$marker" >/dev/null
	rm -f "$staged"
	loaded=$((loaded + 1))
	log "loaded $name"
done <<LIST
$IMAGES
LIST
log "images: $loaded loaded"
