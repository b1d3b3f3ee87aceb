package components

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// objectMeta is the metadata of every object the components create: an explicit name
// (applications address objects by name; Pulumi never auto-suffixes them), the namespace
// ("" for cluster-scoped objects), the labels that mark XGEN objects, and extra labels.
func objectMeta(name, namespace string, extra ...map[string]string) *metav1.ObjectMetaArgs {
	labels := pulumi.StringMap{
		"app.kubernetes.io/part-of":    pulumi.String("xgen"),
		"app.kubernetes.io/managed-by": pulumi.String("pulumi"),
	}
	for _, m := range extra {
		for k, v := range m {
			labels[k] = pulumi.String(v)
		}
	}
	meta := &metav1.ObjectMetaArgs{Name: pulumi.String(name), Labels: labels}
	if namespace != "" {
		meta.Namespace = pulumi.String(namespace)
	}
	return meta
}

// NewNamespace registers a Namespace with the labels every XGEN object carries. A
// Namespace is no component: it has no children to parent.
func NewNamespace(ctx *pulumi.Context, name string, opts ...pulumi.ResourceOption) (*corev1.Namespace, error) {
	return corev1.NewNamespace(ctx, name, &corev1.NamespaceArgs{Metadata: objectMeta(name, "")}, opts...)
}
