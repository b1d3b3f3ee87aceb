package mock

// Every key the site decoder accepts, on every site shape: set to a value the program
// accepts, it must change what the program registers (or produce a warning); a key that is
// accepted and changes nothing is silently dropped on that shape — docs/configuration.md says an ignored
// setting is an error. Keys found by reflection over sites.Config (every JSON field, maps by
// one representative key), so a new key is walked without touching this test.

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/sites"
)

// siteShapes are the ways a site is reached, each a stack file and an edit.
var siteShapes = []struct {
	name, stackFile string
	edit            func(site map[string]any)
}{
	{"own gateway", "Pulumi.xgen.yaml", nil},
	{"shared gateway", "Pulumi.xgen-aww.yaml", nil},
	{"no domain", "Pulumi.xgen-jeju.yaml", nil},
	{"traefik", "Pulumi.lotteimall.yaml", func(s map[string]any) {
		s["ingress"] = map[string]any{"type": "traefik"}
	}},
	{"none", "Pulumi.xgen-jeju.yaml", func(s map[string]any) { s["ingress"] = map[string]any{"type": "none"} }},
}

// mapKeys are the representative keys of the config's maps, by the map's path.
var mapKeys = map[string]string{
	"environments": "", // the site's own environment, filled in per shape
	"vars":         "XGEN_WALK", "services": "xgen-core", "config": "XGEN_WALK",
	"nodeSelector": "walk.example.com/pool", "gatewaySelector": "walk.example.com/gw", "labels": "walk.example.com/role",
	"services.xgen-core.resources.requests": "cpu", "services.xgen-core.resources.limits": "cpu",
}

// keyPath is a key's segments (a map key may hold dots: a label key).
type keyPath []string

func (p keyPath) String() string { return strings.Join(p, ".") }

// configPaths lists every leaf key path of t (JSON names); a map contributes its
// representative key, a slice is a leaf.
func configPaths(t reflect.Type, prefix keyPath, env string) []keyPath {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []keyPath
	switch t.Kind() {
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			out = append(out, configPaths(f.Type, append(slices.Clone(prefix), name), env)...)
		}
	case reflect.Map:
		last := prefix[len(prefix)-1]
		key, ok := mapKeys[prefix.String()]
		if !ok {
			key = mapKeys[last]
		}
		if last == "environments" {
			key = env
		}
		if key == "" {
			return []keyPath{prefix}
		}
		return configPaths(t.Elem(), append(slices.Clone(prefix), key), env)
	default:
		out = append(out, prefix)
	}
	return out
}

// walkValues are the values tried for a key, in order, until the program accepts one:
// the key's own (by its last segment) first, then by kind.
var walkValues = map[string][]any{
	"environment":   {"dev", "stg"},
	"domain":        {"walk.example.com"},
	"registry":      {"walk.example.com:5000"},
	"pullPolicy":    {"Always", "IfNotPresent"},
	"type":          {"istio", "traefik", "none"},
	"exposeType":    {"LoadBalancer", "NodePort"},
	"memory":        {"777Mi"},
	"cpu":           {"777m"},
	"memoryLimit":   {"777m", "777M"},
	"maxMemory":     {"777mb"},
	"sharedGateway": {"istio-system/walk-gateway"},
	"time":          {"04:17"},
	"version":       {"v1.31.5+k3s1"},
	"install":       {"airgapped", "online"},
	"sshUser":       {"walker"},
	"user":          {"walker"},
	"host":          {"walk.example.com", "192.0.2.77"},
	"address":       {"192.0.2.77"},
	"hostAddress":   {"192.0.2.77"},
	"bindAddress":   {"0.0.0.0"},
	"endpoint":      {"http://192.0.2.77:9000", "https://s3.walk.example.com"},
	"apiEndpoint":   {"192.0.2.77:6443"},
	"clusterCIDR":   {"10.77.0.0/16"},
	"serviceCIDR":   {"10.78.0.0/16"},
	"path":          {"/walk"},
	"dataDir":       {"/srv/walk"},
	"dir":           {"/srv/walk-backups"},
	"tag":           {"walk-1"},
	"image":         {"walk.example.com/walk:1"},
	"initImage":     {"walk.example.com/walk-init:1"},
}

func candidates(path keyPath, kind reflect.Kind) []any {
	last := path[len(path)-1]
	out := slices.Clone(walkValues[last])
	switch kind {
	case reflect.Bool:
		out = append(out, true, false)
	case reflect.Int, reflect.Int32, reflect.Int64:
		out = append(out, 3, 30001, 17, 1)
	case reflect.String:
		out = append(out, "walk", "7m", "45s", "7", "walk.example.com", "192.0.2.77", "/walk")
	case reflect.Slice:
		out = append(out, []any{"walk.example.com"}, []any{"/walk"}, []any{"192.0.2.77"}, []any{"walk=true:NoSchedule"})
	}
	return out
}

