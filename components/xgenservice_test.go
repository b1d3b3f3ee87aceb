package components

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/internal/inprocess"
)

const (
	deploymentType = "kubernetes:apps/v1:Deployment"
	serviceType    = "kubernetes:core/v1:Service"
	configMapType  = "kubernetes:core/v1:ConfigMap"
	hpaType        = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
	pdbType        = "kubernetes:policy/v1:PodDisruptionBudget"
)

func baseArgs() XgenServiceArgs {
	return XgenServiceArgs{
		Namespace: "xgen",
		Image:     "registry.example/xgen/main/xgen-core:v1",
		Port:      8000,
		Replicas:  1,
		RunAsUser: 10000, RunAsGroup: 10000,
		Resources: Resources{RequestsCPU: "100m", RequestsMemory: "256Mi", LimitsCPU: "500m", LimitsMemory: "1Gi"},
		Probes: Probes{Path: "/health",
			Liveness:  Probe{InitialDelaySeconds: 30, PeriodSeconds: 10, TimeoutSeconds: 5, FailureThreshold: 6},
			Readiness: Probe{InitialDelaySeconds: 10, PeriodSeconds: 10, TimeoutSeconds: 5, FailureThreshold: 3}},
		Config: map[string]string{"LOG_LEVEL": "info"},
	}
}

