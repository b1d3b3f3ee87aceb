set -eu
HOST='xgen-gpu-1'
LOG_TAG='xgen-k3s'
NODE='xgen-gpu-1'
LABELS='nvidia.com/gpu.present=true'
TAINTS=''
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
# node-metadata.sh (runs on the first server): makes NODE's labels and taints what the config
# says, both ways: what an earlier run set and the config no longer has is removed (the node
# remembers what we set in two annotations).
# In: NODE LABELS ("k=v k2=v2") TAINTS ("k=v:Effect k2:Effect")
: "${NODE:?}"
LABELS=${LABELS-} TAINTS=${TAINTS-}
had_labels=$(kube get node "$NODE" -o 'jsonpath={.metadata.annotations.xgen\.ai/labels}')
had_taints=$(kube get node "$NODE" -o 'jsonpath={.metadata.annotations.xgen\.ai/taints}')
for old in $had_labels; do
	key=${old%%=*}
	case " $LABELS " in *" $key="*) ;; *) kube label node "$NODE" "$key-" >/dev/null ;; esac
done
for old in $had_taints; do
	case " $TAINTS " in *" $old "*) ;; *) kube taint node "$NODE" "$old-" >/dev/null 2>&1 || true ;; esac
done
for label in $LABELS; do kube label node "$NODE" --overwrite "$label" >/dev/null; done
for taint in $TAINTS; do kube taint node "$NODE" --overwrite "$taint" >/dev/null; done
kube annotate node "$NODE" --overwrite "xgen.ai/labels=$LABELS" "xgen.ai/taints=$TAINTS" >/dev/null
log "node $NODE: labels [$LABELS] taints [$TAINTS]"
