#!/bin/sh
# TEST-ONLY stand-in for systemctl on a test host (no systemd runs in a test host's
# namespaces). Supports what the K3s scripts use: daemon-reload, enable [--now], disable
# [--now], start, stop, restart, is-active [--quiet]. A unit's ExecStart runs detached,
# its output in /var/log/<unit>.log, its PID in /run/standin-systemd/<unit>.pid. A timer
# (<name>.timer) is only recorded as enabled (<name>.timer.enabled): tests run its job. An
# enabled unit is also recorded where it survives a reboot, as systemd's symlink would be
# (/etc/systemd/system/multi-user.target.wants/<unit>): boot.sh starts those again.
set -eu
state=/run/standin-systemd
wants=/etc/systemd/system/multi-user.target.wants
mkdir -p "$state" "$wants"

unit_name() { echo "${1%.service}"; }
pid_of() { cat "$state/$1.pid" 2>/dev/null || true; }
alive() {
	pid=$(pid_of "$1")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}
start() {
	alive "$1" && return 0
	file="/etc/systemd/system/$1.service"
	[ -f "$file" ] || {
		echo "Unit $1.service not found." >&2
		exit 5
	}
	exec_start=$(sed -n 's/^ExecStart=//p' "$file")
	# shellcheck disable=SC2086 # ExecStart is a command line
	setsid $exec_start >>"/var/log/$1.log" 2>&1 </dev/null &
	echo $! >"$state/$1.pid"
}
stop() {
	pid=$(pid_of "$1")
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$state/$1.pid"
}

cmd=$1
shift
now=false quiet=false
units=""
for arg in "$@"; do
	case "$arg" in
	--now) now=true ;;
	--quiet | -q) quiet=true ;;
	-*) ;;
	*) units="$units $(unit_name "$arg")" ;;
	esac
done
case "$cmd" in
daemon-reload) ;;
enable)
	for u in $units; do
		[ "${u%.timer}" = "$u" ] || [ -f "/etc/systemd/system/$u" ] || {
			echo "Unit $u not found." >&2
			exit 5
		}
		touch "$state/$u.enabled" "$wants/$u"
		if [ "$now" = true ] && [ "${u%.timer}" = "$u" ]; then start "$u"; fi
	done
	;;
disable)
	for u in $units; do
		rm -f "$state/$u.enabled" "$wants/$u"
		if [ "$now" = true ] && [ "${u%.timer}" = "$u" ]; then stop "$u"; fi
	done
	;;
start) for u in $units; do start "$u"; done ;;
stop) for u in $units; do stop "$u"; done ;;
restart) for u in $units; do
	stop "$u"
	start "$u"
done ;;
is-active)
	for u in $units; do
		if alive "$u"; then
			[ "$quiet" = true ] || echo active
		else
			[ "$quiet" = true ] || echo inactive
			exit 3
		fi
	done
	;;
*)
	echo "systemctl stand-in: $cmd is not supported" >&2
	exit 1
	;;
esac
