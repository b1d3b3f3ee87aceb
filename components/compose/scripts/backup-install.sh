# backup-install.sh: installs the nightly backup job (standard input) as JOB with a systemd
# service and timer, and records this generation for backup-delete.
# In: JOB TIME GEN
: "${JOB:?}" "${TIME:?}" "${GEN:?}"
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
log "backup timer $unit.timer at $TIME"
