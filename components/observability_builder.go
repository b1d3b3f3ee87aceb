package components

import (
	"sort"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// obsBuilder registers the add-on's objects in its namespace, keeping the first error.
type obsBuilder struct {
	ctx  *pulumi.Context
	name string
	ns   string
	opts []pulumi.ResourceOption
	err  error
}

func (b *obsBuilder) keep(err error) {
	if b.err == nil {
		b.err = err
	}
}

func (b *obsBuilder) resourceName(object string) string { return b.name + "-" + object }

func (b *obsBuilder) serviceAccountWithRole(app string, rules []rbacv1.PolicyRuleArgs) {
	meta := func(name, ns string) *metav1.ObjectMetaArgs {
		return objectMeta(name, ns, map[string]string{NameLabel: app})
	}
	_, err := corev1.NewServiceAccount(b.ctx, b.resourceName(app), &corev1.ServiceAccountArgs{
		Metadata: meta(app, b.ns), AutomountServiceAccountToken: pulumi.Bool(false),
	}, b.opts...)
	b.keep(err)
	// Cluster-wide names carry the namespace: two sites' add-ons must not share them.
	cluster := b.ns + "-" + app
	var ruleArgs rbacv1.PolicyRuleArray
	for _, r := range rules {
		ruleArgs = append(ruleArgs, r)
	}
	_, err = rbacv1.NewClusterRole(b.ctx, b.resourceName(app), &rbacv1.ClusterRoleArgs{
		Metadata: meta(cluster, ""), Rules: ruleArgs,
	}, b.opts...)
	b.keep(err)
	_, err = rbacv1.NewClusterRoleBinding(b.ctx, b.resourceName(app), &rbacv1.ClusterRoleBindingArgs{
		Metadata: meta(cluster, ""),
		RoleRef:  rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: pulumi.String(cluster)},
		Subjects: rbacv1.SubjectArray{rbacv1.SubjectArgs{Kind: pulumi.String("ServiceAccount"), Name: pulumi.String(app), Namespace: pulumi.String(b.ns)}},
	}, b.opts...)
	b.keep(err)
}

// configMap makes the ConfigMap named by its contents (ContentName, as the services' are)
// and returns the volume vol that mounts it and the ConfigMap for the workload to depend on.
// Prometheus, Loki, Tempo, Grafana and the collector read their files only when they start:
// a new name for new contents rolls the pods that mount it, and the workload is updated only
// once its new ConfigMap exists.
func (b *obsBuilder) configMap(vol, name string, data map[string]string) (*corev1.VolumeArgs, pulumi.Resource) {
	object := ContentName(name, data)
	volume := configMapVolume(vol, object)
	cm, err := corev1.NewConfigMap(b.ctx, b.resourceName(name), &corev1.ConfigMapArgs{
		Metadata: objectMeta(object, b.ns), Data: pulumi.ToStringMap(data),
	}, b.opts...)
	if err != nil {
		b.keep(err)
		return volume, nil
	}
	return volume, cm
}

// after is the builder's options with a dependency on the resources that exist (a failed
// registration leaves nil: the builder keeps its error).
func (b *obsBuilder) after(rs ...pulumi.Resource) []pulumi.ResourceOption {
	var deps []pulumi.Resource
	for _, r := range rs {
		if r != nil {
			deps = append(deps, r)
		}
	}
	return append(append([]pulumi.ResourceOption{}, b.opts...), pulumi.DependsOn(deps))
}

