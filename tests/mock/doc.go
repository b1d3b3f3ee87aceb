// Package mock is layer 1 of the tests: the program for every stack file under the Go SDK's
// mock monitor (internal/inprocess), recorded and asserted on: the sites' objects and
// resources, secrets, ingress, the layers, every key's effect, the docs' coverage of every
// key, the AWS wiring. It links nothing but the program and the mock engine (no Helm, no
// policy engine, no registry: those judges are tests/rendered's), no test hosts, no local
// cluster, no engine. `make check` runs it.
package mock
