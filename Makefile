# xgen-infra — see README.md. `make test` is what CI runs; `make demo` is the local rehearsal.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
TOOLS_DIR := $(CURDIR)/.tools
export XGEN_TOOLS_DIR := $(TOOLS_DIR)
# Everything builds with -trimpath, as the Go language host builds a `runtime: go` program:
# the tests, the prebuilt program and the engine's own compile share one build cache (from a
# cold cache the compiled-preview benchmark otherwise compiles the whole program again).
# Binaries link without DWARF (-ldflags=-w; stack traces keep file and line): the test
# binaries are linked on every run, and the big ones link much faster without it. A build
# that passes its own -ldflags (the tools, the program's stamp) overrides this.
export GOFLAGS := $(strip $(shell $(GO) env GOFLAGS) -trimpath -ldflags=-w)
# Where `make test` writes each phase's time (printed as a table at the end).
PHASES := $(TOOLS_DIR)/phases.txt

.PHONY: test lint tools render bench fuzz demo hosts cluster demo-down build clean
.PHONY: tools-k8s tools-pulumi tools-lint tools-test lint-and-tools check

# The tests are laid out by layer (docs/development.md "Testing"): tests/mock (the program
# under the SDK's mock monitor), tests/apiserver (a real local API server), tests/realengine
# (the real Pulumi engine), tests/hosts (host scripts over SSH on test hosts); beside them each
# package's own unit tests. The fast loop leaves out the last two layers' packages, and -short
# skips the few real-engine tests that live beside the code they drive (cmd/fleet's).
SLOW_LAYERS := xgen-infra/tests/realengine xgen-infra/tests/hosts xgen-infra/internal/testkit/testhosts

## test: lint and the tools side by side (independent builds keep both cores busy), then every
## test: site model, components, the program for every site under the mock engine, rendered/
## up to date, each site applied to a real local API server, every on-prem stack whole from
## bare test hosts under the real Pulumi engine with the real command provider (preview, up,
## no-op, changes, destroy), and every benchmark once (-benchtime 1x, figures only: a benchmark
## that breaks fails the run) in the same run, so each test binary is linked once. Prints the
## slowest tests and the time of each phase.
test:
	@mkdir -p $(TOOLS_DIR) && : >$(PHASES)
	@bash tools/phase.sh $(PHASES) "lint and tools (side by side)" $(MAKE) --no-print-directory lint-and-tools
	@bash tools/phase.sh $(PHASES) "tests and benchmarks" bash tools/run-tests.sh
	@echo "make test: phases"; cat $(PHASES)

## check: the fast loop: lint, then the unit tests, the mock layer and the API-server layer
## (a few minutes warm; `make test` runs everything). Lint ran `go vet ./...`: -vet=off.
check:
	@$(MAKE) --no-print-directory -j3 lint tools-k8s tools-test tools-lint
	$(GO) test -vet=off -count=1 -short $$($(GO) list ./... | grep -vxF $(addprefix -e ,$(SLOW_LAYERS)))

lint-and-tools:
	@$(MAKE) --no-print-directory -j3 lint tools-k8s tools-pulumi tools-lint tools-test

## lint: gofmt, go vet, shellcheck on every script
lint: shellcheck
	@bash tools/phase.sh $(PHASES) "lint: gofmt, go vet, shellcheck" $(MAKE) --no-print-directory lint-run

lint-run:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' ':!third_party' 2>/dev/null || find . -name '*.go' -not -path './.tools/*' -not -path './third_party/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	shellcheck -x -P SCRIPTDIR tools/*.sh .ci/run .ci/comment.sh
	shellcheck -s sh internal/testkit/testhosts/scripts/*.sh

# shellcheck comes from Debian's package; installed on first use.
shellcheck:
	@command -v shellcheck >/dev/null || { echo "installing shellcheck (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; }
.PHONY: shellcheck lint-run

## tools: build the pinned local-cluster binaries and the real Pulumi engine (CLI, Go language
## host, kubernetes provider plugin), the pipeline linter (actionlint), a real Prometheus and
## the OpenTelemetry Collector's log operators (test-only) into .tools/ (each skipped when up
## to date)
tools:
	@$(MAKE) --no-print-directory -j3 tools-k8s tools-pulumi tools-lint tools-test

tools-k8s:
	@bash tools/phase.sh $(PHASES) "tools: kubernetes, etcd, kwok" bash tools/install.sh
tools-pulumi:
	@bash tools/phase.sh $(PHASES) "tools: pulumi engine and plugins" bash tools/install-pulumi.sh
tools-lint:
	@bash tools/phase.sh $(PHASES) "tools: actionlint" bash tools/install-lint.sh
tools-test:
	@bash tools/phase.sh $(PHASES) "tools: prometheus, alertmanager, blackbox exporter, stanza-check, docker compose" bash tools/install-test-tools.sh

## render: rewrite rendered/<stack>/ from the stack files (review the diff, commit it)
render:
	$(GO) test -count=1 -run 'TestRendered' ./tests/rendered -update

## bench: harness start, apply-and-converge per site, no-op re-apply, and the real engine's
## no-op preview against kubectl diff, bare test hosts to apps and the host layer's no-op
## rerun (figures, not assertions)
bench: tools
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 40m ./tests/...

## fuzz: the stack-config decoder and validator for 10 minutes (FUZZTIME=...): no panic, and
## every accepted site object renders (not in make test; its seeds run there)
FUZZTIME ?= 10m
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzSiteConfig -fuzztime $(FUZZTIME) ./sites/

## demo: `site rehearse --stack xgen` on the embedded default (the xgen site): its hosts as bare
## test hosts → K3s (the program's host commands over SSH) → the compose infra on a real Docker
## engine → Istio → the apps, by real `pulumi up`s of main and then the working tree; the report,
## then Ctrl-C destroys it (a rehearsal on this machine, not a deployment; needs root)
demo: tools
	$(GO) run ./cmd/site --stack xgen --hold rehearse

## hosts: only the test hosts, with the stack config and secret commands that point a site
## at them, until Ctrl-C
hosts: tools
	$(GO) run ./cmd/demo hosts

## cluster: only the local cluster (fake nodes, Istio CRDs, nothing deployed) until Ctrl-C
cluster: tools
	$(GO) run ./cmd/demo cluster

## demo-down: stop test hosts (or a cluster) started elsewhere
demo-down:
	$(GO) run ./cmd/demo down

## build: rebuild the program binary that Pulumi.yaml runs (.build/xgen-infra, stamped with the
## digest of its sources); tools/program.sh also does it by itself when the sources change
build:
	sh tools/program.sh --build

clean:
	rm -rf bin .build .harness