func runService(t *testing.T, name string, args XgenServiceArgs) *inprocess.Recorder {
	t.Helper()
	rec, err := inprocess.Run(func(ctx *pulumi.Context) error {
		_, err := NewXgenService(ctx, name, args)
		return err
	}, "test", "test", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func body(t *testing.T, rec *inprocess.Recorder, typ, name string) map[string]any {
	t.Helper()
	res, ok := rec.Find(typ, name)
	if !ok {
		t.Fatalf("no %s %s registered", typ, name)
	}
	b, _ := res.PlainInputs()
	return b
}

var at = inprocess.Get

func TestXgenServiceChildrenAreParentedAndNamed(t *testing.T) {
	args := baseArgs()
	args.Autoscaling = &Autoscaling{MinReplicas: 2, MaxReplicas: 4, TargetCPUUtilization: 80}
	rec := runService(t, "xgen-core", args)
	comp, ok := rec.Find("xgen:index:XgenService", "xgen-core")
	if !ok {
		t.Fatal("component not registered")
	}
	want := map[string]string{deploymentType: "xgen-core", serviceType: "xgen-core", configMapType: ConfigMapName("xgen-core", args.Config), hpaType: "xgen-core", pdbType: "xgen-core"}
	for typ, objName := range want {
		res, ok := rec.Find(typ, "xgen-core")
		if !ok {
			t.Errorf("%s missing", typ)
			continue
		}
		if res.Parent != comp.URN {
			t.Errorf("%s parent = %q, want the component", typ, res.Parent)
		}
		b, _ := res.PlainInputs()
		if got := at(b, "metadata", "name"); got != objName {
			t.Errorf("%s metadata.name = %v, want %q (explicit, never auto-named)", typ, got, objName)
		}
		if got := at(b, "metadata", "namespace"); got != "xgen" {
			t.Errorf("%s namespace = %v", typ, got)
		}
	}
}

func TestXgenServiceDeploymentShape(t *testing.T) {
	args := baseArgs()
	rec := runService(t, "xgen-core", args)
	d := body(t, rec, deploymentType, "xgen-core")
	c := at(d, "spec", "template", "spec", "containers", 0)
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"image", at(c, "image"), "registry.example/xgen/main/xgen-core:v1"},
		{"port", at(c, "ports", 0, "containerPort"), int64(8000)},
		{"liveness on the port", at(c, "livenessProbe", "tcpSocket", "port"), "http"},
		{"liveness is no health check", at(c, "livenessProbe", "httpGet"), nil},
		{"readiness path", at(c, "readinessProbe", "httpGet", "path"), "/health"},
		{"liveness failure threshold", at(c, "livenessProbe", "failureThreshold"), int64(6)},
		{"readiness delay", at(c, "readinessProbe", "initialDelaySeconds"), int64(10)},
		{"no startup probe", at(c, "startupProbe"), nil},
		{"configmap first", at(c, "envFrom", 0, "configMapRef", "name"), ConfigMapName("xgen-core", args.Config)},
		{"memory limit", at(c, "resources", "limits", "memory"), "1Gi"},
		{"no privilege escalation", at(c, "securityContext", "allowPrivilegeEscalation"), false},
		{"drop all caps", at(c, "securityContext", "capabilities", "drop", 0), "ALL"},
		{"non-root", at(d, "spec", "template", "spec", "securityContext", "runAsNonRoot"), true},
		{"uid default", at(d, "spec", "template", "spec", "securityContext", "runAsUser"), int64(10000)},
		{"gid default", at(d, "spec", "template", "spec", "securityContext", "runAsGroup"), int64(10000)},
		{"fsGroup is the gid", at(d, "spec", "template", "spec", "securityContext", "fsGroup"), int64(10000)},
		{"root filesystem read-only", at(c, "securityContext", "readOnlyRootFilesystem"), true},
		{"/tmp writable", at(c, "volumeMounts", 0, "mountPath"), "/tmp"},
		{"/tmp is an emptyDir", at(d, "spec", "template", "spec", "volumes", 0, "name"), at(c, "volumeMounts", 0, "name")},
		{"only /tmp", at(c, "volumeMounts", 1), nil},
		{"seccomp", at(d, "spec", "template", "spec", "securityContext", "seccompProfile", "type"), "RuntimeDefault"},
		{"grace default", at(d, "spec", "template", "spec", "terminationGracePeriodSeconds"), int64(30)},
		{"fixed replicas", at(d, "spec", "replicas"), int64(1)},
		{"selector", at(d, "spec", "selector", "matchLabels", NameLabel), "xgen-core"},
		{"no spread unless asked", at(d, "spec", "template", "spec", "topologySpreadConstraints"), nil},
		{"no pull secrets", at(d, "spec", "template", "spec", "imagePullSecrets"), nil},
		{"surge before removing", at(d, "spec", "strategy", "rollingUpdate", "maxUnavailable"), int64(0)},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	if _, ok := rec.Find(hpaType, "xgen-core"); ok {
		t.Error("HPA created for fixed replicas")
	}
	// A single pod still gets a PDB, one that never blocks a node drain.
	if pdb := body(t, rec, pdbType, "xgen-core"); at(pdb, "spec", "maxUnavailable") != int64(1) || at(pdb, "spec", "minAvailable") != nil {
		t.Errorf("single-pod PDB spec = %v, want maxUnavailable 1", at(pdb, "spec"))
	}
}

func TestXgenServiceReplicasVersusHPA(t *testing.T) {
	cases := []struct {
		name         string
		replicas     int
		autoscaling  *Autoscaling
		wantReplicas any
		wantHPA      bool
		wantPDB      bool
	}{
		{"single fixed", 1, nil, int64(1), false, true},
		{"three fixed", 3, nil, int64(3), false, true},
		{"hpa 2-4", 0, &Autoscaling{MinReplicas: 2, MaxReplicas: 4, TargetCPUUtilization: 80}, nil, true, true},
		{"hpa 1-4", 0, &Autoscaling{MinReplicas: 1, MaxReplicas: 4, TargetCPUUtilization: 80}, nil, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := baseArgs()
			args.Replicas, args.Autoscaling = tc.replicas, tc.autoscaling
			rec := runService(t, "svc", args)
			if got := at(body(t, rec, deploymentType, "svc"), "spec", "replicas"); !reflect.DeepEqual(got, tc.wantReplicas) {
				t.Errorf("deployment replicas = %#v, want %#v (an HPA owns the count)", got, tc.wantReplicas)
			}
			_, hasHPA := rec.Find(hpaType, "svc")
			_, hasPDB := rec.Find(pdbType, "svc")
			if hasHPA != tc.wantHPA || hasPDB != tc.wantPDB {
				t.Errorf("hpa=%v pdb=%v, want hpa=%v pdb=%v", hasHPA, hasPDB, tc.wantHPA, tc.wantPDB)
			}
			if hasHPA {
				h := body(t, rec, hpaType, "svc")
				if at(h, "spec", "minReplicas") != int64(tc.autoscaling.MinReplicas) || at(h, "spec", "maxReplicas") != int64(tc.autoscaling.MaxReplicas) ||
					at(h, "spec", "metrics", 0, "resource", "target", "averageUtilization") != int64(80) ||
					at(h, "spec", "scaleTargetRef", "name") != "svc" ||
					at(h, "spec", "behavior", "scaleDown", "stabilizationWindowSeconds") != int64(300) ||
					at(h, "spec", "behavior", "scaleDown", "policies", 0, "value") != int64(1) {
					t.Errorf("hpa spec = %v", at(h, "spec"))
				}
			}
		})
	}
}

