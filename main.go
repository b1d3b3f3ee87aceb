// Command xgen-infra is the Pulumi program that deploys the XGEN platform to one site per
// stack. The wiring is stack.Program.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/internal/buildstamp"
	"xgen-infra/stack"
)

// program is what `pulumi up` runs (and what the tests run under the mock engine).
var program = stack.Program

func main() {
	// A prebuilt binary (tools/program.sh) refuses to run on sources it was not built from.
	if err := buildstamp.Check(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(3)
	}
	if len(os.Args) > 1 && os.Args[1] == "--check-sources" {
		return
	}
	pulumi.Run(program)
}
