#!/usr/bin/env bash
# run-tests.sh [PACKAGES...]: every test and every benchmark once (-benchtime 1x: figures only,
# but a benchmark that breaks fails the run) in one `go test` run, so each test binary is linked
# once; printed through internal/testkit/testreport (plain go test output, then the slowest
# tests and each package's time). Default: ./...
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o .tools/bin/testreport ./internal/testkit/testreport
# -vet=off: `make lint` has run `go vet ./...` (every analyzer go test runs, and more) on the
# same packages; vet's results are cached per analyzer set, so go test's own smaller set would
# analyse every dependency a second time from a cold cache.
go test -vet=off -count=1 -bench . -benchtime 1x -timeout 75m -json "${@:-./...}" | .tools/bin/testreport
