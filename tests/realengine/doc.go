// Package realengine is layer 3 of the tests: the real Pulumi engine (the CLI, the Go language
// host, the kubernetes and command provider plugins that `make tools` builds) running the
// shipped program, `runtime: go`, against the local API server and bare test hosts: every
// stack's lifecycle, every on-prem site whole from bare hosts, the faults an operator lives
// through, day-2 status and layer runs.
package realengine
