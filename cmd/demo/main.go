// Command demo is the local rehearsal (`make demo`, `make cluster`, `make demo-down`): a real
// `pulumi up` of the xgen stack, with the real Pulumi CLI and kubernetes provider that
// `make tools` builds, against a throwaway control plane on this machine (internal/testkit/harness).
// It is not a deployment and it is not linked into the Pulumi program.
//
//	go run ./cmd/demo [demo]   bare test hosts → K3s → the xgen site's apps, a summary, run
//	                           until Ctrl-C, destroy
//	go run ./cmd/demo hosts    only the test hosts, and the stack config that points a site at them
//	go run ./cmd/demo cluster  only a local control plane, nothing deployed, until Ctrl-C
//	go run ./cmd/demo down     stop a demo, hosts or cluster started elsewhere
package main

import (
	"fmt"
	"os"

	"xgen-infra/stack"
)

const (
	demoStack = "Pulumi.xgen.yaml" // the embedded default: the head-office site
	demoDir   = ".harness"
)

func main() {
	cmd := "demo"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	var err error
	switch cmd {
	case "demo":
		// A rehearsal: the fake nodes pull no image and the site's registry is not here, so
		// the program (in-process for the hosts, under the real engine for the apps) skips
		// the image preflight and deploys the tags.
		_ = os.Setenv(stack.ImagePreflightEnv, "off")
		err = demo()
	case "hosts":
		err = hostsOnly()
	case "cluster":
		err = emptyCluster()
	case "down":
		err = down()
	default:
		err = fmt.Errorf("unknown command %q: use demo, hosts, cluster or down", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
