package sites

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Config precedence, lowest first. A key set in a later layer wins. Secrets are last and
// are never written to a ConfigMap: the pod gets them from the Secret `xgen-secrets`,
// mounted after the ConfigMap so that Kubernetes, too, lets the Secret win.
const (
	LayerGlobal      = "global"       // catalog global.config plus derived infra and service URLs (and, with traces, OTEL_*)
	LayerService     = "service"      // catalog services.<name>.config
	LayerEnvironment = "environment"  // catalog services.<name>.environments.<env>.config
	LayerSiteVars    = "site vars"    // stack config site.vars (every service)
	LayerSiteService = "site service" // stack config site.services.<name>.config (one service)
	LayerSecret      = "secret"       // secret stack config keys (SecretKeys)
)

// Precedence lists the layers in the order they are applied.
var Precedence = []string{LayerGlobal, LayerService, LayerEnvironment, LayerSiteVars, LayerSiteService, LayerSecret}

// ConfigLayer is one level of the precedence chain.
type ConfigLayer struct {
	Name   string
	Values map[string]string
}

// MergeConfig applies layers in Precedence order and returns the ConfigMap data (keys a
// secret layer provides are left out: the Secret supplies them) and, for every key of
// the effective environment, the layer it came from.
func MergeConfig(layers []ConfigLayer) (configMap map[string]string, source map[string]string, err error) {
	rank := map[string]int{}
	for i, name := range Precedence {
		rank[name] = i
	}
	sorted := append([]ConfigLayer(nil), layers...)
	for _, l := range sorted {
		if _, ok := rank[l.Name]; !ok {
			return nil, nil, fmt.Errorf("unknown config layer %q", l.Name)
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return rank[sorted[i].Name] < rank[sorted[j].Name] })

	configMap, source = map[string]string{}, map[string]string{}
	for _, l := range sorted {
		for k, v := range l.Values {
			source[k] = l.Name
			if l.Name == LayerSecret {
				delete(configMap, k)
				continue
			}
			configMap[k] = v
		}
	}
	return configMap, source, nil
}

// mergeSpecs overlays service specs, lowest first: a field set in a later spec wins and
// nested objects (resources.limits, probes.liveness, ...) merge field by field.
func mergeSpecs(layers ...ServiceSpec) (ServiceSpec, error) {
	merged := map[string]any{}
	for _, l := range layers {
		data, err := json.Marshal(l)
		if err != nil {
			return ServiceSpec{}, err
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return ServiceSpec{}, err
		}
		deepMerge(merged, m)
	}
	data, err := json.Marshal(merged)
	if err != nil {
		return ServiceSpec{}, err
	}
	var out ServiceSpec
	return out, json.Unmarshal(data, &out)
}

func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		sub, isMap := v.(map[string]any)
		cur, curIsMap := dst[k].(map[string]any)
		if isMap && curIsMap {
			deepMerge(cur, sub)
			continue
		}
		dst[k] = v
	}
}
