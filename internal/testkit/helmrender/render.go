// Package helmrender renders a chart with Helm's Go library, as `helm template` does: the
// tests apply what a helm/v4 Chart resource would create, since under the mock monitor such
// a resource has no children. Test-only: never linked into the program.
package helmrender

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// clusterScoped are the kinds a chart may leave without a namespace on purpose; every other
// object gets the release namespace, as the provider gives it.
var clusterScoped = map[string]bool{
	"CustomResourceDefinition": true, "ClusterRole": true, "ClusterRoleBinding": true, "Namespace": true,
	"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
	"PriorityClass": true, "StorageClass": true, "IngressClass": true,
}

// Render renders the chart in chartDir as release in namespace with values and returns its
// objects in Helm's install order (CRDs first), hooks left out.
func Render(chartDir, release, namespace string, values map[string]any) ([]map[string]any, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", chartDir, err)
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.IncludeCRDs = true
	install.ReleaseName = release
	install.Namespace = namespace
	install.DisableHooks = true
	if err := chartutil.ValidateReleaseName(release); err != nil {
		return nil, err
	}
	rel, err := install.Run(ch, values)
	if err != nil {
		return nil, fmt.Errorf("render %s (%s): %w", release, chartDir, err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(rel.Manifest)), 4096)
	var out []map[string]any
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("render %s: %w", release, err)
		}
		if len(obj) == 0 {
			continue
		}
		kind, _ := obj["kind"].(string)
		meta, _ := obj["metadata"].(map[string]any)
		if meta == nil {
			return nil, fmt.Errorf("render %s: a %s without metadata", release, kind)
		}
		if _, ok := meta["namespace"]; !ok && !clusterScoped[kind] {
			meta["namespace"] = namespace
		}
		out = append(out, obj)
	}
	return out, nil
}
