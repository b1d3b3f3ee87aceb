package helmrender

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"xgen-infra/internal/inprocess"
	"xgen-infra/sites"

	"sigs.k8s.io/yaml"
)

// What the program's recorded helm/v4 Chart resources create, rendered here (the mock engine
// records a Chart's inputs; Helm's Go library renders them as the provider would).

// ChartRelease is what one recorded helm/v4 Chart resource creates, rendered by Helm's Go
// library from the same chart, values and namespace.
type ChartRelease struct {
	Release, Namespace string
	Objects            []map[string]any
}

// RecordedReleases renders every kubernetes:helm.sh/v4:Chart the program registered, in
// registration order. A chart from a repository is rendered from the pinned Istio module's
// charts (no repository is reachable here); a local chart directory as it is.
func RecordedReleases(t testing.TB, rec *inprocess.Recorder) []ChartRelease {
	t.Helper()
	var out []ChartRelease
	for _, res := range rec.Resources {
		if res.Type != "kubernetes:helm.sh/v4:Chart" {
			continue
		}
		in, _ := res.PlainInputs()
		release, _ := in["name"].(string)
		namespace, _ := in["namespace"].(string)
		chart, _ := in["chart"].(string)
		values, _ := in["values"].(map[string]any)
		if repo, _ := inprocess.Get(in, "repositoryOpts", "repo").(string); repo != "" {
			dir, err := IstioChartsDir()
			if err != nil {
				t.Fatal(err)
			}
			rel, ok := sites.IstioChartDirs[release]
			if !ok {
				t.Fatalf("chart %s from %s: no local copy for tests", chart, repo)
			}
			chart = filepath.Join(dir, rel)
		}
		objs, err := Render(chart, release, namespace, values)
		if err != nil {
			t.Fatalf("%s: %v", res.Name, err)
		}
		out = append(out, ChartRelease{Release: release, Namespace: namespace, Objects: objs})
	}
	return out
}

// RenderRecorded adds the charts' objects under _addons/<release>/: one file per object;
// CRDs (a megabyte of Istio's schemas) as their names and a digest of their content.
func RenderRecorded(t testing.TB, rec *inprocess.Recorder, files map[string][]byte) {
	t.Helper()
	for _, cr := range RecordedReleases(t, rec) {
		var crds []string
		for _, obj := range cr.Objects {
			kind, _ := obj["kind"].(string)
			name, _ := inprocess.Get(obj, "metadata", "name").(string)
			y, err := yaml.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			if kind == "CustomResourceDefinition" {
				crds = append(crds, fmt.Sprintf("%s sha256:%x", name, sha256.Sum256(y)))
				continue
			}
			file := fmt.Sprintf("_addons/%s/%s-%s.yaml", cr.Release, strings.ToLower(kind), name)
			if _, dup := files[file]; dup {
				t.Fatalf("two objects render to %s", file)
			}
			files[file] = y
		}
		if len(crds) > 0 {
			files["_addons/"+cr.Release+"/crds.txt"] = []byte(strings.Join(crds, "\n") + "\n")
		}
	}
}
