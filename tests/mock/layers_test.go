package mock

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"xgen-infra/internal/layers"
	"xgen-infra/internal/testkit/sitetest"
)

// globMatches is Pulumi's --target matching (pkg/resource/deploy UrnTargets): `**` matches
// anything, `*` anything but ':', the rest literally. The whole-site run proves it against
// the real engine.
func globMatches(pattern, urn string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == urn
	}
	segments := strings.Split(pattern, "**")
	for i, seg := range segments {
		parts := strings.Split(seg, "*")
		for j, p := range parts {
			parts[j] = regexp.QuoteMeta(p)
		}
		segments[i] = strings.Join(parts, "[^:]*")
	}
	return regexp.MustCompile("^" + strings.Join(segments, ".*") + "$").MatchString(urn)
}

// TestEveryResourceIsInALayer: every resource of every site belongs to exactly the layer it
// is run with (a component added without a layer fails here), and a layer's --target
// patterns select exactly its resources and the providers.
func TestEveryResourceIsInALayer(t *testing.T) {
	files, err := filepath.Glob("Pulumi.*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, stackFile := range files {
		t.Run(sitetest.StackName(stackFile), func(t *testing.T) {
			rec, err := sitetest.RunStack(stackFile, nil)
			if err != nil {
				t.Fatal(err)
			}
			site := sitetest.SiteOf(t, stackFile)
			if err != nil {
				t.Fatal(err)
			}
			var urns []string
			for _, r := range rec.Resources {
				urns = append(urns, r.URN)
			}
			perLayer := map[layers.Layer]int{}
			for _, r := range rec.Resources {
				l := layers.Of(r.URN, site)
				shared := r.Type == "pulumi:pulumi:Stack" || strings.HasPrefix(r.Type, "pulumi:providers:")
				if (l == "") != shared {
					t.Errorf("%s is in layer %q", r.URN, l)
				}
				perLayer[l]++
				for _, other := range layers.All {
					selected := slices.ContainsFunc(layers.Targets(sitetest.StackName(stackFile), "xgen-infra", other, site, urns, true),
						func(p string) bool { return globMatches(p, r.URN) })
					if want := other == l || strings.HasPrefix(r.Type, "pulumi:providers:"); selected != want {
						t.Errorf("layer %s's targets select %s: %v, want %v", other, r.URN, selected, want)
					}
				}
			}
			for _, l := range layers.Configured(site) {
				if perLayer[l] == 0 {
					t.Errorf("layer %s is configured and has no resource", l)
				}
			}
			t.Logf("%v", perLayer)
		})
	}
}

// TestLayerOfWhatOperatorsKnow: the resources an operator thinks of by layer are there.
func TestLayerOfWhatOperatorsKnow(t *testing.T) {
	rec, err := sitetest.RunStack("Pulumi.xgen.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	site := sitetest.SiteOf(t, "Pulumi.xgen.yaml")
	// By type and name (names repeat across types: the site's namespace and its Gateway).
	want := map[[2]string]layers.Layer{
		{"command:remote:Command", "install-xgen-gpu-1"}:              layers.Hosts,
		{"command:remote:Command", "infra-up"}:                        layers.Infra,
		{"kubernetes:core/v1:Service", "postgresql"}:                  layers.Infra, // the host Service
		{"kubernetes:core/v1:Namespace", "xgen-system"}:               layers.Infra,
		{"kubernetes:apps/v1:Deployment", "observability-prometheus"}: layers.Addons,
		{"kubernetes:apps/v1:Deployment", "xgen-core"}:                layers.Apps,
		{"xgen:index:NetworkPolicies", "network-policies"}:            layers.Apps,
		{"xgen:index:SiteSecrets", "site-secrets"}:                    layers.Apps,
		{"kubernetes:core/v1:Namespace", "xgen"}:                      layers.Apps,
		{"kubernetes:networking.istio.io/v1:VirtualService", "xgen"}:  layers.Ingress,
		{"kubernetes:networking.istio.io/v1:Gateway", "xgen-gateway"}: layers.Ingress,
	}
	found := map[[2]string]bool{}
	for _, r := range rec.Resources {
		key := [2]string{r.Type, r.Name}
		if l, ok := want[key]; ok {
			found[key] = true
			if got := layers.Of(r.URN, site); got != l {
				t.Errorf("%s %s is in layer %q, want %s", r.Type, r.Name, got, l)
			}
		}
	}
	for key := range want {
		if !found[key] {
			t.Errorf("no %s %s in xgen", key[0], key[1])
		}
	}
}

// TestLayerRunRefusesUndeployedDependencies: apps need hosts and infra deployed; a site
// without a cluster or compose needs neither.
func TestLayerRunRefusesUndeployedDependencies(t *testing.T) {
	site := sitetest.SiteOf(t, "Pulumi.xgen-jeju.yaml")
	const p = "urn:pulumi:xgen-jeju::xgen-infra::"
	hosts := p + "xgen:index:K3sCluster::k3s"
	infra := p + "xgen:index:InfraCompose::infra"
	cases := []struct {
		layer layers.Layer
		urns  []string
		want  []layers.Layer
	}{
		{layers.Apps, nil, []layers.Layer{layers.Hosts, layers.Infra}},
		{layers.Apps, []string{hosts}, []layers.Layer{layers.Infra}},
		{layers.Apps, []string{hosts, infra}, nil},
		{layers.Hosts, nil, nil},
		{layers.Infra, []string{hosts}, nil},
	}
	for _, tc := range cases {
		if got := layers.Missing(tc.layer, site, tc.urns); !slices.Equal(got, tc.want) {
			t.Errorf("%s with %d resources deployed: missing %v, want %v", tc.layer, len(tc.urns), got, tc.want)
		}
	}
	aww := sitetest.SiteOf(t, "Pulumi.xgen-aww.yaml")
	// EKS, external databases: no hosts; the infra layer is its S3 bucket and key.
	if got := layers.Missing(layers.Apps, aww, nil); !slices.Equal(got, []layers.Layer{layers.Infra}) {
		t.Errorf("xgen-aww: apps need %v, want [infra] (the S3 bucket the secrets carry the key of)", got)
	}
}
