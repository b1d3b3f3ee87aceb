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
