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
