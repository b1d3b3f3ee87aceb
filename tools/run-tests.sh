#!/usr/bin/env bash
# run-tests.sh [PACKAGES...]: every test and every benchmark once (-benchtime 1x: figures only,
# but a benchmark that breaks fails the run), each test binary linked once, printed through
# internal/testkit/testreport (plain go test output, then the slowest tests and each package's
# time). Default: ./...
#
# Two runs side by side keep both cores busy. `go test -bench` runs its packages one after
# another (cmd/go serializes every package's run when -bench is set), and the real-engine
# package alone takes most of the suite, so its binary is built first (`go test -c`) and run
# twice at once through test2json: its tests in one run, its benchmarks in the other, after
# every other package (one `go test`). Both runs feed one report, line by line.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o .tools/bin/testreport ./internal/testkit/testreport
# -vet=off: `make lint` has run `go vet ./...` (every analyzer go test runs, and more) on the
# same packages; vet's results are cached per analyzer set, so go test's own smaller set would
# analyse every dependency a second time from a cold cache.
flags=(-vet=off -count=1 -bench . -benchtime 1x -timeout 75m -json)
slow=xgen-infra/tests/realengine
mapfile -t packages < <(go list "${@:-./...}")
rest=()
for p in "${packages[@]}"; do
	[ "$p" = "$slow" ] || rest+=("$p")
done
if [ ${#rest[@]} -eq ${#packages[@]} ]; then
	go test "${flags[@]}" "${packages[@]}" | .tools/bin/testreport
	exit
fi

bin=$PWD/.tools/testbin/realengine.test
mkdir -p "$(dirname "$bin")"
go test -c -vet=off -o "$bin" "$slow"
status=$(mktemp -d)
trap 'rm -rf "$status"' EXIT
# record PART COMMAND...: runs the command and writes its exit status to $status/PART.
record() {
	local code=0
	"${@:2}" || code=$?
	echo "$code" >"$status/$1"
}
# engine_part NAME FLAGS...: the real-engine binary, run as go test runs it (in its package's
# directory), reported as the package NAME.
# shellcheck disable=SC2317 # called through record
engine_part() {
	(cd "${slow#xgen-infra/}" && go tool test2json -t -p "$1" "$bin" -test.v=test2json \
		-test.paniconexit0 -test.timeout 75m -test.benchtime 1x "${@:2}")
}
rest_then_benchmarks() {
	if [ ${#rest[@]} -gt 0 ]; then
		record rest go test "${flags[@]}" "${rest[@]}"
	else
		echo 0 >"$status/rest"
	fi
	record benchmarks engine_part "$slow (benchmarks)" -test.run '^$' -test.bench .
}
rc=0
.tools/bin/testreport \
	<(record tests engine_part "$slow" -test.run . -test.bench '^$') \
	<(rest_then_benchmarks) || rc=$?
# A run that failed before it wrote any event (it could not start) still fails the suite.
for part in tests rest benchmarks; do
	code=$(cat "$status/$part" 2>/dev/null || echo missing)
	if [ "$code" != 0 ]; then
		echo "run-tests: the $part run ended with status $code"
		rc=1
	fi
done
exit "$rc"