func TestXgenServiceGPUPlacement(t *testing.T) {
	args := baseArgs()
	args.GPU = &GPU{Count: 1, NodeSelector: map[string]string{"nvidia.com/gpu.present": "true"}, RuntimeClassName: "nvidia"}
	args.SpreadAcrossNodes = false
	rec := runService(t, "xgen-model", args)
	d := body(t, rec, deploymentType, "xgen-model")
	spec := at(d, "spec", "template", "spec")
	if got := at(spec, "runtimeClassName"); got != "nvidia" {
		t.Errorf("runtimeClassName = %v: without the NVIDIA runtime the container sees no GPU", got)
	}
	if got := at(spec, "containers", 0, "resources", "limits", "nvidia.com/gpu"); got != "1" {
		t.Errorf("gpu limit = %v", got)
	}
	if got := at(spec, "nodeSelector", "nvidia.com/gpu.present"); got != "true" {
		t.Errorf("node selector = %v", at(spec, "nodeSelector"))
	}
	if got := at(spec, "tolerations", 0, "key"); got != "nvidia.com/gpu" {
		t.Errorf("toleration = %v", at(spec, "tolerations"))
	}
	if got := at(d, "spec", "strategy", "rollingUpdate", "maxSurge"); got != int64(0) {
		t.Errorf("GPU rollout surges (%v): the new pod would wait for a second GPU", got)
	}

	plain := runService(t, "xgen-core", baseArgs())
	if cpu := at(body(t, plain, deploymentType, "xgen-core"), "spec", "template", "spec"); at(cpu, "nodeSelector") != nil || at(cpu, "runtimeClassName") != nil {
		t.Error("a CPU service is pinned to nodes or runs with the GPU runtime")
	}
}

func TestXgenServiceSpreadPullSecretsAndTimeout(t *testing.T) {
	args := baseArgs()
	args.SpreadAcrossNodes = true
	args.ImagePullSecrets = []string{"xgen-registry"}
	args.DeployTimeout = "30m"
	args.PreStopSleepSeconds = 5
	rec := runService(t, "xgen-core", args)
	d := body(t, rec, deploymentType, "xgen-core")
	spec := at(d, "spec", "template", "spec")
	if at(spec, "topologySpreadConstraints", 0, "topologyKey") != "kubernetes.io/hostname" ||
		at(spec, "topologySpreadConstraints", 0, "labelSelector", "matchLabels", NameLabel) != "xgen-core" {
		t.Errorf("spread = %v", at(spec, "topologySpreadConstraints"))
	}
	if at(spec, "imagePullSecrets", 0, "name") != "xgen-registry" {
		t.Errorf("pull secrets = %v", at(spec, "imagePullSecrets"))
	}
	if at(spec, "containers", 0, "lifecycle", "preStop", "sleep", "seconds") != int64(5) {
		t.Errorf("preStop = %v", at(spec, "containers", 0, "lifecycle"))
	}
	res, _ := rec.Find(deploymentType, "xgen-core")
	if res.CreateTimeout != "30m" || res.UpdateTimeout != "30m" {
		t.Errorf("custom timeouts = %q/%q", res.CreateTimeout, res.UpdateTimeout)
	}
}

