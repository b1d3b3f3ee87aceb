// Package components holds the typed Pulumi components that make up an XGEN site.
package components

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SecretChecksumAnnotation on the pod template rolls the pods when the site Secret's values
// change (the Secret keeps its name; it replaces Stakater Reloader with no controller in the
// cluster). Configuration needs no annotation: the ConfigMap's name is derived from its
// content, so a change is a new name in the pod template.
const SecretChecksumAnnotation = "xgen.ai/secret-checksum"

// NameLabel selects a service's pods; it never changes for a service (selectors are
// immutable).
const NameLabel = "app.kubernetes.io/name"

// XgenServiceArgs configures one XGEN service. Values are plain Go values: the site is
// fully known before anything is registered. Only the secret checksum is an Output.
type XgenServiceArgs struct {
	// Namespace the objects live in. Required.
	Namespace string
	// Image is the full image reference. Required.
	Image string
	// ImagePullPolicy: IfNotPresent (default), Always or Never.
	ImagePullPolicy string
	// ImagePullSecrets are Secret names in Namespace. Default none.
	ImagePullSecrets []string
	// Port the container listens on; the Service exposes the same port as "http". Required.
	Port int
	// MetricsPort is a second container port, "metrics", where the service serves its
	// metrics (Prometheus' pod discovery sees only declared ports). Default 0: the metrics
	// are on Port.
	MetricsPort int
	// ScrapeAnnotations marks the pods for a Prometheus that finds its targets by
	// annotations (prometheus.io/scrape, port, path: a cluster's own monitoring). Default
	// false: none (the observability add-on selects the pods by their labels).
	ScrapeAnnotations bool
	// MetricsPath is the path of the metrics, for ScrapeAnnotations. Default "/metrics".
	MetricsPath string
	// Replicas when Autoscaling is nil. Default 0 means 1.
	Replicas int
	// Autoscaling, when set, creates an autoscaling/v2 HPA and leaves the Deployment's
	// replica count to it. Default nil: fixed Replicas.
	Autoscaling *Autoscaling
	// Resources are the container requests and limits. Required (cpu and memory).
	Resources Resources
	// GPU, when set with Count > 0, requests nvidia.com/gpu, selects GPU nodes and
	// tolerates their taint. Default nil.
	GPU *GPU
	// Probes are the HTTP health checks. Required.
	Probes Probes
	// Config is the immutable ConfigMap "<name>-config-<content hash>", loaded into the
	// environment first. A change creates the new ConfigMap, rolls the Deployment onto it,
	// and only then deletes the old one (Pulumi's create-before-delete replacement).
	Config map[string]string
	// SecretName is a Secret loaded into the environment after the ConfigMap, so its keys
	// win. Default "": none.
	SecretName string
	// SecretChecksum changes when the Secret's values change, to roll the pods. It is a
	// secret Output (a hash of a password is still sensitive). Default none.
	SecretChecksum pulumi.StringInput
	// SpreadAcrossNodes adds a topology spread constraint over kubernetes.io/hostname
	// (ScheduleAnyway, so a single-node site still schedules). Default false.
	SpreadAcrossNodes bool
	// TerminationGracePeriodSeconds for stopping pods. Default 0 means 30.
	TerminationGracePeriodSeconds int
	// PreStopSleepSeconds keeps a terminating pod serving while endpoints drain. Default 0: none.
	PreStopSleepSeconds int
	// RunAsUser is the non-root UID. Required (sites: services.<name>.runAsUser, default
	// 10000).
	RunAsUser int
	// RunAsGroup is the GID and fsGroup. Required (sites: runAsGroup, default 10000).
	RunAsGroup int
	// WritableRootFilesystem lets the container write its image's files. Default false:
	// the root filesystem is read-only and only WritablePaths are writable.
	WritableRootFilesystem bool
	// WritablePaths are directories given an emptyDir each. Default nil means ["/tmp"].
	WritablePaths []string
	// DeployTimeout bounds how long `pulumi up` waits for the Deployment to become
	// available (Go duration). Default "" means the provider's 10m.
	DeployTimeout string
	// Labels are added to every object and pod. Default none.
	Labels map[string]string
}

// Autoscaling is the HPA's range and CPU target.
type Autoscaling struct {
	MinReplicas int // at least 1
	MaxReplicas int // at least MinReplicas
	// TargetCPUUtilization in percent of the CPU request, e.g. 80.
	TargetCPUUtilization int
}

