#!/usr/bin/env bash
# Builds the pinned linters the tests run on the CI pipelines into .tools/bin: actionlint
# (the GitHub workflow; it runs shellcheck on every `run:`). Its own stamp: a bump here does
# not rebuild the cluster or the engine. Versions: tools/versions.env.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
. "$root/tools/versions.env"
# shellcheck source=cache.sh
. "$root/tools/cache.sh"
bin="$root/.tools/bin"
stamp="$root/.tools/lint.stamp"
want=$(printf '%s\n' "$ACTIONLINT_VERSION" | cat - "$root/tools/install-lint.sh" | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $bin/actionlint ]]; then
	echo "tools: up to date in .tools/ (actionlint $ACTIONLINT_VERSION)"
	exit 0
fi
if cache_restore actionlint "$want" "$root/.tools" bin/actionlint; then
	echo "$want" >"$stamp"
	exit 0
fi
mkdir -p "$bin"
echo "tools: building actionlint $ACTIONLINT_VERSION..."
GOBIN="$bin" go install -trimpath -ldflags "-s -w" "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
echo "tools: actionlint built in $(elapsed $SECONDS)"
cache_save actionlint "$want" "$root/.tools" bin/actionlint
echo "$want" >"$stamp"
echo "tools: actionlint ready in .tools/bin"