// deployment runs one replica of app, one container hardened by h (its pull policy the
// pinned images'). api says whether it reads the Kubernetes API (its service account's
// token is mounted only then); annotations go on its pods.
func (b *obsBuilder) deployment(app string, h Hardening, api bool, c *corev1.ContainerArgs, annotations pulumi.StringMap, volumes corev1.VolumeArray, after ...pulumi.Resource) {
	labels := map[string]string{NameLabel: app}
	spec := b.podSpec(h, c, &corev1.PodSpecArgs{Volumes: volumes})
	spec.AutomountServiceAccountToken = pulumi.Bool(api)
	if api {
		spec.ServiceAccountName = pulumi.String(app)
	}
	meta := &metav1.ObjectMetaArgs{Labels: pulumi.ToStringMap(labels)}
	if len(annotations) > 0 {
		meta.Annotations = annotations
	}
	_, err := appsv1.NewDeployment(b.ctx, b.resourceName(app), &appsv1.DeploymentArgs{
		Metadata: objectMeta(app, b.ns, labels),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(1),
			// One volume, one writer: the old pod goes before the new one starts.
			Strategy: &appsv1.DeploymentStrategyArgs{Type: pulumi.String("Recreate")},
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(labels)},
			Template: &corev1.PodTemplateSpecArgs{Metadata: meta, Spec: spec},
		},
	}, b.after(after...)...)
	b.keep(err)
}

// daemonSet runs app on the nodes pod selects (its node selector, tolerations and volumes),
// one container hardened by h; it never reads the Kubernetes API.
func (b *obsBuilder) daemonSet(app string, h Hardening, c *corev1.ContainerArgs, pod *corev1.PodSpecArgs, after ...pulumi.Resource) {
	labels := map[string]string{NameLabel: app}
	spec := b.podSpec(h, c, pod)
	spec.AutomountServiceAccountToken = pulumi.Bool(false)
	_, err := appsv1.NewDaemonSet(b.ctx, b.resourceName(app), &appsv1.DaemonSetArgs{
		Metadata: objectMeta(app, b.ns, labels),
		Spec: &appsv1.DaemonSetSpecArgs{
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(labels)},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: pulumi.ToStringMap(labels)},
				Spec:     spec,
			},
		},
	}, b.after(after...)...)
	b.keep(err)
}

// podSpec is pod with container c, both hardened by h, c pulled as a pinned image.
func (b *obsBuilder) podSpec(h Hardening, c *corev1.ContainerArgs, pod *corev1.PodSpecArgs) *corev1.PodSpecArgs {
	c.SecurityContext = h.Container()
	c.ImagePullPolicy = pulumi.String(pinnedPullPolicy)
	pod.SecurityContext = h.Pod()
	pod.Containers = corev1.ContainerArray{c}
	return pod
}

// servicePorts is a ClusterIP-style Service of app with several named ports.
func (b *obsBuilder) servicePorts(app, typ string, ports map[string]int) {
	var ps corev1.ServicePortArray
	for _, name := range sortedKeys(ports) {
		ps = append(ps, &corev1.ServicePortArgs{Name: pulumi.String(name), Port: pulumi.Int(ports[name]), TargetPort: pulumi.Int(ports[name])})
	}
	_, err := corev1.NewService(b.ctx, b.resourceName(app), &corev1.ServiceArgs{
		Metadata: objectMeta(app, b.ns, map[string]string{NameLabel: app}),
		Spec: &corev1.ServiceSpecArgs{
			Type: pulumi.String(typ), Selector: pulumi.StringMap{NameLabel: pulumi.String(app)}, Ports: ps,
		},
	}, b.opts...)
	b.keep(err)
}

func (b *obsBuilder) service(app, typ string, port, nodePort int) {
	p := &corev1.ServicePortArgs{Name: pulumi.String("http"), Port: pulumi.Int(port), TargetPort: pulumi.Int(port)}
	if nodePort != 0 {
		p.NodePort = pulumi.Int(nodePort)
	}
	_, err := corev1.NewService(b.ctx, b.resourceName(app), &corev1.ServiceArgs{
		Metadata: objectMeta(app, b.ns, map[string]string{NameLabel: app}),
		Spec: &corev1.ServiceSpecArgs{
			Type: pulumi.String(typ), Selector: pulumi.StringMap{NameLabel: pulumi.String(app)},
			Ports: corev1.ServicePortArray{p},
		},
	}, b.opts...)
	b.keep(err)
}

