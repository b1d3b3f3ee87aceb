set -eu
HOST='xgen-gpu-1'
LOG_TAG='xgen-k3s'
ROLE='server'
K3S_VERSION='v1.36.1+k3s1'
INSTALL_MODE='online'
READY_TIMEOUT='300'
CONFIG_SHA256='f412bfacd01a42b58a0e90d6b0f6bd86a5b6ca43b83514709d6090b4d8638d52'
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
# install.sh: installs (or upgrades, or reconfigures) K3s on this host and (re)starts it.
# In: ROLE K3S_VERSION INSTALL_MODE READY_TIMEOUT CONFIG_SHA256 (a change restarts K3s)
#     airgapped: STAGED_BINARY BINARY_SHA256 STAGED_IMAGES IMAGES_SHA256 IMAGES_NAME
: "${ROLE:?}" "${K3S_VERSION:?}" "${INSTALL_MODE:?}" "${READY_TIMEOUT:?}" "${CONFIG_SHA256:?}"
unit=k3s
[ "$ROLE" = server ] || unit=k3s-agent
if [ "$INSTALL_MODE" = airgapped ]; then
	: "${STAGED_BINARY:?}" "${BINARY_SHA256:?}" "${STAGED_IMAGES:?}" "${IMAGES_SHA256:?}" "${IMAGES_NAME:?}"
	echo "$BINARY_SHA256  $STAGED_BINARY" | sha256sum -c --status ||
		die "the uploaded $STAGED_BINARY does not match its SHA-256; run pulumi up again to upload it again"
	echo "$IMAGES_SHA256  $STAGED_IMAGES" | sha256sum -c --status ||
		die "the uploaded $STAGED_IMAGES does not match its SHA-256; run pulumi up again to upload it again"
	as_root mkdir -p /var/lib/rancher/k3s/agent/images
	as_root install -m 0644 "$STAGED_IMAGES" "/var/lib/rancher/k3s/agent/images/$IMAGES_NAME"
	as_root install -m 0755 "$STAGED_BINARY" /usr/local/bin/k3s.xgen-new
else
	case "$(uname -m)" in
	x86_64) suffix="" sums=sha256sum-amd64.txt ;;
	*) suffix=-arm64 sums=sha256sum-arm64.txt ;;
	esac
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	url="https://github.com/k3s-io/k3s/releases/download/$(printf %s "$K3S_VERSION" | sed 's/+/%2B/')"
	curl -fsSL --retry 3 -o "$tmp/k3s" "$url/k3s$suffix" || die "cannot download K3s $K3S_VERSION from $url"
	curl -fsSL --retry 3 -o "$tmp/sums" "$url/$sums" || die "cannot download $sums from $url"
	want=$(awk -v f="k3s$suffix" '$2 == f { print $1 }' "$tmp/sums")
	echo "$want  $tmp/k3s" | sha256sum -c --status || die "the downloaded K3s does not match the release's $sums"
	as_root install -m 0755 "$tmp/k3s" /usr/local/bin/k3s.xgen-new
fi
as_root /usr/local/bin/k3s.xgen-new --version | grep -qF "$K3S_VERSION" ||
	die "the K3s binary is not $K3S_VERSION: $(as_root /usr/local/bin/k3s.xgen-new --version | head -n 1)"
as_root mv -f /usr/local/bin/k3s.xgen-new /usr/local/bin/k3s
for link in kubectl crictl ctr; do
	[ -e "/usr/local/bin/$link" ] || as_root ln -s k3s "/usr/local/bin/$link"
done
printf '%s\n' "[Unit]" "Description=Lightweight Kubernetes (K3s $ROLE, managed by xgen-infra)" \
	"Documentation=https://k3s.io" "Wants=network-online.target" "After=network-online.target" "" \
	"[Service]" "Type=notify" "KillMode=process" "Delegate=yes" "LimitNOFILE=1048576" "LimitNPROC=infinity" \
	"LimitCORE=infinity" "TasksMax=infinity" "TimeoutStartSec=0" "Restart=always" "RestartSec=5s" \
	"ExecStartPre=-/sbin/modprobe br_netfilter" "ExecStartPre=-/sbin/modprobe overlay" \
	"ExecStart=/usr/local/bin/k3s $ROLE" "" "[Install]" "WantedBy=multi-user.target" |
	as_root sh -c "cat >/etc/systemd/system/$unit.service"
as_root systemctl daemon-reload
as_root systemctl enable "$unit" >/dev/null 2>&1
as_root systemctl restart "$unit"
wait_until "$READY_TIMEOUT" "the $unit service to be active" as_root systemctl is-active --quiet "$unit"
if [ "$ROLE" = server ]; then
	wait_until "$READY_TIMEOUT" "the API server to be ready" kube get --raw /readyz
fi
log "K3s $K3S_VERSION $ROLE running"
