package day2

import (
	"context"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

func argoApp(ns, name, dest string, automated bool) *unstructured.Unstructured {
	spec := map[string]any{"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": dest}}
	if automated {
		spec["syncPolicy"] = map[string]any{"automated": map[string]any{"prune": true, "selfHeal": true}}
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"namespace": ns, "name": name}, "spec": spec}}
}

// The seeds' head office: the root App-of-Apps and the services' Applications, auto-sync on
// everywhere (after AWW's forgotten manual sync): each that deploys the site, or makes the
// Applications that do, stops the switch-over with the command that turns it off.
func TestMigrateCheckFindsArgoCDStillSyncing(t *testing.T) {
	site := siteOf(t, "xgen")
	kube := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{ArgoApplications: "ApplicationList"},
		argoApp("argocd", "xgen-root-dev", "argocd", true),
		argoApp("argocd", "xgen-core-dev", "xgen", true),
		argoApp("argocd", "xgen-core-prd", "xgen-prd", false), // auto-sync already off
		argoApp("argocd", "other-team", "elsewhere", true),    // not this site's
	)
	apps, err := argoApplications(context.Background(), kube, siteNamespaces(site))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range apps {
		names = append(names, a.Name)
	}
	if !slices.Equal(names, []string{"xgen-core-dev", "xgen-core-prd", "xgen-root-dev"}) {
		t.Errorf("applications %v", names)
	}
	r := &MigrateReport{Applications: apps, DataDir: "/srv/xgen-infra", DataDirState: "empty"}
	r.judge("192.0.2.11")
	problems := strings.Join(r.Problems, "\n")
	if len(r.Problems) != 2 || !strings.Contains(problems, "argocd/xgen-root-dev syncs argocd by itself") ||
		!strings.Contains(problems, "kubectl -n argocd patch application xgen-core-dev --type merge -p '{\"spec\":{\"syncPolicy\":{\"automated\":null}}}'") {
		t.Errorf("problems:\n%s", problems)
	}
	// A cluster without ArgoCD: nothing to stop.
	none, err := argoApplications(context.Background(), dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{ArgoApplications: "ApplicationList"}), siteNamespaces(site))
	if err != nil || len(none) != 0 {
		t.Errorf("no ArgoCD: %v %v", none, err)
	}
}

// The compose host's answer: a data directory that is not empty stops the switch-over;
// the old volumes are listed.
func TestMigrateCheckReadsTheComposeHost(t *testing.T) {
	for _, tc := range []struct {
		out, state string
		problem    bool
	}{
		{"data_dir absent\nvolume k3s-infra_postgre-data\n", "absent", false},
		{"data_dir empty\n", "empty", false},
		{"data_dir entries 3\nvolume k3s-infra_postgre-data\nvolume k3s-infra_redis-data\n", "entries 3", true},
		{"", "", false},
	} {
		r := &MigrateReport{DataDir: "/srv/xgen-infra"}
		readMigrateHost(r, tc.out)
		r.judge("192.0.2.11")
		if r.DataDirState != tc.state || (len(r.Problems) > 0) != tc.problem {
			t.Errorf("%q: state %q problems %v", tc.out, r.DataDirState, r.Problems)
		}
		if tc.problem && !strings.Contains(r.Problems[0], "mv /srv/xgen-infra /srv/xgen-infra.before-migration") {
			t.Errorf("the fix is missing: %v", r.Problems)
		}
		if strings.Contains(tc.out, "volume k3s-infra_postgre-data") && (len(r.OldVolumes) == 0 || r.OldVolumes[0] != "k3s-infra_postgre-data") {
			t.Errorf("old volumes %v", r.OldVolumes)
		}
	}
}
