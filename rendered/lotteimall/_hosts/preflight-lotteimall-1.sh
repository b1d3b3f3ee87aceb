set -eu
HOST='lotteimall-1'
LOG_TAG='xgen-k3s'
ROLE='server'
GPU='false'
INSTALL_MODE='airgapped'
MIN_DISK_MB='10240'
K3S_VERSION='v1.36.1+k3s1'
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
# preflight.sh: checks one host before anything on it is changed. Nothing is written.
# In: ROLE (server|agent) GPU (true|false) INSTALL_MODE (online|airgapped) MIN_DISK_MB
#     K3S_VERSION (the release to install or upgrade to)
: "${ROLE:?}" "${GPU:?}" "${INSTALL_MODE:?}" "${MIN_DISK_MB:?}" "${K3S_VERSION:?}"
me=$(id -un)
if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
	die "user $me cannot run sudo without a password; add '$me ALL=(ALL) NOPASSWD:ALL' to /etc/sudoers.d/$me (visudo -f)"
fi
[ "$(uname -s)" = Linux ] || die "unsupported OS $(uname -s): K3s needs Linux"
arch=$(uname -m)
case "$arch" in
x86_64) ;;
aarch64 | arm64) [ "$INSTALL_MODE" = online ] || die "the air-gapped artifacts are amd64 but this host is $arch" ;;
*) die "unsupported architecture $arch: K3s runs on amd64 and arm64" ;;
esac
if [ ! -d /run/systemd/system ] || ! command -v systemctl >/dev/null 2>&1; then
	die "systemd is not running: K3s is installed as a systemd service"
fi
# Our own K3s holds 6443/10250 itself; anything else there would stop K3s from starting.
if [ ! -f /etc/systemd/system/k3s.service ] && [ ! -f /etc/systemd/system/k3s-agent.service ]; then
	for port in 6443 10250; do
		if port_listening "$port"; then
			die "TCP port $port is in use by another program; find it with: sudo ss -ltnp 'sport = :$port'"
		fi
	done
fi
avail=$(df -Pm /var/lib | awk 'NR == 2 { print $4 }')
[ "$avail" -ge "$MIN_DISK_MB" ] || die "only $avail MB free under /var/lib; K3s and its images need at least $MIN_DISK_MB MB"
# GPU hosts: docs/configuration.md "GPU hosts" says how to install the driver and the toolkit.
if [ "$GPU" = true ]; then
	if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
		die "gpu: true, but the NVIDIA driver does not answer (nvidia-smi -L); install the driver (Ubuntu: sudo ubuntu-drivers install, then reboot; else NVIDIA's driver for this GPU and kernel) until nvidia-smi -L lists the GPU, or set gpu: false"
	fi
	command -v nvidia-container-runtime >/dev/null 2>&1 ||
		die "gpu: true, but nvidia-container-runtime is missing; install the NVIDIA Container Toolkit (from NVIDIA's package repository: sudo apt-get install nvidia-container-toolkit) before K3s, which registers its nvidia runtime only when it finds the toolkit at start"
	# K3s writes the runtimes it found into containerd's configuration at each start: a K3s
	# that started before the toolkit was installed has no nvidia runtime until it restarts.
	containerd_config=/var/lib/rancher/k3s/agent/etc/containerd/config.toml
	if sudo -n test -f "$containerd_config" && ! sudo -n grep -q nvidia "$containerd_config"; then
		unit=k3s
		[ "$ROLE" = agent ] && unit=k3s-agent
		die "gpu: true, but the K3s running here started before the NVIDIA Container Toolkit was installed and has no nvidia runtime ($containerd_config); restart it: sudo systemctl restart $unit"
	fi
fi
# Kubernetes upgrades one minor at a time and never downgrades (its version skew policy):
# refused here, before any host is drained.
if [ -x /usr/local/bin/k3s ]; then
	running=$(/usr/local/bin/k3s --version 2>/dev/null | sed -n '1s/^k3s version \(v[^ ]*\).*/\1/p' || true)
	have=$(printf %s "$running" | cut -d. -f2) want=$(printf %s "$K3S_VERSION" | cut -d. -f2)
	case "$have$want" in
	'' | *[!0-9]*) ;; # no readable version here: the install replaces what is there
	*)
		if [ "$want" -gt $((have + 1)) ]; then
			die "K3s $running runs here and cluster.k3s.version $K3S_VERSION is $((want - have)) minor releases ahead; Kubernetes upgrades one minor at a time: set cluster.k3s.version to the next release, v1.$((have + 1)) (its newest v1.$((have + 1)).x+k3sN), run pulumi up, and go on one minor at a time to $K3S_VERSION"
		fi
		if [ "$want" -lt "$have" ]; then
			die "K3s $running runs here and cluster.k3s.version $K3S_VERSION is an older minor release; Kubernetes cannot be downgraded: set cluster.k3s.version to a v1.$have or newer release (going back needs a restore from a backup)"
		fi
		;;
	esac
fi
# Air-gapped hosts are not expected to reach anything: nothing here needs egress.
if [ "$INSTALL_MODE" = online ]; then
	command -v curl >/dev/null 2>&1 || die "the online install downloads K3s with curl, which is missing"
fi
log "preflight ok: $arch, $avail MB free, role $ROLE"
