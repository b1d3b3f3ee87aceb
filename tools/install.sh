#!/usr/bin/env bash
# Builds the local test cluster's pinned tools into .tools/ (git-ignored):
#   bin/kube-apiserver, bin/kube-controller-manager, bin/kube-scheduler, bin/kubectl,
#   bin/etcd                                                                        (tools/k8s module)
#   bin/kwok                                                                        (sigs.k8s.io/kwok)
#   kwok-stages.yaml   node/pod lifecycle stages shipped in the kwok module
#   istio-crds.yaml    Istio's CRDs from the istio.io/api module
# Versions live in tools/versions.env. A second run with nothing changed does nothing; a build
# of the same pinned sources done by another clone on this machine is restored from the tools
# cache (tools/cache.sh).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
. "$root/tools/versions.env"
# shellcheck source=cache.sh
. "$root/tools/cache.sh"
out="$root/.tools"
bin="$out/bin"
stamp="$out/versions.stamp"
want=$(cat "$root/tools/versions.env" "$root/tools/k8s/go.mod" "$root/tools/k8s/go.sum" "$root/tools/install.sh" |
	sha256sum | cut -d' ' -f1)
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)
outputs=(kwok-stages.yaml istio-crds.yaml "${binaries[@]/#/bin/}")

up_to_date() {
	[[ -f $stamp && $(cat "$stamp") == "$want" && -f $out/kwok-stages.yaml && -f $out/istio-crds.yaml ]] || return 1
	local b
	for b in "${binaries[@]}"; do [[ -x $bin/$b ]] || return 1; done
}
if up_to_date; then
	echo "tools: up to date in .tools/ (k8s $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION, istio api $ISTIO_API_VERSION)"
	exit 0
fi
if cache_restore k8s "$want" "$out" "${outputs[@]}"; then
	echo "$want" >"$stamp"
	exit 0
fi

# The wrapper module is the lock file of the Kubernetes build; it must agree with versions.env.
grep -q "k8s.io/kubernetes $K8S_VERSION\$" "$root/tools/k8s/go.mod" ||
	{ echo "tools/k8s/go.mod does not require k8s.io/kubernetes $K8S_VERSION (tools/versions.env)" >&2; exit 1; }
grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION\$" "$root/tools/k8s/go.mod" ||
	{ echo "tools/k8s/go.mod does not require etcd $ETCD_VERSION (tools/versions.env)" >&2; exit 1; }

mkdir -p "$bin"
minor=$(echo "$K8S_VERSION" | cut -d. -f2)
ldflags="-s -w" # stripped: nothing here is debugged with symbols, and the links are shorter
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
done

echo "tools: building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $K8S_VERSION and etcd $ETCD_VERSION (a few minutes from a cold cache)..."
SECONDS=0
(
	cd "$root/tools/k8s"
	go build -trimpath -ldflags "$ldflags" -o "$bin/" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
		k8s.io/kubernetes/cmd/kubectl
	go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3
)

echo "tools: kubernetes binaries and etcd built in $(elapsed $SECONDS)"

echo "tools: building kwok $KWOK_VERSION..."
SECONDS=0
GOBIN="$bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
echo "tools: kwok built in $(elapsed $SECONDS)"

module_dir() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }

kwok_dir=$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")
stages=(node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
	pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml)
: >"$out/kwok-stages.yaml.tmp"
for s in "${stages[@]}"; do
	{ echo "---"; cat "$kwok_dir/kustomize/stage/$s"; } >>"$out/kwok-stages.yaml.tmp"
done
mv "$out/kwok-stages.yaml.tmp" "$out/kwok-stages.yaml"

istio_dir=$(module_dir "istio.io/api@$ISTIO_API_VERSION")
cp "$istio_dir/kubernetes/customresourcedefinitions.gen.yaml" "$out/istio-crds.yaml"
chmod u+w "$out/istio-crds.yaml"

cache_save k8s "$want" "$out" "${outputs[@]}"
echo "$want" >"$stamp"
echo "tools: ready in .tools/"