// TestXgenServiceConfigChangeRollsPods: the pod template changes exactly when the config
// (or the secret checksum) changes, so Kubernetes rolls the pods with no extra controller.
// A config change is a new ConfigMap name: the engine replaces the ConfigMap create-before-
// delete (no DeleteBeforeReplace), and the Deployment, which depends on it and names it,
// is updated in between, so no pod ever starts without its ConfigMap.
func TestXgenServiceConfigChangeRollsPods(t *testing.T) {
	configMapRef := func(args XgenServiceArgs) any {
		rec := runService(t, "svc", args)
		cm := body(t, rec, configMapType, "svc")
		ref := at(body(t, rec, deploymentType, "svc"), "spec", "template", "spec", "containers", 0, "envFrom", 0, "configMapRef", "name")
		if name := at(cm, "metadata", "name"); ref != name {
			t.Errorf("pods read ConfigMap %v, the ConfigMap is %v", ref, name)
		}
		if at(cm, "immutable") != true {
			t.Error("the ConfigMap is not immutable: its name would not say what it holds")
		}
		res, _ := rec.Find(configMapType, "svc")
		if res.DeleteBeforeReplace {
			t.Error("the ConfigMap is deleted before its replacement exists")
		}
		dep, _ := rec.Find(deploymentType, "svc")
		if !slices.Contains(dep.DependsOn, res.URN) {
			t.Errorf("the Deployment does not wait for its ConfigMap: depends on %v", dep.DependsOn)
		}
		if a := at(body(t, rec, deploymentType, "svc"), "spec", "template", "metadata", "annotations", "xgen.ai/config-checksum"); a != nil {
			t.Errorf("a config checksum annotation is left: %v (the name says it)", a)
		}
		return ref
	}
	annotation := func(args XgenServiceArgs, key string) any {
		rec := runService(t, "svc", args)
		return at(body(t, rec, deploymentType, "svc"), "spec", "template", "metadata", "annotations", key)
	}
	a := baseArgs()
	b := baseArgs()
	b.Config = map[string]string{"LOG_LEVEL": "info"} // same data, new map
	c := baseArgs()
	c.Config = map[string]string{"LOG_LEVEL": "debug"}
	if configMapRef(a) != configMapRef(b) {
		t.Error("equal config gives a different ConfigMap name: pods would roll for nothing")
	}
	if configMapRef(a) == configMapRef(c) {
		t.Error("changed config keeps the ConfigMap name: pods would not roll")
	}

	s1, s2 := baseArgs(), baseArgs()
	s1.SecretName, s1.SecretChecksum = "xgen-secrets", pulumi.ToSecret(pulumi.String("one")).(pulumi.StringOutput)
	s2.SecretName, s2.SecretChecksum = "xgen-secrets", pulumi.ToSecret(pulumi.String("two")).(pulumi.StringOutput)
	if annotation(s1, SecretChecksumAnnotation) == annotation(s2, SecretChecksumAnnotation) {
		t.Error("secret change does not reach the pod template")
	}
	rec := runService(t, "svc", s1)
	res, _ := rec.Find(deploymentType, "svc")
	_, secrets := res.PlainInputs()
	if !containsPath(secrets, "xgen.ai/secret-checksum") {
		t.Errorf("secret checksum is not a Pulumi secret; secret paths: %v", secrets)
	}
	c0 := at(body(t, rec, deploymentType, "svc"), "spec", "template", "spec", "containers", 0, "envFrom")
	if at(c0, 1, "secretRef", "name") != "xgen-secrets" {
		t.Errorf("the Secret must come after the ConfigMap so its keys win: %v", c0)
	}
}

