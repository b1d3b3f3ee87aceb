package components

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// EnvironmentArgs are the arguments of NewEnvironment.
type EnvironmentArgs struct {
	// Name of the environment deployed beside the site's own: dev, stg or prd. Required.
	Name string
	// Namespace the environment's services run in. Required.
	Namespace string
	// Domain the environment is reached on. Required.
	Domain string
}

// Environment groups what one environment deployed beside the site's own owns: its
// namespace, secrets, policies, services and routes are its children (constructed with
// pulumi.Parent on it), finished with Finish.
//
// Its type is xgen:environment:<name>, one type per environment: Pulumi names a resource by
// its parents' types and its own name, so the site's own xgen-core and prd's xgen-core (an
// object of the same name in another namespace) are two resources, and so are stg's and
// prd's. The site's own environment keeps its resources at the top level, as before any
// environment was added beside it.
type Environment struct {
	pulumi.ResourceState
	args EnvironmentArgs
}

// NewEnvironment registers the environment's component.
func NewEnvironment(ctx *pulumi.Context, args EnvironmentArgs, opts ...pulumi.ResourceOption) (*Environment, error) {
	if args.Name == "" || args.Namespace == "" || args.Domain == "" {
		return nil, fmt.Errorf("environment %q: Name, Namespace and Domain are required", args.Name)
	}
	comp := &Environment{args: args}
	if err := ctx.RegisterComponentResource("xgen:environment:"+args.Name, args.Name, comp, opts...); err != nil {
		return nil, err
	}
	return comp, nil
}

// Finish registers the component's outputs once its children exist.
func (e *Environment) Finish(ctx *pulumi.Context, images pulumi.StringMap, urls pulumi.StringArrayOutput) error {
	return ctx.RegisterResourceOutputs(e, pulumi.Map{
		"namespace": pulumi.String(e.args.Namespace), "domain": pulumi.String(e.args.Domain),
		"images": images, "urls": urls,
	})
}
