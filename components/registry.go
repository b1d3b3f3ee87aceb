package components

import (
	"errors"
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SiteRegistryArgs runs a registry in the cluster on a node port, as setup-k3s.sh did
// (localhost:30500 on every node, wired into registries.yaml by K3sCluster).
type SiteRegistryArgs struct {
	// Image of the registry (pinned). Required.
	Image string
	// NodePort it is reached on, on every node. Required.
	NodePort int
	// Storage is the volume size ("50Gi"); StorageClass its class. Required.
	Storage, StorageClass string
	// Namespace of the registry. Required.
	Namespace string
	// RemoveDataOnDestroy lets destroy delete the volume and the namespace. Default false:
	// both are left in the cluster (retainOnDelete), and so are the images.
	RemoveDataOnDestroy bool
}

// SiteRegistry is the running registry.
type SiteRegistry struct {
	pulumi.ResourceState

	// Endpoint is how nodes name its images: "localhost:<nodePort>".
	Endpoint pulumi.StringOutput
}

// registryPort is the registry's own port in its container.
const registryPort = 5000

func (a *SiteRegistryArgs) validate() error {
	var errs []error
	if a.Image == "" || a.Storage == "" || a.StorageClass == "" || a.Namespace == "" {
		errs = append(errs, errors.New("Image, Storage, StorageClass and Namespace are required"))
	}
	if a.NodePort < 30000 || a.NodePort > 32767 {
		errs = append(errs, fmt.Errorf("NodePort %d: a node port is from 30000 to 32767", a.NodePort))
	}
	return errors.Join(errs...)
}

// NewSiteRegistry creates the namespace, the volume, the registry and its node port.
// registryUID is the registry's user: above the hosts' users (its image runs as any user).
const registryUID = 10000

func NewSiteRegistry(ctx *pulumi.Context, name string, args SiteRegistryArgs, opts ...pulumi.ResourceOption) (*SiteRegistry, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("registry %s: %w", name, err)
	}
	r := &SiteRegistry{}
	if err := ctx.RegisterComponentResource("xgen:index:SiteRegistry", name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)
	// The images are data: destroy leaves them unless the operator opts in.
	keep := pulumi.RetainOnDelete(!args.RemoveDataOnDestroy)
	labels := map[string]string{NameLabel: "registry"}
	ns, err := corev1.NewNamespace(ctx, args.Namespace, &corev1.NamespaceArgs{
		Metadata: objectMeta(args.Namespace, ""),
	}, parent, keep)
	if err != nil {
		return nil, err
	}
	inNS := pulumi.DependsOn([]pulumi.Resource{ns})
	pvc, err := corev1.NewPersistentVolumeClaim(ctx, name+"-data", &corev1.PersistentVolumeClaimArgs{
		Metadata: objectMeta("registry-data", args.Namespace, labels),
		Spec: &corev1.PersistentVolumeClaimSpecArgs{
			AccessModes:      pulumi.StringArray{pulumi.String("ReadWriteOnce")},
			StorageClassName: pulumi.String(args.StorageClass),
			Resources: &corev1.VolumeResourceRequirementsArgs{
				Requests: pulumi.StringMap{"storage": pulumi.String(args.Storage)},
			},
		},
	}, parent, keep, inNS)
	if err != nil {
		return nil, err
	}
	probe := &corev1.ProbeArgs{
		HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String("/v2/"), Port: pulumi.Int(registryPort)},
		PeriodSeconds:    pulumi.Int(10),
		FailureThreshold: pulumi.Int(3),
	}
	hardening := Hardening{UID: registryUID}
	_, err = appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: objectMeta("registry", args.Namespace, labels),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(1),
			// One volume, one writer: the old pod goes before the new one starts.
			Strategy: &appsv1.DeploymentStrategyArgs{Type: pulumi.String("Recreate")},
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(labels)},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: pulumi.ToStringMap(labels)},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext:              hardening.Pod(),
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:  pulumi.String("registry"),
						Image: pulumi.String(args.Image),
						Ports: corev1.ContainerPortArray{&corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(registryPort)}},
						Env: corev1.EnvVarArray{
							&corev1.EnvVarArgs{Name: pulumi.String("REGISTRY_HTTP_ADDR"), Value: pulumi.String(fmt.Sprintf(":%d", registryPort))},
							&corev1.EnvVarArgs{Name: pulumi.String("REGISTRY_STORAGE_DELETE_ENABLED"), Value: pulumi.String("true")},
						},
						ReadinessProbe: probe,
						LivenessProbe: &corev1.ProbeArgs{
							TcpSocket:        &corev1.TCPSocketActionArgs{Port: pulumi.Int(registryPort)},
							PeriodSeconds:    pulumi.Int(20),
							FailureThreshold: pulumi.Int(3),
						},
						ImagePullPolicy: pulumi.String(pinnedPullPolicy),
						Resources:       addonResources("100m", "1", "128Mi", "512Mi"),
						SecurityContext: hardening.Container(),
						VolumeMounts: corev1.VolumeMountArray{
							&corev1.VolumeMountArgs{Name: pulumi.String("data"), MountPath: pulumi.String("/var/lib/registry")},
							&corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
						},
					}},
					Volumes: corev1.VolumeArray{
						&corev1.VolumeArgs{Name: pulumi.String("data"), PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSourceArgs{
							ClaimName: pulumi.String("registry-data")}},
						&corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}},
					},
				},
			},
		},
	}, parent, pulumi.DependsOn([]pulumi.Resource{pvc}))
	if err != nil {
		return nil, err
	}
	_, err = corev1.NewService(ctx, name, &corev1.ServiceArgs{
		Metadata: objectMeta("registry", args.Namespace, labels),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("NodePort"),
			Selector: pulumi.ToStringMap(labels),
			Ports: corev1.ServicePortArray{&corev1.ServicePortArgs{
				Name: pulumi.String("http"), Port: pulumi.Int(registryPort), TargetPort: pulumi.Int(registryPort),
				NodePort: pulumi.Int(args.NodePort),
			}},
		},
	}, parent, inNS)
	if err != nil {
		return nil, err
	}
	r.Endpoint = pulumi.Sprintf("localhost:%d", args.NodePort)
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{"endpoint": r.Endpoint}); err != nil {
		return nil, err
	}
	return r, nil
}
