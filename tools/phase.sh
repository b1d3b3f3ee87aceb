#!/usr/bin/env bash
# phase.sh FILE NAME COMMAND...: runs COMMAND, then says how long it took and appends that to
# FILE ("  12 min 3 s  NAME"; `make test` prints FILE as its phase table at the end). The
# command's exit status is the script's.
set -uo pipefail
file=$1 name=$2
shift 2
SECONDS=0
"$@"
status=$?
line=$(printf '%3d min %2d s  %s' $((SECONDS / 60)) $((SECONDS % 60)) "$name")
[[ $status == 0 ]] || line+=" (failed, exit $status)"
echo "phase:$line"
mkdir -p "$(dirname "$file")" && echo "$line" >>"$file"
exit "$status"
