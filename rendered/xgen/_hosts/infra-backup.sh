set -eu
HOST='xgen-gpu-1'
LOG_TAG='xgen-infra'
PROJECT='xgen-infra'
DATA_DIR='/srv/xgen-infra'
JOB='/usr/local/sbin/xgen-infra-backup-xgen-infra'
TIME='03:00'
GEN='4c9397ab3680e825'
METRICS_DIR='/var/lib/xgen-infra/metrics'
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
# backup-install.sh: installs the nightly backup job (standard input) as JOB with a systemd
# service and timer, and records this generation for backup-delete. The first install also
# records when backups became expected (METRICS_DIR): a job that never completes alerts too.
# In: JOB TIME GEN METRICS_DIR
: "${JOB:?}" "${TIME:?}" "${GEN:?}" "${METRICS_DIR:?}"
unit=xgen-infra-backup-$PROJECT
# shellcheck disable=SC2016 # expanded by the inner shell
as_root sh -c 'umask 077 && cat >"$1.xgen-tmp" && chmod 0700 "$1.xgen-tmp" && mv -f "$1.xgen-tmp" "$1"' sh "$JOB"
# shellcheck disable=SC2016 # expanded by the inner shell
printf '[Unit]\nDescription=xgen-infra backup of %s\nAfter=docker.service\n\n[Service]\nType=oneshot\nExecStart=%s\n' "$PROJECT" "$JOB" |
	as_root sh -c 'cat >"$1"' sh "/etc/systemd/system/$unit.service"
# shellcheck disable=SC2016 # expanded by the inner shell
printf '[Unit]\nDescription=Nightly xgen-infra backup of %s\n\n[Timer]\nOnCalendar=*-*-* %s:00\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n' "$PROJECT" "$TIME" |
	as_root sh -c 'cat >"$1"' sh "/etc/systemd/system/$unit.timer"
as_root systemctl daemon-reload
as_root systemctl enable --now "$unit.timer" >/dev/null 2>&1 || die "cannot enable $unit.timer"
# shellcheck disable=SC2016 # expanded by the inner shell
printf '%s\n' "$GEN" | as_root sh -c 'umask 077 && cat >"$1"' sh "$MARKER.backup"
installed="$METRICS_DIR/backup-$PROJECT-installed.prom"
if ! as_root test -f "$installed"; then
	# shellcheck disable=SC2016 # expanded by the inner shell
	printf '# HELP xgen_backup_timer_installed_timestamp_seconds When the nightly backup of the compose project was first installed (Unix time).\n# TYPE xgen_backup_timer_installed_timestamp_seconds gauge\nxgen_backup_timer_installed_timestamp_seconds{project="%s"} %s\n' "$PROJECT" "$(date +%s)" |
		as_root sh -c 'mkdir -p "$(dirname "$1")" && chmod 0755 "$(dirname "$1")" && cat >"$1.tmp" && chmod 0644 "$1.tmp" && mv -f "$1.tmp" "$1"' sh "$installed"
fi
log "backup timer $unit.timer at $TIME"
