set -eu
HOST='lotteimall-1'
LOG_TAG='xgen-k3s'
ROLE='server'
NODE='lotteimall-1'
GEN='b15881f5069cf4aa'
UNINSTALL_ON_DESTROY='false'
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
# lib.sh (k3s): what the K3s scripts share beyond the common lib.
kube() { as_root /usr/local/bin/k3s kubectl "$@"; }
# shellcheck disable=SC2034 # read by the scripts that keep markers
MARKERS=/var/lib/rancher/xgen
# host-delete.sh: the only script that uninstalls K3s. It runs when the host leaves the
# config or the stack is destroyed, never on an upgrade or a config change (those replace
# other commands), and a replaced generation of it does nothing.
# Uninstalls when UNINSTALL_ON_DESTROY is true, or for an agent whose node the first server
# deleted (the agent was removed from the config); otherwise K3s keeps running.
# In: ROLE NODE GEN UNINSTALL_ON_DESTROY
: "${ROLE:?}" "${NODE:?}" "${GEN:?}" "${UNINSTALL_ON_DESTROY:?}"
marker_is "$MARKERS/host" "$GEN" || {
	log "superseded; nothing to do"
	exit 0
}
if [ "$UNINSTALL_ON_DESTROY" != true ]; then
	if [ "$ROLE" = server ]; then
		log "K3s kept (cluster.uninstallOnDestroy is false)"
		exit 0
	fi
	if out=$(as_root /usr/local/bin/k3s kubectl --kubeconfig /var/lib/rancher/k3s/agent/kubelet.kubeconfig get node "$NODE" -o name 2>&1); then
		log "K3s kept (node $NODE is still in the cluster; cluster.uninstallOnDestroy is false)"
		exit 0
	fi
	case "$out" in
	*NotFound* | *"not found"*) ;;
	*) die "cannot tell whether node $NODE was removed from the cluster: $out" ;;
	esac
fi
for unit in k3s k3s-agent; do
	if [ -f "/etc/systemd/system/$unit.service" ]; then
		as_root systemctl disable --now "$unit" >/dev/null 2>&1 || true
		as_root rm -f "/etc/systemd/system/$unit.service"
	fi
done
as_root systemctl daemon-reload
# What the K3s service leaves running and mounted when it stops (containers, their mounts).
# ([d]ata: the pattern must not match this script's own command line.)
as_root pkill -f '/var/lib/rancher/k3s/[d]ata/' 2>/dev/null || true
awk '$2 ~ "^(/run/k3s|/var/lib/kubelet|/var/lib/rancher/k3s)" { print $2 }' /proc/self/mounts | sort -r |
	while read -r mnt; do as_root umount "$mnt" 2>/dev/null || true; done
for link in cni0 flannel.1 flannel-v6.1; do
	if [ -e "/sys/class/net/$link" ]; then as_root ip link delete "$link" 2>/dev/null || true; fi
done
for link in kubectl crictl ctr; do
	if [ "$(readlink "/usr/local/bin/$link" 2>/dev/null || true)" = k3s ]; then as_root rm -f "/usr/local/bin/$link"; fi
done
as_root rm -rf /etc/rancher/k3s /var/lib/rancher/k3s "$MARKERS" /usr/local/bin/k3s /var/tmp/xgen-k3s
log "K3s uninstalled"