// Resources are Kubernetes quantities; ephemeral storage is left out when empty.
type Resources struct {
	RequestsCPU, RequestsMemory, RequestsEphemeralStorage string
	LimitsCPU, LimitsMemory, LimitsEphemeralStorage       string
}

// GPU placement.
type GPU struct {
	// Count of nvidia.com/gpu per pod.
	Count int
	// NodeSelector matching GPU nodes, e.g. {"nvidia.com/gpu.present": "true"}.
	NodeSelector map[string]string
	// RuntimeClassName runs the pod with the NVIDIA container runtime (K3s registers it as
	// a second runtime beside runc: without it the container does not see the GPU). Default
	// none: the node's default runtime (a cluster whose GPU nodes default to NVIDIA's).
	RuntimeClassName string
}

// Probes check the service port: readiness (and startup) with HTTP GET on Path, liveness
// with a TCP connection only. Liveness must not fail when a dependency is down (a /health
// that checks the database would restart every healthy pod during a database outage); it
// restarts a process that no longer accepts connections.
type Probes struct {
	Path      string
	Liveness  Probe
	Readiness Probe
	// Startup is optional: nil means no startup probe.
	Startup *Probe
}

// Probe timings in seconds.
type Probe struct {
	InitialDelaySeconds, PeriodSeconds, TimeoutSeconds, FailureThreshold int
}

// XgenService is one XGEN service: Deployment, Service, ConfigMap, a PodDisruptionBudget,
// and an HPA or fixed replicas.
type XgenService struct {
	pulumi.ResourceState

	Deployment *appsv1.Deployment
	Service    *corev1.Service
	ConfigMap  *corev1.ConfigMap
	// HPA is nil when the service runs fixed replicas.
	HPA *autoscalingv2.HorizontalPodAutoscaler
	// PDB keeps a node drain to one pod of the service at a time.
	PDB *policyv1.PodDisruptionBudget
	// ClusterURL is the in-cluster base URL, e.g. http://xgen-core.xgen.svc.cluster.local:8000.
	ClusterURL pulumi.StringOutput
}

