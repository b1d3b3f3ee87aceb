# xgen-infra — see README.md. `make test` is what CI runs.
SHELL := /bin/bash
GO ?= go

.PHONY: test unit lint render build

## test: everything CI checks (lint, unit and program tests, rendered manifests up to date)
test: lint unit

## unit: the program under the Pulumi mock monitor, the site model and the components
unit:
	$(GO) test -count=1 ./...

## lint: formatting and vet
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

## render: rewrite rendered/<stack>/ from the stack files (review the diff, commit it)
render:
	$(GO) test -count=1 -run 'TestRendered' . -update

## build: compile the Pulumi program
build:
	$(GO) build -o bin/xgen-infra .
