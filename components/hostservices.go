package components

import (
	"errors"
	"fmt"
	"net"

	"xgen-infra/components/endpoint"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	discoveryv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/discovery/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// EndpointSliceManager marks the EndpointSlices written here, so that the
// EndpointSlice controller leaves them alone.
const EndpointSliceManager = "xgen-infra"

// HostServicesArgs exposes services that run on a host (Docker Compose next to K3s) inside
// the cluster under stable Service names.
type HostServicesArgs struct {
	// Namespace of the Services (e.g. "xgen-system"). Required.
	Namespace string
	// Address is the host's IP address; loopback addresses are refused by Kubernetes.
	// Required.
	Address string
	// Services to expose. Required, at least one.
	Services []endpoint.Service
}

// HostServices is a set of selector-less Services, each with an EndpointSlice pointing at
// the host (EndpointSlice, not the deprecated v1 Endpoints; not ExternalName, which cannot
// carry an IP).
type HostServices struct {
	pulumi.ResourceState

	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
}

// NewHostServices registers the Services and their EndpointSlices.
func NewHostServices(ctx *pulumi.Context, name string, args HostServicesArgs, opts ...pulumi.ResourceOption) (*HostServices, error) {
	ip := net.ParseIP(args.Address)
	switch {
	case args.Namespace == "" || len(args.Services) == 0:
		return nil, errors.New("host services: Namespace and at least one service are required")
	case ip == nil || ip.IsLoopback() || ip.IsUnspecified():
		return nil, fmt.Errorf("host services: %q is not a usable host IP address (loopback and unspecified are refused)", args.Address)
	}
	addressType := "IPv4"
	if ip.To4() == nil {
		addressType = "IPv6"
	}
	comp := &HostServices{}
	if err := ctx.RegisterComponentResource("xgen:index:HostServices", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	for _, hs := range args.Services {
		var svcPorts corev1.ServicePortArray
		var slicePorts discoveryv1.EndpointPortArray
		for _, p := range hs.Ports {
			svcPorts = append(svcPorts, corev1.ServicePortArgs{
				Name: pulumi.String(p.Name), Port: pulumi.Int(p.Port), TargetPort: pulumi.Int(p.Port), Protocol: pulumi.String("TCP"),
			})
			slicePorts = append(slicePorts, discoveryv1.EndpointPortArgs{
				Name: pulumi.String(p.Name), Port: pulumi.Int(p.Port), Protocol: pulumi.String("TCP"),
			})
		}
		svc, err := corev1.NewService(ctx, hs.Name, &corev1.ServiceArgs{
			Metadata: objectMeta(hs.Name, args.Namespace, map[string]string{"app.kubernetes.io/name": hs.Name}),
			// No selector: the endpoints are the EndpointSlice below.
			Spec: &corev1.ServiceSpecArgs{Type: pulumi.String("ClusterIP"), Ports: svcPorts},
		}, parent)
		if err != nil {
			return nil, err
		}
		slice, err := discoveryv1.NewEndpointSlice(ctx, hs.Name+"-host", &discoveryv1.EndpointSliceArgs{
			Metadata: objectMeta(hs.Name+"-host", args.Namespace, map[string]string{
				"kubernetes.io/service-name":             hs.Name,
				"endpointslice.kubernetes.io/managed-by": EndpointSliceManager,
			}),
			AddressType: pulumi.String(addressType),
			Endpoints: discoveryv1.EndpointArray{discoveryv1.EndpointArgs{
				Addresses:  pulumi.StringArray{pulumi.String(args.Address)},
				Conditions: &discoveryv1.EndpointConditionsArgs{Ready: pulumi.Bool(true)},
			}},
			Ports: slicePorts,
		}, parent, pulumi.DependsOn([]pulumi.Resource{svc}))
		if err != nil {
			return nil, err
		}
		comp.Services = append(comp.Services, svc)
		comp.EndpointSlices = append(comp.EndpointSlices, slice)
	}
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{"address": pulumi.String(args.Address)}); err != nil {
		return nil, err
	}
	return comp, nil
}
