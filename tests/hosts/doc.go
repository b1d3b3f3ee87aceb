// Package hosts is layer 4 of the tests: the host scripts the program registers (K3s, the
// compose infra, image bundles) run over real SSH on bare local test hosts
// (internal/testkit/testhosts) by testhosts.Engine, which plays the command provider's
// semantics; the apps then applied through the kubeconfig read back from the first server.
package hosts
