# status.sh: what `site status` reads from a K3s host, read-only, one "key=value" per line:
# the K3s unit and whether it is active, the installed K3s version, the free space where K3s
# keeps its data (MB).
# In: ROLE (server|agent)
: "${ROLE:?}"
unit=k3s
[ "$ROLE" = server ] || unit=k3s-agent
echo "unit=$unit"
echo "active=$(as_root systemctl is-active "$unit" 2>/dev/null || true)"
version=$(/usr/local/bin/k3s --version 2>/dev/null | sed -n '1s/^k3s version \([^ ]*\).*/\1/p' || true)
echo "version=${version:-none}"
dir=/var/lib/rancher
[ -d "$dir" ] || dir=/
echo "disk_free_mb=$(df -Pm "$dir" | awk 'NR == 2 { print $4 }')"
