// Package apiserver is layer 2 of the tests: each site's Kubernetes objects, as the mock
// layer records them, applied to a real local API server (internal/testkit/harness: etcd,
// kube-apiserver, controller-manager, scheduler, kwok's fake nodes) with strict field
// validation and run to Available; the add-ons' charts rendered by Helm and applied; randomly
// generated accepted site objects applied. `make check` runs it.
package apiserver