// NewXgenService registers one service. name is the Kubernetes object name that other
// services address (e.g. "xgen-core"); it is used verbatim, never auto-suffixed.
func NewXgenService(ctx *pulumi.Context, name string, args XgenServiceArgs, opts ...pulumi.ResourceOption) (*XgenService, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("service %s: %w", name, err)
	}
	comp := &XgenService{}
	if err := ctx.RegisterComponentResource("xgen:index:XgenService", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)

	labels := map[string]string{
		NameLabel: name,
		"app":     name, // Istio telemetry reads "app"
	}
	for k, v := range args.Labels {
		labels[k] = v
	}
	selector := pulumi.StringMap{NameLabel: pulumi.String(name)}
	meta := func(objName string) *metav1.ObjectMetaArgs { return objectMeta(objName, args.Namespace, labels) }

	configMapName := ConfigMapName(name, args.Config)
	cm, err := corev1.NewConfigMap(ctx, name, &corev1.ConfigMapArgs{
		Metadata:  meta(configMapName),
		Data:      pulumi.ToStringMap(args.Config),
		Immutable: pulumi.Bool(true), // a name is one content: nothing edits it in place
	}, parent)
	if err != nil {
		return nil, err
	}
	comp.ConfigMap = cm

	podAnnotations := pulumi.StringMap{}
	if args.ScrapeAnnotations {
		port, path := args.MetricsPort, args.MetricsPath
		if port == 0 {
			port = args.Port
		}
		if path == "" {
			path = "/metrics"
		}
		podAnnotations["prometheus.io/scrape"] = pulumi.String("true")
		podAnnotations["prometheus.io/port"] = pulumi.String(strconv.Itoa(port))
		podAnnotations["prometheus.io/path"] = pulumi.String(path)
	}
	envFrom := corev1.EnvFromSourceArray{
		corev1.EnvFromSourceArgs{ConfigMapRef: &corev1.ConfigMapEnvSourceArgs{Name: pulumi.String(configMapName)}},
	}
	if args.SecretName != "" {
		envFrom = append(envFrom, corev1.EnvFromSourceArgs{SecretRef: &corev1.SecretEnvSourceArgs{Name: pulumi.String(args.SecretName)}})
		if args.SecretChecksum != nil {
			podAnnotations[SecretChecksumAnnotation] = args.SecretChecksum
		}
	}

	deploymentOpts := []pulumi.ResourceOption{parent, pulumi.DependsOn([]pulumi.Resource{cm})}
	if args.DeployTimeout != "" {
		deploymentOpts = append(deploymentOpts, pulumi.Timeouts(&pulumi.CustomTimeouts{Create: args.DeployTimeout, Update: args.DeployTimeout}))
	}
	dep, err := appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: meta(name),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas:             args.deploymentReplicas(),
			RevisionHistoryLimit: pulumi.Int(5),
			Selector:             &metav1.LabelSelectorArgs{MatchLabels: selector},
			Strategy:             args.strategy(),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: meta("").Labels, Annotations: podAnnotations},
				Spec:     args.podSpec(name, envFrom, selector),
			},
		},
	}, deploymentOpts...)
	if err != nil {
		return nil, err
	}
	comp.Deployment = dep

	svc, err := corev1.NewService(ctx, name, &corev1.ServiceArgs{
		Metadata: meta(name),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: selector,
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String("http"), Port: pulumi.Int(args.Port),
				TargetPort: pulumi.String("http"), Protocol: pulumi.String("TCP"),
			}},
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	comp.Service = svc

	if a := args.Autoscaling; a != nil {
		comp.HPA, err = autoscalingv2.NewHorizontalPodAutoscaler(ctx, name, &autoscalingv2.HorizontalPodAutoscalerArgs{
			Metadata: meta(name),
			Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
				ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{
					ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String("Deployment"), Name: pulumi.String(name),
				},
				MinReplicas: pulumi.Int(a.MinReplicas),
				MaxReplicas: pulumi.Int(a.MaxReplicas),
				// Scale down only after 5 minutes of low load, one pod a minute: a load dip
				// between bursts must not remove pods that the next burst needs.
				Behavior: &autoscalingv2.HorizontalPodAutoscalerBehaviorArgs{
					ScaleDown: &autoscalingv2.HPAScalingRulesArgs{
						StabilizationWindowSeconds: pulumi.Int(300),
						Policies: autoscalingv2.HPAScalingPolicyArray{autoscalingv2.HPAScalingPolicyArgs{
							Type: pulumi.String("Pods"), Value: pulumi.Int(1), PeriodSeconds: pulumi.Int(60),
						}},
					},
				},
				Metrics: autoscalingv2.MetricSpecArray{autoscalingv2.MetricSpecArgs{
					Type: pulumi.String("Resource"),
					Resource: &autoscalingv2.ResourceMetricSourceArgs{
						Name: pulumi.String("cpu"),
						Target: &autoscalingv2.MetricTargetArgs{
							Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(a.TargetCPUUtilization),
						},
					},
				}},
			},
		}, parent, pulumi.DependsOn([]pulumi.Resource{dep}))
		if err != nil {
			return nil, err
		}
	}

	// Every Deployment gets a PDB. maxUnavailable 1 keeps a drain going one pod at a time
	// and never blocks it, even for a single pod (minAvailable 1 would).
	comp.PDB, err = policyv1.NewPodDisruptionBudget(ctx, name, &policyv1.PodDisruptionBudgetArgs{
		Metadata: meta(name),
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MaxUnavailable: pulumi.Int(1),
			Selector:       &metav1.LabelSelectorArgs{MatchLabels: selector},
		},
	}, parent)
	if err != nil {
		return nil, err
	}

	comp.ClusterURL = pulumi.Sprintf("http://%s.%s.svc.cluster.local:%d", name, args.Namespace, args.Port)
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"deploymentName": pulumi.String(name),
		"image":          pulumi.String(args.Image),
		"clusterUrl":     comp.ClusterURL,
	}); err != nil {
		return nil, err
	}
	return comp, nil
}

