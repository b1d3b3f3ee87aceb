package components

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components/endpoint"
	"xgen-infra/internal/inprocess"
)

func runHostServices(args HostServicesArgs) (*inprocess.Recorder, error) {
	return inprocess.Run(func(ctx *pulumi.Context) error {
		_, err := NewHostServices(ctx, "host-infra", args)
		return err
	}, "test", "test", nil, nil)
}

func TestHostServices(t *testing.T) {
	cases := []struct {
		address, wantType string
	}{
		{"192.0.2.10", "IPv4"},
		{"2001:db8::10", "IPv6"},
	}
	for _, tc := range cases {
		t.Run(tc.wantType, func(t *testing.T) {
			rec, err := runHostServices(HostServicesArgs{Namespace: "xgen-system", Address: tc.address, Services: []endpoint.Service{
				{Name: "postgresql", Ports: []endpoint.Port{{Name: "postgres", Port: 5432}}},
				{Name: "qdrant", Ports: []endpoint.Port{{Name: "http", Port: 6333}, {Name: "grpc", Port: 6334}}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			comp, _ := rec.Find("xgen:index:HostServices", "host-infra")
			svc := body(t, rec, "kubernetes:core/v1:Service", "qdrant")
			if at(svc, "spec", "selector") != nil || at(svc, "spec", "ports", 1, "port") != int64(6334) || at(svc, "metadata", "namespace") != "xgen-system" {
				t.Errorf("service %v", svc)
			}
			res, _ := rec.Find("kubernetes:discovery.k8s.io/v1:EndpointSlice", "postgresql-host")
			if res.Parent != comp.URN {
				t.Error("slice not parented")
			}
			slice, _ := res.PlainInputs()
			checks := map[string][2]any{
				"address":      {at(slice, "endpoints", 0, "addresses", 0), tc.address},
				"addressType":  {at(slice, "addressType"), tc.wantType},
				"service name": {at(slice, "metadata", "labels", "kubernetes.io/service-name"), "postgresql"},
				"managed by":   {at(slice, "metadata", "labels", "endpointslice.kubernetes.io/managed-by"), EndpointSliceManager},
				"port name":    {at(slice, "ports", 0, "name"), "postgres"},
				"ready":        {at(slice, "endpoints", 0, "conditions", "ready"), true},
			}
			for name, c := range checks {
				if c[0] != c[1] {
					t.Errorf("%s = %v, want %v", name, c[0], c[1])
				}
			}
		})
	}
}

func TestHostServicesRefusesUnusableAddresses(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "0.0.0.0", "infra-host", ""} {
		rec, err := runHostServices(HostServicesArgs{Namespace: "xgen-system", Address: addr, Services: []endpoint.Service{{Name: "redis", Ports: []endpoint.Port{{Name: "redis", Port: 6379}}}}})
		if err == nil || !strings.Contains(err.Error(), "host services") {
			t.Errorf("%q: got %v", addr, err)
		}
		if len(rec.Resources) != 0 {
			t.Errorf("%q: registered %d resources", addr, len(rec.Resources))
		}
	}
}
