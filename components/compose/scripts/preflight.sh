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
