#!/usr/bin/env bash
# Builds a real Prometheus into .tools/bin/prometheus from the tools/prometheus wrapper module
# (TEST-ONLY: the observability tests run it against our generated configuration). Its own
# stamp: a bump here rebuilds nothing else. Version: tools/versions.env, which must agree with
# tools/prometheus/go.mod and with the release the program's go.mod takes its types from.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
. "$root/tools/versions.env"
bin="$root/.tools/bin"
stamp="$root/.tools/prometheus.stamp"
want=$(cat "$root/tools/versions.env" "$root/tools/prometheus/go.mod" "$root/tools/install-prometheus.sh" | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $bin/prometheus ]]; then
	echo "tools: up to date in .tools/ (prometheus $PROMETHEUS_VERSION)"
	exit 0
fi
for mod in "$root/tools/prometheus/go.mod" "$root/go.mod"; do
	grep -q "github.com/prometheus/prometheus $PROMETHEUS_VERSION\$" "$mod" ||
		{ echo "$mod does not require github.com/prometheus/prometheus $PROMETHEUS_VERSION (tools/versions.env)" >&2; exit 1; }
done
mkdir -p "$bin"
echo "tools: building prometheus $PROMETHEUS_VERSION (about 4 minutes)..."
(cd "$root/tools/prometheus" && go build -trimpath -tags tools -ldflags "-s -w" -o "$bin/prometheus" github.com/prometheus/prometheus/cmd/prometheus)
echo "$want" >"$stamp"
echo "tools: prometheus ready in .tools/bin"