// volume is app's data volume ("<app>-data"), kept on destroy unless opted out.
func (b *obsBuilder) volume(app, storageClass, size string, keep pulumi.ResourceOption) pulumi.Resource {
	pvc, err := corev1.NewPersistentVolumeClaim(b.ctx, b.resourceName(app+"-data"), &corev1.PersistentVolumeClaimArgs{
		Metadata: objectMeta(app+"-data", b.ns, map[string]string{NameLabel: app}),
		Spec: &corev1.PersistentVolumeClaimSpecArgs{
			AccessModes:      pulumi.StringArray{pulumi.String("ReadWriteOnce")},
			StorageClassName: pulumi.String(storageClass),
			Resources: &corev1.VolumeResourceRequirementsArgs{
				Requests: pulumi.StringMap{"storage": pulumi.String(size)},
			},
		},
	}, append(append([]pulumi.ResourceOption{}, b.opts...), keep)...)
	b.keep(err)
	return pvc
}

func rule(group string, resources []string, verbs ...string) rbacv1.PolicyRuleArgs {
	return rbacv1.PolicyRuleArgs{ApiGroups: pulumi.ToStringArray([]string{group}), Resources: pulumi.ToStringArray(resources), Verbs: pulumi.ToStringArray(verbs)}
}

func containerPorts(name string, port int) corev1.ContainerPortArray {
	return corev1.ContainerPortArray{&corev1.ContainerPortArgs{Name: pulumi.String(name), ContainerPort: pulumi.Int(port)}}
}

func httpGetProbe(path string, port, period int) *corev1.ProbeArgs {
	return &corev1.ProbeArgs{
		HttpGet:       &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.Int(port)},
		PeriodSeconds: pulumi.Int(period), TimeoutSeconds: pulumi.Int(5), FailureThreshold: pulumi.Int(3),
	}
}

// addonResources are an add-on container's requests and limits: CPU and memory as given, and
// ephemeral storage (its logs and emptyDirs; the data is on volumes) the same for all. Every
// container the program renders requests and limits all three, as the apps do: one without
// limits can starve its node.
func addonResources(cpu, cpuLimit, memory, memoryLimit string) *corev1.ResourceRequirementsArgs {
	return &corev1.ResourceRequirementsArgs{
		Requests: pulumi.StringMap{"cpu": pulumi.String(cpu), "memory": pulumi.String(memory), "ephemeral-storage": pulumi.String(ephemeralRequest)},
		Limits:   pulumi.StringMap{"cpu": pulumi.String(cpuLimit), "memory": pulumi.String(memoryLimit), "ephemeral-storage": pulumi.String(ephemeralLimit)},
	}
}

// An add-on container's ephemeral storage: its logs and small emptyDirs.
const ephemeralRequest, ephemeralLimit = "64Mi", "1Gi"

// pinnedPullPolicy is the add-ons' pull policy: every add-on image is pinned (a release tag or
// a digest), so a node pulls it only when it lacks it, as the apps' pinned images.
const pinnedPullPolicy = "IfNotPresent"

func hostPathVolume(name, path, typ string) *corev1.VolumeArgs {
	source := &corev1.HostPathVolumeSourceArgs{Path: pulumi.String(path)}
	if typ != "" {
		source.Type = pulumi.String(typ)
	}
	return &corev1.VolumeArgs{Name: pulumi.String(name), HostPath: source}
}

func mount(name, path string) *corev1.VolumeMountArgs {
	return &corev1.VolumeMountArgs{Name: pulumi.String(name), MountPath: pulumi.String(path)}
}

func claimVolume(name, claim string) *corev1.VolumeArgs {
	return &corev1.VolumeArgs{Name: pulumi.String(name), PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSourceArgs{ClaimName: pulumi.String(claim)}}
}

func emptyDir(name string) *corev1.VolumeArgs {
	return &corev1.VolumeArgs{Name: pulumi.String(name), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func configMapVolume(name, configMap string) *corev1.VolumeArgs {
	return &corev1.VolumeArgs{Name: pulumi.String(name), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: pulumi.String(configMap)}}
}
