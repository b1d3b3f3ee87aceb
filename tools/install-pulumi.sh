#!/usr/bin/env bash
# Builds the real Pulumi engine for the Kubernetes layer into .tools/ (git-ignored), from the Go
# module proxy only (nothing is downloaded at run time):
#   bin/pulumi                      the CLI                               (tools/pulumi-cli)
#   bin/pulumi-language-go          the Go language host, next to the CLI (tools/pulumi-language-go)
#   bin/pulumi-resource-kubernetes  the kubernetes provider plugin        (tools/pulumi-kubernetes)
#   pulumi-home/                    a private PULUMI_HOME with that plugin installed under the
#                                   version the program's go.mod pins for pulumi-kubernetes/sdk/v4
# Versions live in tools/versions.env. A second run with nothing changed does nothing.
# Cold: about 15 minutes on 2 cores, ~6 GB of build cache.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
. "$root/tools/versions.env"
out="$root/.tools"
bin="$out/bin"
home="$out/pulumi-home"
stamp="$out/pulumi.stamp"

# The engine loads the provider at exactly the version the program's SDK pins.
plugin_version=$(sed -n 's|^[[:space:]]*github.com/pulumi/pulumi-kubernetes/sdk/v4 v\([^ ]*\).*|\1|p' "$root/go.mod")
[[ -n $plugin_version ]] || { echo "go.mod does not require github.com/pulumi/pulumi-kubernetes/sdk/v4" >&2; exit 1; }

want=$( { cat "$root/tools/versions.env" "$root/tools/install-pulumi.sh"; echo "$plugin_version";
	cat "$root"/tools/pulumi-{cli,kubernetes,language-go}/go.mod "$root"/tools/pulumi-kubernetes/embedschema/main.go; } |
	sha256sum | cut -d' ' -f1)
binaries=(pulumi pulumi-language-go pulumi-resource-kubernetes)

up_to_date() {
	[[ -f $stamp && $(cat "$stamp") == "$want" && -d $home/plugins/resource-kubernetes-v$plugin_version ]] || return 1
	local b
	for b in "${binaries[@]}"; do [[ -x $bin/$b ]] || return 1; done
}
if up_to_date; then
	echo "tools: up to date in .tools/ (pulumi $PULUMI_VERSION, kubernetes plugin $plugin_version, language host $PULUMI_LANGUAGE_GO_SDK)"
	exit 0
fi

# The wrapper modules are the lock files of these builds; they must agree with versions.env.
require() { # module dir, module path, version
	grep -Eq "^[[:space:]]*(require )?$2 $3( // indirect)?\$" "$root/tools/$1/go.mod" ||
		{ echo "tools/$1/go.mod does not require $2 $3 (tools/versions.env)" >&2; exit 1; }
}
require pulumi-cli github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION"
require pulumi-cli github.com/pulumi/pulumi/sdk/v3 "$PULUMI_VERSION"
require pulumi-kubernetes github.com/pulumi/pulumi-kubernetes/provider/v4 "$PULUMI_KUBERNETES_PROVIDER"
require pulumi-kubernetes github.com/pulumi/pulumi-kubernetes/sdk/v4 "$PULUMI_KUBERNETES_PROVIDER_SDK"
require pulumi-language-go github.com/pulumi/pulumi/sdk/v3 "$PULUMI_LANGUAGE_GO_SDK"

mkdir -p "$bin"

echo "tools: building the Pulumi CLI $PULUMI_VERSION (about 5 minutes from a cold cache)..."
(cd "$root/tools/pulumi-cli" && go build -trimpath -tags osusergo,grpcnotrace \
	-ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
	-o "$bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)

echo "tools: building the Go language host (sdk $PULUMI_LANGUAGE_GO_SDK)..."
(cd "$root/tools/pulumi-language-go" && go build -trimpath -o "$bin/pulumi-language-go" \
	github.com/pulumi/pulumi/sdk/v3/go/pulumi-language-go)

# The provider's module zip lacks the two files its main.go embeds (its `go generate` writes
# them): copy the module to a writable place, generate them there, build that copy.
echo "tools: building the kubernetes provider plugin ($PULUMI_KUBERNETES_PROVIDER as $plugin_version; about 8 minutes cold)..."
src="$out/src/pulumi-kubernetes-provider"
# (downloaded outside any module: the wrapper module's replacement directory may not exist yet)
dl=$(mktemp -d)
trap 'rm -rf "$dl"' EXIT
moddir=$(cd "$dl" && go mod download -json \
	"github.com/pulumi/pulumi-kubernetes/provider/v4@$PULUMI_KUBERNETES_PROVIDER" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -n $moddir ]] || { echo "could not download the provider module $PULUMI_KUBERNETES_PROVIDER" >&2; exit 1; }
rm -rf "$src"
mkdir -p "$(dirname "$src")"
cp -r "$moddir" "$src"
chmod -R u+w "$src"
(
	cd "$root/tools/pulumi-kubernetes"
	go run ./embedschema "$src/cmd/pulumi-resource-kubernetes" "$plugin_version"
	go build -trimpath -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$plugin_version" \
		-o "$bin/pulumi-resource-kubernetes" github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes
)

echo "tools: installing the kubernetes plugin as $plugin_version into .tools/pulumi-home..."
rm -rf "$home/plugins/resource-kubernetes-v$plugin_version"*
PULUMI_HOME="$home" PULUMI_SKIP_UPDATE_CHECK=true PULUMI_IGNORE_AMBIENT_PLUGINS=true \
	PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true \
	"$bin/pulumi" plugin install resource kubernetes "$plugin_version" --file "$bin/pulumi-resource-kubernetes"

echo "$want" >"$stamp"
echo "tools: Pulumi ready in .tools/ (pulumi $PULUMI_VERSION, kubernetes plugin $plugin_version)"