func (a *XgenServiceArgs) validate() error {
	var errs []error
	if a.Namespace == "" {
		errs = append(errs, errors.New("Namespace is required"))
	}
	if a.Image == "" {
		errs = append(errs, errors.New("Image is required"))
	}
	if a.RunAsUser < 1 || a.RunAsGroup < 1 {
		errs = append(errs, fmt.Errorf("RunAsUser %d and RunAsGroup %d: a non-root UID and GID are required", a.RunAsUser, a.RunAsGroup))
	}
	if a.Port < 1 || a.Port > 65535 {
		errs = append(errs, fmt.Errorf("Port %d is not a TCP port", a.Port))
	}
	if a.Resources.RequestsCPU == "" || a.Resources.RequestsMemory == "" || a.Resources.LimitsCPU == "" || a.Resources.LimitsMemory == "" {
		errs = append(errs, errors.New("Resources needs cpu and memory requests and limits"))
	}
	if !strings.HasPrefix(a.Probes.Path, "/") {
		errs = append(errs, fmt.Errorf("Probes.Path %q must start with /", a.Probes.Path))
	}
	if s := a.Autoscaling; s != nil && (s.MinReplicas < 1 || s.MaxReplicas < s.MinReplicas) {
		errs = append(errs, fmt.Errorf("Autoscaling range %d-%d is invalid", s.MinReplicas, s.MaxReplicas))
	}
	return errors.Join(errs...)
}

// deploymentReplicas is nil under an HPA: a replica count in the Deployment would fight it.
func (a *XgenServiceArgs) deploymentReplicas() pulumi.IntPtrInput {
	if a.Autoscaling != nil {
		return nil
	}
	return pulumi.IntPtr(max(a.Replicas, 1))
}

// strategy surges a new pod before removing an old one, except for GPU services: a
// surge pod would wait for a second GPU that a one-GPU node does not have.
func (a *XgenServiceArgs) strategy() *appsv1.DeploymentStrategyArgs {
	surge, unavailable := 1, 0
	if a.GPU != nil && a.GPU.Count > 0 {
		surge, unavailable = 0, 1
	}
	return &appsv1.DeploymentStrategyArgs{
		Type:          pulumi.String("RollingUpdate"),
		RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{MaxSurge: pulumi.Int(surge), MaxUnavailable: pulumi.Int(unavailable)},
	}
}

func (a *XgenServiceArgs) podSpec(name string, envFrom corev1.EnvFromSourceArray, selector pulumi.StringMap) *corev1.PodSpecArgs {
	uid, gid := a.RunAsUser, a.RunAsGroup
	writable := a.WritablePaths
	if writable == nil {
		writable = []string{"/tmp"}
	}
	grace := a.TerminationGracePeriodSeconds
	if grace == 0 {
		grace = 30
	}
	pullPolicy := a.ImagePullPolicy
	if pullPolicy == "" {
		pullPolicy = "IfNotPresent"
	}
	limits := pulumi.StringMap{"cpu": pulumi.String(a.Resources.LimitsCPU), "memory": pulumi.String(a.Resources.LimitsMemory)}
	requests := pulumi.StringMap{"cpu": pulumi.String(a.Resources.RequestsCPU), "memory": pulumi.String(a.Resources.RequestsMemory)}
	if r := a.Resources; r.RequestsEphemeralStorage != "" {
		requests["ephemeral-storage"] = pulumi.String(r.RequestsEphemeralStorage)
	}
	if r := a.Resources; r.LimitsEphemeralStorage != "" {
		limits["ephemeral-storage"] = pulumi.String(r.LimitsEphemeralStorage)
	}

	hardening := Hardening{UID: uid, GID: gid, WritableRoot: a.WritableRootFilesystem}
	container := corev1.ContainerArgs{
		Name:            pulumi.String(name),
		Image:           pulumi.String(a.Image),
		ImagePullPolicy: pulumi.String(pullPolicy),
		Ports:           containerPortsOf(a.Port, a.MetricsPort),
		EnvFrom:         envFrom,
		Resources:       &corev1.ResourceRequirementsArgs{Requests: requests, Limits: limits},
		LivenessProbe:   tcpProbe(a.Probes.Liveness),
		ReadinessProbe:  httpProbe(a.Probes.Path, a.Probes.Readiness),
		SecurityContext: hardening.Container(),
	}
	if a.Probes.Startup != nil {
		container.StartupProbe = httpProbe(a.Probes.Path, *a.Probes.Startup)
	}
	if a.PreStopSleepSeconds > 0 {
		container.Lifecycle = &corev1.LifecycleArgs{PreStop: &corev1.LifecycleHandlerArgs{
			Sleep: &corev1.SleepActionArgs{Seconds: pulumi.Int(a.PreStopSleepSeconds)},
		}}
	}

	spec := &corev1.PodSpecArgs{
		AutomountServiceAccountToken:  pulumi.Bool(false), // the services do not call the Kubernetes API
		TerminationGracePeriodSeconds: pulumi.Int(grace),
		SecurityContext:               hardening.Pod(),
	}
	if len(a.ImagePullSecrets) > 0 {
		refs := corev1.LocalObjectReferenceArray{}
		for _, s := range a.ImagePullSecrets {
			refs = append(refs, corev1.LocalObjectReferenceArgs{Name: pulumi.String(s)})
		}
		spec.ImagePullSecrets = refs
	}
	if g := a.GPU; g != nil && g.Count > 0 {
		limits["nvidia.com/gpu"] = pulumi.String(fmt.Sprint(g.Count))
		spec.NodeSelector = pulumi.ToStringMap(g.NodeSelector)
		if g.RuntimeClassName != "" {
			spec.RuntimeClassName = pulumi.String(g.RuntimeClassName)
		}
		spec.Tolerations = gpuTolerations()
	}
	if a.SpreadAcrossNodes {
		spec.TopologySpreadConstraints = corev1.TopologySpreadConstraintArray{corev1.TopologySpreadConstraintArgs{
			MaxSkew:           pulumi.Int(1),
			TopologyKey:       pulumi.String("kubernetes.io/hostname"),
			WhenUnsatisfiable: pulumi.String("ScheduleAnyway"),
			LabelSelector:     &metav1.LabelSelectorArgs{MatchLabels: selector},
			MatchLabelKeys:    pulumi.StringArray{pulumi.String("pod-template-hash")},
		}}
	}
	var volumes corev1.VolumeArray
	var mounts corev1.VolumeMountArray
	for i, dir := range writable {
		vol := fmt.Sprintf("writable-%d", i)
		volumes = append(volumes, corev1.VolumeArgs{Name: pulumi.String(vol), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}})
		mounts = append(mounts, corev1.VolumeMountArgs{Name: pulumi.String(vol), MountPath: pulumi.String(dir)})
	}
	if len(volumes) > 0 {
		spec.Volumes = volumes
		container.VolumeMounts = mounts
	}
	spec.Containers = corev1.ContainerArray{container}
	return spec
}