// kindAt is the Go kind of the field at path in sites.Config.
func kindAt(path keyPath) reflect.Kind {
	t := reflect.TypeOf(sites.Config{})
	for _, seg := range path {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() == reflect.Map {
			t = t.Elem()
			continue
		}
		found := false
		for i := 0; i < t.NumField(); i++ {
			if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name == seg {
				t, found = t.Field(i).Type, true
				break
			}
		}
		if !found {
			return reflect.Invalid
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind()
}

// setAt sets path in a decoded site object, making the objects on the way.
func setAt(site map[string]any, segs keyPath, value any) {
	m := site
	for _, seg := range segs[:len(segs)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
	m[segs[len(segs)-1]] = value
}

// keysWithoutEffect are keys that are accepted on a shape and legitimately change nothing
// the program registers, with why. Anything else that changes nothing is a dropped setting.
var keysWithoutEffect = map[string]string{
	"image.preflight": "a check before anything is registered: it changes what is verified, not what is deployed",
}

func TestEveryKeyHasAnEffectOnEveryShape(t *testing.T) {
	type outcome struct{ shape, path, result string }
	var (
		mu       sync.Mutex
		dropped  []outcome
		untested []outcome
	)
	for _, shape := range siteShapes {
		config, secretKeys, err := inprocess.LoadStackFile(shape.stackFile)
		if err != nil {
			t.Fatal(err)
		}
		var base map[string]any
		if err := json.Unmarshal([]byte(config[sites.SiteKey]), &base); err != nil {
			t.Fatal(err)
		}
		if shape.edit != nil {
			shape.edit(base)
		}
		env, _ := base["environment"].(string)
		if env == "" {
			env = "prd"
		}
		render := func(site map[string]any) (map[string]string, string, error) {
			cfg := map[string]string{}
			for k, v := range config {
				cfg[k] = v
			}
			data, _ := json.Marshal(site)
			cfg[sites.SiteKey] = string(data)
			withSecrets, keys := withPlaceholders(cfg, secretKeys)
			parsed, err := sites.Parse(sitetest.StackName(shape.stackFile), withSecrets, keys)
			if err != nil {
				return nil, "", err
			}
			rec, err := sitetest.RunWithSecrets(sitetest.StackName(shape.stackFile), cfg, slices.Clone(secretKeys))
			if err != nil {
				return nil, "", err
			}
			resolved, _ := json.Marshal(parsed.Config)
			return sitetest.Registered(rec), strings.Join(parsed.Warnings, "\n") + "\n" + string(resolved), nil
		}
		baseFiles, baseResolved, err := render(base)
		if err != nil {
			t.Fatalf("%s: %v", shape.name, err)
		}
		for _, path := range configPaths(reflect.TypeOf(sites.Config{}), nil, env) {
			func() { // one at a time: runs of the program under the mock engine share state
				kind := kindAt(path)
				var firstErr error
				var accepted []string
				for _, v := range candidates(path, kind) {
					site := sitetest.DeepCopy(t, base)
					setAt(site, path, v)
					if reflect.DeepEqual(site, base) {
						continue
					}
					files, resolved, err := render(site)
					if err != nil {
						if firstErr == nil {
							firstErr = err
						}
						continue
					}
					if !reflect.DeepEqual(files, baseFiles) {
						return // it has an effect
					}
					// Evidence of a dropped setting: a value that is not the default (the resolved
					// config differs), no warning either, and not false (an explicit false where
					// nothing was set is the default of a switch that is off).
					if resolved != baseResolved && v != false {
						accepted = append(accepted, fmt.Sprint(v))
					}
				}
				mu.Lock()
				defer mu.Unlock()
				switch _, exempt := keysWithoutEffect[path.String()]; {
				case exempt:
				case len(accepted) > 0:
					dropped = append(dropped, outcome{shape.name, path.String(), strings.Join(accepted, ", ")})
				default:
					untested = append(untested, outcome{shape.name, path.String(), fmt.Sprint(firstErr)})
				}
			}()
		}
	}
	sort.Slice(dropped, func(i, j int) bool { return dropped[i].path+dropped[i].shape < dropped[j].path+dropped[j].shape })
	for _, d := range dropped {
		t.Errorf("%s: site.%s is accepted and changes nothing (tried %s)", d.shape, d.path, d.result)
	}
	for _, u := range untested {
		t.Logf("%s: site.%s: no value accepted (%s)", u.shape, u.path, firstLine(u.result))
	}
}

func firstLine(s string) string { line, _, _ := strings.Cut(s, "\n"); return line }

// withPlaceholders is config with a placeholder for every secret the site needs, and the
// secret keys then.
func withPlaceholders(config map[string]string, secretKeys []string) (map[string]string, []string) {
	out := map[string]string{}
	for k, v := range config {
		out[k] = v
	}
	keys, err := inprocess.AddRequiredSecretPlaceholders(out, slices.Clone(secretKeys))
	if err != nil {
		return out, secretKeys
	}
	return out, keys
}