func TestXgenServiceRejectsBadArgsBeforeRegistering(t *testing.T) {
	args := baseArgs()
	args.Namespace, args.Port, args.Probes.Path = "", 0, "health"
	rec, err := inprocess.Run(func(ctx *pulumi.Context) error {
		_, err := NewXgenService(ctx, "bad", args)
		return err
	}, "test", "test", nil, nil)
	if err == nil {
		t.Fatal("bad args accepted")
	}
	for _, want := range []string{"service bad", "Namespace is required", "Port 0", `Probes.Path "health"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if len(rec.Resources) != 0 {
		t.Errorf("%d resources registered despite the error", len(rec.Resources))
	}
}

func TestConfigChecksumIsUnambiguous(t *testing.T) {
	if ConfigChecksum(map[string]string{"A": "1\nB=2"}) == ConfigChecksum(map[string]string{"A": "1", "B": "2"}) {
		t.Error("different data, same checksum")
	}
}

func containsPath(paths []string, part string) bool {
	for _, p := range paths {
		if strings.Contains(p, part) {
			return true
		}
	}
	return false
}

func TestXgenServiceEphemeralStorage(t *testing.T) {
	args := baseArgs()
	args.Resources.RequestsEphemeralStorage, args.Resources.LimitsEphemeralStorage = "1Gi", "4Gi"
	c := at(body(t, runService(t, "svc", args), deploymentType, "svc"), "spec", "template", "spec", "containers", 0)
	if at(c, "resources", "requests", "ephemeral-storage") != "1Gi" || at(c, "resources", "limits", "ephemeral-storage") != "4Gi" {
		t.Errorf("resources = %v", at(c, "resources"))
	}
}

// TestXgenServiceScrapeAnnotations: for a cluster's own Prometheus the pods say where their
// metrics are (the metrics port when there is one, else the service port); without, none.
func TestXgenServiceScrapeAnnotations(t *testing.T) {
	for _, tc := range []struct {
		name        string
		scrape      bool
		metricsPort int
		path        string
		want        map[string]any
	}{
		{"service port, default path", true, 0, "", map[string]any{"prometheus.io/scrape": "true", "prometheus.io/port": "8000", "prometheus.io/path": "/metrics"}},
		{"own metrics port and path", true, 9464, "/prom", map[string]any{"prometheus.io/scrape": "true", "prometheus.io/port": "9464", "prometheus.io/path": "/prom"}},
		{"no external scraper", false, 9464, "/prom", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := baseArgs()
			args.ScrapeAnnotations, args.MetricsPort, args.MetricsPath = tc.scrape, tc.metricsPort, tc.path
			d := body(t, runService(t, "xgen-core", args), deploymentType, "xgen-core")
			got, _ := at(d, "spec", "template", "metadata", "annotations").(map[string]any)
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("annotation %s = %v, want %v", k, got[k], v)
				}
			}
			if tc.want == nil {
				for k := range got {
					if strings.HasPrefix(k, "prometheus.io/") {
						t.Errorf("annotation %s without an external scraper", k)
					}
				}
			}
		})
	}
}

// TestXgenServiceNeedsItsUser: the UID and GID are the site model's (default 10000 there);
// the component refuses to guess one.
func TestXgenServiceNeedsItsUser(t *testing.T) {
	args := baseArgs()
	args.RunAsUser = 0
	if _, err := inprocess.Run(func(ctx *pulumi.Context) error {
		_, err := NewXgenService(ctx, "xgen-core", args)
		return err
	}, "test", "test", nil, nil); err == nil || !strings.Contains(err.Error(), "non-root UID and GID are required") {
		t.Errorf("no RunAsUser: %v", err)
	}
}