// tcpProbe only connects to the service port (see Probes).
func tcpProbe(p Probe) *corev1.ProbeArgs {
	return &corev1.ProbeArgs{
		TcpSocket:           &corev1.TCPSocketActionArgs{Port: pulumi.String("http")},
		InitialDelaySeconds: pulumi.Int(p.InitialDelaySeconds),
		PeriodSeconds:       pulumi.Int(p.PeriodSeconds),
		TimeoutSeconds:      pulumi.Int(p.TimeoutSeconds),
		FailureThreshold:    pulumi.Int(p.FailureThreshold),
	}
}

func httpProbe(path string, p Probe) *corev1.ProbeArgs {
	return &corev1.ProbeArgs{
		HttpGet:             &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.String("http")},
		InitialDelaySeconds: pulumi.Int(p.InitialDelaySeconds),
		PeriodSeconds:       pulumi.Int(p.PeriodSeconds),
		TimeoutSeconds:      pulumi.Int(p.TimeoutSeconds),
		FailureThreshold:    pulumi.Int(p.FailureThreshold),
	}
}

// ConfigMapName is "<service>-config-<first 10 hex digits of ConfigChecksum>".
func ConfigMapName(service string, data map[string]string) string {
	return ContentName(service+"-config", data)
}

// ContentName is "<prefix>-<first 10 hex digits of ConfigChecksum>": a ConfigMap named by
// its contents, so that new contents are a new object and the pods that mount it roll.
func ContentName(prefix string, data map[string]string) string {
	return prefix + "-" + ConfigChecksum(data)[:10]
}

// ConfigChecksum is a stable hash of ConfigMap data: equal data, equal checksum.
func ConfigChecksum(data map[string]string) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s=%d:%s\n", len(k), k, len(data[k]), data[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// containerPortsOf are the service's port ("http") and, if it is another one, its metrics
// port ("metrics").
func containerPortsOf(port, metricsPort int) corev1.ContainerPortArray {
	ports := corev1.ContainerPortArray{corev1.ContainerPortArgs{
		Name: pulumi.String("http"), ContainerPort: pulumi.Int(port), Protocol: pulumi.String("TCP"),
	}}
	if metricsPort != 0 && metricsPort != port {
		ports = append(ports, corev1.ContainerPortArgs{
			Name: pulumi.String("metrics"), ContainerPort: pulumi.Int(metricsPort), Protocol: pulumi.String("TCP"),
		})
	}
	return ports
}
