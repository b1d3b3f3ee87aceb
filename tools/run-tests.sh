#!/usr/bin/env bash
# run-tests.sh [PACKAGES...]: every test and every benchmark once (-benchtime 1x: figures only,
# but a benchmark that breaks fails the run) in one `go test` run, so each test binary is linked
# once; printed through internal/testkit/testreport (plain go test output, then the slowest
# tests and each package's time). Default: ./...
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o .tools/bin/testreport ./internal/testkit/testreport
go test -count=1 -bench . -benchtime 1x -timeout 75m -json "${@:-./...}" | .tools/bin/testreport
