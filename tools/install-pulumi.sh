#!/usr/bin/env bash
# Builds the real Pulumi engine into .tools/ (git-ignored), from the Go module proxy and the
# vendored sources in third_party/ only (nothing is downloaded at run time):
#   bin/pulumi                      the CLI                               (tools/pulumi-cli)
#   bin/pulumi-language-go          the Go language host, next to the CLI (tools/pulumi-language-go,
#                                   source third_party/pulumi-language-go)
#   bin/pulumi-resource-kubernetes  the kubernetes provider plugin        (tools/pulumi-kubernetes)
#   bin/pulumi-resource-command     the command provider plugin           (tools/pulumi-command,
#                                   source third_party/pulumi-command)
#   pulumi-home/                    a private PULUMI_HOME with both plugins installed under the
#                                   versions the program's go.mod pins for their SDKs
# Versions live in tools/versions.env. A second run with nothing changed does nothing; a build
# of the same pinned sources done by another clone on this machine is restored from the tools
# cache (tools/cache.sh). Cold: about 20 minutes on 2 cores, ~7 GB of build cache.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
. "$root/tools/versions.env"
# shellcheck source=cache.sh
. "$root/tools/cache.sh"
out="$root/.tools"
bin="$out/bin"
home="$out/pulumi-home"
stamp="$out/pulumi.stamp"

# The engine loads each provider at exactly the version the program's SDK pins.
sdk_version() { # module path in the program's go.mod
	sed -n "s|^[[:space:]]*$1 v\\([^ ]*\\).*|\\1|p" "$root/go.mod"
}
plugin_version=$(sdk_version github.com/pulumi/pulumi-kubernetes/sdk/v4)
[[ -n $plugin_version ]] || { echo "go.mod does not require github.com/pulumi/pulumi-kubernetes/sdk/v4" >&2; exit 1; }
command_version=$(sdk_version github.com/pulumi/pulumi-command/sdk)
[[ v$command_version == "$PULUMI_COMMAND_VERSION" ]] ||
	{ echo "go.mod pins pulumi-command/sdk v$command_version but the vendored provider is $PULUMI_COMMAND_VERSION (tools/versions.env, third_party/pulumi-command): vendor the matching release" >&2; exit 1; }

# The vendored sources are part of what is built: any change to them rebuilds.
vendored=$(cd "$root" && find third_party/pulumi-command third_party/pulumi-language-go -type f -print0 |
	sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
want=$( { cat "$root/tools/versions.env" "$root/tools/install-pulumi.sh"; echo "$plugin_version $command_version $vendored";
	cat "$root"/tools/pulumi-{cli,kubernetes,language-go,command}/go.{mod,sum} "$root"/tools/pulumi-kubernetes/embedschema/main.go; } |
	sha256sum | cut -d' ' -f1)
binaries=(pulumi pulumi-language-go pulumi-resource-kubernetes pulumi-resource-command)
outputs=(pulumi-home "${binaries[@]/#/bin/}")

up_to_date() {
	[[ -f $stamp && $(cat "$stamp") == "$want" && -d $home/plugins/resource-kubernetes-v$plugin_version &&
		-d $home/plugins/resource-command-v$command_version ]] || return 1
	local b
	for b in "${binaries[@]}"; do [[ -x $bin/$b ]] || return 1; done
}
if up_to_date; then
	echo "tools: up to date in .tools/ (pulumi $PULUMI_VERSION, language host $PULUMI_LANGUAGE_GO_COMMIT, kubernetes plugin $plugin_version, command plugin $command_version)"
	exit 0
fi
if cache_restore pulumi "$want" "$out" "${outputs[@]}"; then
	echo "$want" >"$stamp"
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
require pulumi-language-go github.com/pulumi/pulumi/sdk/v3 "$PULUMI_VERSION"
require pulumi-language-go github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION"
require pulumi-command github.com/pulumi/pulumi-command/provider "$PULUMI_COMMAND_VERSION"
grep -q "^commit ${PULUMI_LANGUAGE_GO_COMMIT}" "$root/third_party/pulumi-language-go/ORIGIN.md" ||
	{ echo "third_party/pulumi-language-go/ORIGIN.md does not name commit $PULUMI_LANGUAGE_GO_COMMIT (tools/versions.env)" >&2; exit 1; }
grep -q "^tag ${PULUMI_COMMAND_VERSION}\$" "$root/third_party/pulumi-command/ORIGIN.md" ||
	{ echo "third_party/pulumi-command/ORIGIN.md does not name tag $PULUMI_COMMAND_VERSION (tools/versions.env)" >&2; exit 1; }

mkdir -p "$bin"

# built NAME: says how long the step since the last one took.
built() { echo "tools: $1 built in $(elapsed $SECONDS)"; SECONDS=0; }
SECONDS=0
echo "tools: building the Pulumi CLI $PULUMI_VERSION (about 5 minutes from a cold cache)..."
(cd "$root/tools/pulumi-cli" && go build -trimpath -tags osusergo,grpcnotrace \
	-ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
	-o "$bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
built "the Pulumi CLI"

# Stripped (-s -w): the engine starts every plugin on every preview, and a smaller binary
# starts sooner; nothing here is debugged with symbols.
echo "tools: building the Go language host (commit $PULUMI_LANGUAGE_GO_COMMIT, as $PULUMI_VERSION)..."
# The same build tags as the CLI: its wrapper module resolves the same versions, so with the same
# tags every package they share (the SDK, gRPC, ...) is compiled once, for both.
(cd "$root/tools/pulumi-language-go" && go build -trimpath -tags osusergo,grpcnotrace \
	-ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
	-o "$bin/pulumi-language-go" github.com/pulumi/pulumi/sdk/go/pulumi-language-go/v3)
built "the Go language host"

echo "tools: building the command provider plugin ($PULUMI_COMMAND_VERSION)..."
(cd "$root/tools/pulumi-command" && go build -trimpath \
	-ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$command_version" \
	-o "$bin/pulumi-resource-command" github.com/pulumi/pulumi-command/provider/cmd/pulumi-resource-command)
built "the command provider plugin"

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
	go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$plugin_version" \
		-o "$bin/pulumi-resource-kubernetes" github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes
)
built "the kubernetes provider plugin"

install_plugin() { # name version
	echo "tools: installing the $1 plugin as $2 into .tools/pulumi-home..."
	rm -rf "$home/plugins/resource-$1-v$2"*
	PULUMI_HOME="$home" PULUMI_SKIP_UPDATE_CHECK=true PULUMI_IGNORE_AMBIENT_PLUGINS=true \
		PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true \
		"$bin/pulumi" plugin install resource "$1" "$2" --file "$bin/pulumi-resource-$1"
}
install_plugin kubernetes "$plugin_version"
install_plugin command "$command_version"

cache_save pulumi "$want" "$out" "${outputs[@]}"
echo "$want" >"$stamp"
echo "tools: Pulumi ready in .tools/ (pulumi $PULUMI_VERSION, language host $PULUMI_LANGUAGE_GO_COMMIT, kubernetes plugin $plugin_version, command plugin $command_version)"
