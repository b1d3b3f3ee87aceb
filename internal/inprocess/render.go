package inprocess

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Object is one Kubernetes object a program registered.
type Object struct {
	APIVersion, Kind, Namespace, Name string
	// Body is the object as the provider receives it (secrets unwrapped).
	Body map[string]any
	// SecretPaths are the paths in Body that are Pulumi secrets.
	SecretPaths []string
	// Resource is the registration it came from.
	Resource Resource
}

// kindOrder is the order objects are applied in and listed: what others depend on first.
var kindOrder = []string{
	"CustomResourceDefinition", "Namespace", "Secret", "ConfigMap", "Service", "EndpointSlice",
	"Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Gateway", "VirtualService", "Ingress",
}

func kindRank(kind string) int {
	for i, k := range kindOrder {
		if k == kind {
			return i
		}
	}
	return len(kindOrder)
}

// KubernetesObjects returns every Kubernetes object the run registered, in apply order.
func (r *Recorder) KubernetesObjects() ([]Object, error) {
	var objs []Object
	for _, res := range r.Resources {
		if !res.Custom || !strings.HasPrefix(res.Type, "kubernetes:") {
			continue
		}
		body, secrets := res.PlainInputs()
		meta, _ := body["metadata"].(map[string]any)
		obj := Object{Body: body, SecretPaths: secrets, Resource: res}
		obj.APIVersion, _ = body["apiVersion"].(string)
		obj.Kind, _ = body["kind"].(string)
		obj.Name, _ = meta["name"].(string)
		obj.Namespace, _ = meta["namespace"].(string)
		if obj.APIVersion == "" || obj.Kind == "" || obj.Name == "" {
			return nil, fmt.Errorf("%s %s: Kubernetes object without apiVersion, kind or an explicit metadata.name", res.Type, res.Name)
		}
		objs = append(objs, obj)
	}
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if kindRank(a.Kind) != kindRank(b.Kind) {
			return kindRank(a.Kind) < kindRank(b.Kind)
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Kind < b.Kind // a ClusterRole and its binding share a name
	})
	return objs, nil
}

// File is the object's path under a stack's render folder.
func (o Object) File() string {
	ns := o.Namespace
	if ns == "" {
		ns = "_cluster"
	}
	return path.Join(ns, strings.ToLower(o.Kind)+"-"+o.Name+".yaml")
}

// YAML renders the object; secret values are listed in a leading comment.
func (o Object) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(o.Body); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	header := fmt.Sprintf("# %s %s (Pulumi resource %s)\n", o.Kind, o.Name, o.Resource.URN)
	if len(o.SecretPaths) > 0 {
		header += "# Pulumi secrets (placeholders here): " + strings.Join(o.SecretPaths, ", ") + "\n"
	}
	return append([]byte(header), out...), nil
}

// Tree lists every registered resource under its parent with the options that matter to
// an operator (timeouts, protect, retain), for reviewers.
func (r *Recorder) Tree() string {
	children := map[string][]Resource{}
	for _, res := range r.Resources {
		children[res.Parent] = append(children[res.Parent], res)
	}
	var roots []Resource
	for _, res := range r.Resources {
		if _, ok := r.ByURN(res.Parent); !ok {
			roots = append(roots, res)
		}
	}
	var b strings.Builder
	var walk func(list []Resource, depth int)
	walk = func(list []Resource, depth int) {
		sort.Slice(list, func(i, j int) bool {
			if list[i].Type != list[j].Type {
				return list[i].Type < list[j].Type
			}
			return list[i].Name < list[j].Name
		})
		for _, res := range list {
			var opts []string
			if res.Protect {
				opts = append(opts, "protect")
			}
			if res.RetainOnDelete {
				opts = append(opts, "retainOnDelete")
			}
			if res.DeleteBeforeReplace {
				opts = append(opts, "deleteBeforeReplace")
			}
			if res.CreateTimeout != "" || res.UpdateTimeout != "" || res.DeleteTimeout != "" {
				opts = append(opts, fmt.Sprintf("timeouts(create=%s update=%s delete=%s)", res.CreateTimeout, res.UpdateTimeout, res.DeleteTimeout))
			}
			if len(res.IgnoreChanges) > 0 {
				opts = append(opts, "ignoreChanges="+strings.Join(res.IgnoreChanges, ","))
			}
			if len(res.AdditionalSecretOutputs) > 0 {
				opts = append(opts, "secretOutputs="+strings.Join(res.AdditionalSecretOutputs, ","))
			}
			line := fmt.Sprintf("%s%s %s", strings.Repeat("  ", depth), res.Type, res.Name)
			if len(opts) > 0 {
				line += "  [" + strings.Join(opts, " ") + "]"
			}
			b.WriteString(line + "\n")
			walk(children[res.URN], depth+1)
		}
	}
	walk(roots, 0)
	return b.String()
}

// Get walks a plain object by map keys (string) and list indexes (int); nil when absent.
func Get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k < 0 || k >= len(a) {
				return nil
			}
			v = a[k]
		default:
			return nil
		}
	}
	return v
}
