// Command xgen-infra is the Pulumi program that deploys the XGEN platform to one site per
// stack. The wiring is stack.Program.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/stack"
)

// program is what `pulumi up` runs (and what the tests run under the mock engine).
var program = stack.Program

func main() {
	pulumi.Run(program)
}
