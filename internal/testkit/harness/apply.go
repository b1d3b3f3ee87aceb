package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the server-side apply manager name, as pulumi-kubernetes uses one.
const FieldManager = "xgen-infra"

// Applied is the outcome of applying one object.
type Applied struct {
	Kind, Namespace, Name string
	// Changed is true when the object was created or the apply changed anything but its
	// status and bookkeeping metadata (a controller writing status meanwhile is not a change).
	Changed bool
}

// Apply server-side-applies objects in order with strict field validation: an unknown or
// misspelt field is an error, as it would be for pulumi-kubernetes. Objects must come in
// dependency order (namespaces first).
func (c *Cluster) Apply(ctx context.Context, objects []map[string]any) ([]Applied, error) {
	return c.apply(ctx, objects, false)
}

// DryRunApply is Apply with server-side dry run (admission, defaulting and strict validation,
// nothing stored), except for Namespaces, which are applied for real: the objects in them
// cannot be dry-run otherwise.
func (c *Cluster) DryRunApply(ctx context.Context, objects []map[string]any) ([]Applied, error) {
	return c.apply(ctx, objects, true)
}

func (c *Cluster) apply(ctx context.Context, objects []map[string]any, dryRun bool) ([]Applied, error) {
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Client.Discovery()))
	var out []Applied
	for _, obj := range objects {
		u := &unstructured.Unstructured{Object: obj}
		gvk := u.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			mapper.Reset()
			if mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				return out, fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), err)
			}
		}
		var client dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			client = dyn.Resource(mapping.Resource).Namespace(u.GetNamespace())
		}
		var before map[string]any
		if cur, err := client.Get(ctx, u.GetName(), metav1.GetOptions{}); err == nil {
			before = cur.Object
		} else if !apierrors.IsNotFound(err) {
			return out, fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), err)
		}
		data, err := json.Marshal(obj)
		if err != nil {
			return out, err
		}
		opts := metav1.PatchOptions{FieldManager: FieldManager, Force: ptr(true), FieldValidation: "Strict"}
		if dryRun && gvk.Kind != "Namespace" {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		res, err := client.Patch(ctx, u.GetName(), types.ApplyPatchType, data, opts)
		if err != nil {
			return out, fmt.Errorf("%s %s/%s: %w", gvk.Kind, u.GetNamespace(), u.GetName(), err)
		}
		changed := before == nil || !equality.Semantic.DeepEqual(withoutBookkeeping(before), withoutBookkeeping(res.Object))
		out = append(out, Applied{Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName(), Changed: changed})
	}
	return out, nil
}

// withoutBookkeeping is an object without status and the metadata the API server and
// controllers maintain, so that two versions compare equal when only those moved.
func withoutBookkeeping(obj map[string]any) map[string]any {
	c := runtime.DeepCopyJSON(obj)
	delete(c, "status")
	if meta, ok := c["metadata"].(map[string]any); ok {
		for _, k := range []string{"resourceVersion", "managedFields", "generation", "uid", "creationTimestamp"} {
			delete(meta, k)
		}
	}
	return c
}

// InstallCRDs applies a multi-document YAML of CustomResourceDefinitions and waits until
// every one is Established.
func (c *Cluster) InstallCRDs(ctx context.Context, multiDoc []byte) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(multiDoc), 4096)
	var objs []map[string]any
	var names []string
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		if obj == nil {
			continue
		}
		u := unstructured.Unstructured{Object: obj}
		if u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		objs = append(objs, obj)
		names = append(names, u.GetName())
	}
	if _, err := c.Apply(ctx, objs); err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	for _, name := range names {
		err := poll(ctx, 30*time.Second, func() (bool, error) {
			crd, err := crds.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, cond := range conds {
				m, _ := cond.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		}, "CRD "+name+" to be Established")
		if err != nil {
			return err
		}
	}
	return nil
}

// WaitAvailable waits until every named Deployment in namespace has rolled out its current
// template, is Available with all replicas ready and, under an HPA, runs at least the HPA's
// minimum (the HPA controller raises it from 1 even without metrics).
func (c *Cluster) WaitAvailable(ctx context.Context, namespace string, names []string, timeout time.Duration) error {
	pending := ""
	err := poll(ctx, timeout, func() (bool, error) {
		if err := c.exited(); err != nil {
			return false, err
		}
		hpas, err := c.Client.AutoscalingV2().HorizontalPodAutoscalers(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		minimum := map[string]int32{}
		for _, h := range hpas.Items {
			if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.MinReplicas != nil {
				minimum[h.Spec.ScaleTargetRef.Name] = *h.Spec.MinReplicas
			}
		}
		for _, name := range names {
			d, err := c.Client.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil || !RolledOut(d) || (d.Spec.Replicas != nil && *d.Spec.Replicas < minimum[name]) {
				pending = name
				return false, nil
			}
		}
		return true, nil
	}, "Deployments to be Available")
	if err != nil {
		return fmt.Errorf("%w (still waiting for %s/%s)", err, namespace, pending)
	}
	return nil
}

// WaitDaemonSetsReady waits until every named DaemonSet in namespace runs a ready, current
// pod on every node it is scheduled to (at least one).
func (c *Cluster) WaitDaemonSetsReady(ctx context.Context, namespace string, names []string, timeout time.Duration) error {
	pending := ""
	err := poll(ctx, timeout, func() (bool, error) {
		if err := c.exited(); err != nil {
			return false, err
		}
		for _, name := range names {
			d, err := c.Client.AppsV1().DaemonSets(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil || d.Status.ObservedGeneration < d.Generation || d.Status.DesiredNumberScheduled == 0 ||
				d.Status.NumberReady < d.Status.DesiredNumberScheduled || d.Status.UpdatedNumberScheduled < d.Status.DesiredNumberScheduled {
				pending = name
				return false, nil
			}
		}
		return true, nil
	}, "DaemonSets to be ready")
	if err != nil {
		return fmt.Errorf("%w (still waiting for %s/%s)", err, namespace, pending)
	}
	return nil
}

// RolledOut says whether a Deployment has its current template fully rolled out and is
// Available.
func RolledOut(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas < want ||
		d.Status.Replicas != d.Status.UpdatedReplicas || d.Status.AvailableReplicas < want {
		return false
	}
	for _, cond := range d.Status.Conditions {
		if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }

// PodNodes maps each app (label app.kubernetes.io/name) in namespace to the sorted nodes
// its scheduled, not-terminating pods run on.
func (c *Cluster) PodNodes(ctx context.Context, namespace string) (map[string][]string, error) {
	pods, err := c.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	sets := map[string]map[string]bool{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Spec.NodeName == "" {
			continue
		}
		app := p.Labels["app.kubernetes.io/name"]
		if sets[app] == nil {
			sets[app] = map[string]bool{}
		}
		sets[app][p.Spec.NodeName] = true
	}
	out := map[string][]string{}
	for app, nodes := range sets {
		for n := range nodes {
			out[app] = append(out[app], n)
		}
		sort.Strings(out[app])
	}
	return out, nil
}
