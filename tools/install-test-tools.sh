#!/usr/bin/env bash
# Builds the tests' real tools into .tools/bin (TEST-ONLY, never linked into the program), each
# from its wrapper module and with its own stamp (a bump rebuilds only it):
#   prometheus    a real Prometheus (tools/prometheus), run against our generated configuration
#   alertmanager  a real Alertmanager and amtool (tools/alertmanager): our generated configuration
#   amtool        loaded by its own loader, and Prometheus' alerts delivered to a webhook
#   blackbox_exporter  a real blackbox exporter (tools/blackbox): our generated modules probing
#                 real endpoints (the certificate probes' expiry)
#   stanza-check  the OpenTelemetry Collector's log operators (tools/stanza), run on our
#                 generated receivers
#   docker-compose  the real `docker compose` plugin (tools/docker-compose) that the compose test
#                 host's Docker engine (Debian's docker.io) runs our project with
# Versions: tools/versions.env, which must agree with the wrapper modules' go.mod (and, for
# Prometheus, with the release the program's go.mod takes its types from).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
. "$root/tools/versions.env"
# shellcheck source=cache.sh
. "$root/tools/cache.sh"
bin="$root/.tools/bin"
mkdir -p "$bin"

# require MODULE VERSION GO.MOD...: each go.mod pins MODULE at VERSION.
require() {
	local module=$1 version=$2 mod
	shift 2
	for mod in "$@"; do
		grep -q "$module $version\$" "$mod" ||
			{ echo "$mod does not require $module $version (tools/versions.env)" >&2; exit 1; }
	done
}

# build NAME DIR PACKAGE MINUTES [TAGS [LDFLAGS]]: go build PACKAGE in the wrapper module DIR
# into bin/NAME (with the build tags TAGS and the linker flags LDFLAGS too), unless its stamp
# says it is up to date.
build() {
	local name=$1 dir=$2 pkg=$3 minutes=$4 tags=tools${5:+,$5} ldflags="-s -w${6:+ $6}" stamp want
	stamp="$root/.tools/$name.stamp"
	want=$(cat "$root/tools/versions.env" "$root/tools/$dir/go."{mod,sum} "$root/tools/$dir"/*.go "$0" | sha256sum | cut -d' ' -f1)
	if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $bin/$name ]]; then
		echo "tools: $name up to date in .tools/"
		return
	fi
	if cache_restore "$name" "$want" "$root/.tools" "bin/$name"; then
		echo "$want" >"$stamp"
		return
	fi
	echo "tools: building $name (about $minutes minutes)..."
	SECONDS=0
	(cd "$root/tools/$dir" && go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$bin/$name" "$pkg")
	echo "tools: $name built in $(elapsed $SECONDS)"
	cache_save "$name" "$want" "$root/.tools" "bin/$name"
	echo "$want" >"$stamp"
	echo "tools: $name ready in .tools/bin"
}

require github.com/prometheus/prometheus "$PROMETHEUS_VERSION" "$root/tools/prometheus/go.mod" "$root/go.mod"
# The tests give Prometheus its targets in files (file_sd) and static lists: built without the
# other service discoveries (Prometheus' own remove_all_sd tag keeps file and http), it
# compiles in a third of the time (no cloud SDKs, no client-go).
build prometheus prometheus github.com/prometheus/prometheus/cmd/prometheus 2 remove_all_sd
# Alertmanager and amtool: the add-on's Alertmanager runs this release (its image's tag,
# sites.DefaultObservabilityImages.Alertmanager); amtool is its own configuration loader.
require github.com/prometheus/alertmanager "$ALERTMANAGER_VERSION" "$root/tools/alertmanager/go.mod"
# The module's web UI embeds its built JavaScript (ui/app/dist), which the module's zip leaves
# out: the build uses a copy of the module (tools/alertmanager/go.mod replaces it with
# .tools/src/alertmanager) with an empty page there. The API, which the tests use, is whole.
am_src="$root/.tools/src/alertmanager"
if [[ ! -f $am_src/.version || $(cat "$am_src/.version") != "$ALERTMANAGER_VERSION" ]]; then
	am_mod=$(cd "$root/tools/alertmanager" && GOFLAGS=-mod=mod go mod download -json "github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -d $am_mod ]] || { echo "tools: cannot download github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION" >&2; exit 1; }
	rm -rf "$am_src" && mkdir -p "$(dirname "$am_src")" && cp -r "$am_mod" "$am_src" && chmod -R u+w "$am_src"
	for ui in elm mantine; do
		mkdir -p "$am_src/ui/app/dist/$ui"
		echo '<!doctype html><title>Alertmanager</title><p>Built without its web UI (xgen-infra test tool): use the API or amtool.' >"$am_src/ui/app/dist/$ui/index.html"
	done
	echo "$ALERTMANAGER_VERSION" >"$am_src/.version"
fi
build alertmanager alertmanager github.com/prometheus/alertmanager/cmd/alertmanager 2
build amtool alertmanager github.com/prometheus/alertmanager/cmd/amtool 1
require github.com/prometheus/blackbox_exporter "$BLACKBOX_VERSION" "$root/tools/blackbox/go.mod"
build blackbox_exporter blackbox github.com/prometheus/blackbox_exporter 1
require github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza "$STANZA_VERSION" "$root/tools/stanza/go.mod"
build stanza-check stanza . 1
# The compose plugin: the version our compose host scripts check (`docker compose version`) is
# the one it reports.
require github.com/docker/compose/v5 "$DOCKER_COMPOSE_VERSION" "$root/tools/docker-compose/go.mod"
build docker-compose docker-compose github.com/docker/compose/v5/cmd 2 "" "-X github.com/docker/compose/v5/internal.Version=$DOCKER_COMPOSE_VERSION"
