package observability

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Loki's, Tempo's and the collector's own Go code is not ours to link (Loki and Tempo are
// AGPL; the collector's configuration is checked by its components at start): these tests
// read the generated files back and check what each must say. The whole-site run starts
// them on the cluster.
func TestLokiAndTempoConfigs(t *testing.T) {
	loki, err := LokiConfig("7d")
	if err != nil {
		t.Fatal(err)
	}
	var l map[string]any
	if err := yaml.Unmarshal([]byte(loki), &l); err != nil {
		t.Fatal(err)
	}
	limits := l["limits_config"].(map[string]any)
	if limits["retention_period"] != "7d" || l["compactor"].(map[string]any)["retention_enabled"] != true {
		t.Errorf("loki retention: %v %v", limits, l["compactor"])
	}
	if !strings.Contains(loki, "index_label") || !strings.Contains(loki, "- site") || !strings.Contains(loki, "k8s.node.name") {
		t.Errorf("loki does not index site and node:\n%s", loki)
	}
	if l["auth_enabled"] != false || l["analytics"].(map[string]any)["reporting_enabled"] != false {
		t.Error("loki: single tenant, no usage reports (closed networks)")
	}
	tempo, err := TempoConfig("72h")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tempo, "block_retention: 72h") || !strings.Contains(tempo, "0.0.0.0:4317") || !strings.Contains(tempo, "reporting_enabled: false") {
		t.Errorf("tempo config:\n%s", tempo)
	}
	for _, bad := range []func() (string, error){func() (string, error) { return LokiConfig("") }, func() (string, error) { return TempoConfig("") }} {
		if _, err := bad(); err == nil {
			t.Error("a config without retention was built")
		}
	}
}

func TestCollectorConfig(t *testing.T) {
	cases := []struct {
		name             string
		args             CollectorArgs
		pipelines        []string
		exportersContain []string
	}{
		{"logs and traces", CollectorArgs{Site: "xgen", Namespace: "obs", LokiOTLPURL: "http://loki.obs.svc:3100/otlp", TempoEndpoint: "tempo.obs.svc:4317"},
			[]string{"logs", "traces"}, []string{"http://loki.obs.svc:3100/otlp", "tempo.obs.svc:4317"}},
		{"logs only", CollectorArgs{Site: "xgen", Namespace: "obs", LokiOTLPURL: "http://loki.monitoring:3100/otlp"},
			[]string{"logs"}, []string{"http://loki.monitoring:3100/otlp"}},
		{"traces only", CollectorArgs{Site: "xgen", Namespace: "obs", TempoEndpoint: "tempo.obs.svc:4317"},
			[]string{"traces"}, []string{"tempo.obs.svc:4317"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text, err := CollectorConfig(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				Receivers  map[string]any `yaml:"receivers"`
				Processors map[string]any `yaml:"processors"`
				Exporters  map[string]any `yaml:"exporters"`
				Service    struct {
					Pipelines map[string]struct {
						Receivers, Processors, Exporters []string
					} `yaml:"pipelines"`
				} `yaml:"service"`
			}
			if err := yaml.Unmarshal([]byte(text), &c); err != nil {
				t.Fatal(err)
			}
			var got []string
			for name, p := range c.Service.Pipelines {
				got = append(got, name)
				// Every component a pipeline names is defined (what the collector checks
				// first at start).
				for _, r := range p.Receivers {
					if c.Receivers[r] == nil {
						t.Errorf("%s: receiver %s undefined", name, r)
					}
				}
				for _, pr := range p.Processors {
					if _, ok := c.Processors[pr]; !ok {
						t.Errorf("%s: processor %s undefined", name, pr)
					}
				}
				for _, e := range p.Exporters {
					if c.Exporters[e] == nil {
						t.Errorf("%s: exporter %s undefined", name, e)
					}
				}
				if p.Processors[0] != "memory_limiter" || p.Processors[len(p.Processors)-1] != "batch" {
					t.Errorf("%s: processors %v: memory_limiter first, batch last", name, p.Processors)
				}
			}
			if strings.Join(sorted(got), ",") != strings.Join(tc.pipelines, ",") {
				t.Errorf("pipelines %v, want %v", got, tc.pipelines)
			}
			for _, want := range tc.exportersContain {
				if !strings.Contains(text, want) {
					t.Errorf("config does not send to %s", want)
				}
			}
			if strings.Contains(text, "filelog") && !strings.Contains(text, "/var/log/pods/obs_*/*/*.log") {
				t.Error("the collector ships its own namespace's logs (a loop)")
			}
			if !strings.Contains(text, "value: xgen") {
				t.Error("no site attribute")
			}
		})
	}
	if _, err := CollectorConfig(CollectorArgs{Site: "xgen", Namespace: "obs"}); err == nil {
		t.Error("a collector with nowhere to send was configured")
	}
}
