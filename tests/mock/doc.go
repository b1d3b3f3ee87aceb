// Package mock is layer 1 of the tests: the program for every stack file under the Go SDK's
// mock monitor (internal/inprocess), recorded and asserted on: the sites' objects and
// resources, secrets, ingress, network policies (a policy engine), the layers, every key's
// effect, the docs' coverage of every key, rendered/ (TestRendered; `make render` rewrites
// it), the image preflight against a real in-memory registry. It links no host kit: no test
// hosts, no local cluster, no engine. `make check` runs it.
package mock
