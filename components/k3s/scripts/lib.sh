# lib.sh (k3s): what the K3s scripts share beyond the common lib.
kube() { as_root /usr/local/bin/k3s kubectl "$@"; }
# shellcheck disable=SC2034 # read by the scripts that keep markers
MARKERS=/var/lib/rancher/xgen
