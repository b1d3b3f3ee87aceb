package components

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"sigs.k8s.io/yaml"
)

// EKSAccess says how the kubeconfig authenticates: `aws eks get-token` with the site's
// region, profile and role, run by whoever runs Pulumi. No credential is in the kubeconfig.
type EKSAccess struct {
	// ClusterName and Region are required.
	ClusterName, Region string
	// Profile and RoleArn are optional (the ambient credentials otherwise).
	Profile, RoleArn string
}

// EKSCluster is what the lookup found.
type EKSCluster struct {
	// Endpoint of the API server; Kubeconfig reaches it (a secret, as any kubeconfig).
	Endpoint   string
	Kubeconfig string
}

// LookupEKS reads the cluster's endpoint and CA (eks:getCluster) and builds a kubeconfig
// whose user runs `aws eks get-token`: the Kubernetes provider needs no kubeconfig secret.
func LookupEKS(ctx *pulumi.Context, access EKSAccess, opts ...pulumi.InvokeOption) (*EKSCluster, error) {
	cl, err := eks.LookupCluster(ctx, &eks.LookupClusterArgs{Name: access.ClusterName}, opts...)
	if err != nil {
		return nil, fmt.Errorf("eks cluster %s: %w", access.ClusterName, err)
	}
	if cl.Endpoint == "" || len(cl.CertificateAuthorities) == 0 {
		return nil, fmt.Errorf("eks cluster %s has no endpoint or certificate authority yet", access.ClusterName)
	}
	kc, err := EKSKubeconfig(access, cl.Endpoint, cl.CertificateAuthorities[0].Data)
	if err != nil {
		return nil, err
	}
	return &EKSCluster{Endpoint: cl.Endpoint, Kubeconfig: kc}, nil
}

// EKSKubeconfig is the kubeconfig of an EKS cluster with an exec user.
func EKSKubeconfig(a EKSAccess, endpoint, caData string) (string, error) {
	args := []string{"eks", "get-token", "--cluster-name", a.ClusterName, "--region", a.Region, "--output", "json"}
	if a.RoleArn != "" {
		args = append(args, "--role-arn", a.RoleArn)
	}
	exec := map[string]any{"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws", "args": args,
		"interactiveMode": "Never"}
	if a.Profile != "" {
		exec["env"] = []map[string]string{{"name": "AWS_PROFILE", "value": a.Profile}}
	}
	name := a.ClusterName
	doc := map[string]any{
		"apiVersion": "v1", "kind": "Config", "current-context": name,
		"clusters": []any{map[string]any{"name": name, "cluster": map[string]any{"server": endpoint, "certificate-authority-data": caData}}},
		"users":    []any{map[string]any{"name": name, "user": map[string]any{"exec": exec}}},
		"contexts": []any{map[string]any{"name": name, "context": map[string]any{"cluster": name, "user": name}}},
	}
	out, err := yaml.Marshal(doc)
	return string(out), err
}
