// Command demo starts the local test machinery by hand (`make hosts`, `make cluster`,
// `make demo-down`); `make demo` itself is `site rehearse --stack xgen` (cmd/site). It is not a
// deployment and it is not linked into the Pulumi program.
//
//	go run ./cmd/demo hosts    the test hosts, and the stack config that points a site at them
//	go run ./cmd/demo cluster  only a local control plane, nothing deployed, until Ctrl-C
//	go run ./cmd/demo down     stop hosts or a cluster started elsewhere
package main

import (
	"fmt"
	"os"
)

const (
	demoStack = "Pulumi.xgen.yaml" // the embedded default: the head-office site
	demoDir   = ".harness"
)

func main() {
	cmd := ""
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	var err error
	switch cmd {
	case "hosts":
		err = hostsOnly()
	case "cluster":
		err = emptyCluster()
	case "down":
		err = down()
	default:
		err = fmt.Errorf("unknown command %q: use hosts, cluster or down (`make demo` is `go run ./cmd/site --stack xgen rehearse`)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
