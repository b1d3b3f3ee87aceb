#!/bin/sh
# The Pulumi program as a prebuilt binary: Pulumi.yaml names this script as
# runtime.options.binary, so `pulumi preview` and `pulumi up` run .build/xgen-infra instead of
# compiling the program on every run. The binary carries a digest of the sources it was built
# from (internal/buildstamp) and is rebuilt here first whenever it is missing or those sources
# changed (a pull, an edit): a stale binary is never run, and a fresh clone needs no build step.
#   tools/program.sh           (what the language host runs) check, rebuild if needed, run
#   tools/program.sh --build   rebuild now (`make build`)
set -eu
root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
bin="$root/.build/xgen-infra"
XGEN_SOURCE_ROOT=$root
export XGEN_SOURCE_ROOT

if [ "${1:-}" = --build ] || ! [ -x "$bin" ] || ! "$bin" --check-sources 2>/dev/null; then
	echo "xgen-infra: building the program into .build/ (missing, or its sources changed)..." >&2
	(cd "$root" && go run ./internal/buildstamp/stamp -o "$bin") >&2
	if [ "${1:-}" = --build ]; then
		exit 0
	fi
fi
exec "$bin" "$@"
