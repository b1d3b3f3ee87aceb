package obsconfig

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Loki's and Tempo's own Go code is not ours to link (AGPL): these tests read the generated
// files back and check what each must say. The collector's log operators are run by its own
// library (stanza-check, TestRealCollectorLogOperators). The whole-site run starts them on
// the cluster.
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
		{"logs and the compose project's", CollectorArgs{Site: "xgen", Namespace: "obs", LokiOTLPURL: "http://loki.obs.svc:3100/otlp", ComposeProject: "xgen-infra"},
			[]string{"logs", "logs/compose"}, []string{"http://loki.obs.svc:3100/otlp", DockerLogsDir}},
		{"the compose project without logs", CollectorArgs{Site: "xgen", Namespace: "obs", TempoEndpoint: "tempo.obs.svc:4317", ComposeProject: "xgen-infra"},
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

// TestRealCollectorLogOperators runs the generated receivers' operators through the
// collector's own log library (stanza-check, built by `make tools` from the release of the
// collector image): a pod's CRI line gets its namespace, pod and container from its path; a
// compose service's Docker line gets its service and stream, and lines of any other
// container on the host are dropped.
func TestRealCollectorLogOperators(t *testing.T) {
	dir := os.Getenv("XGEN_TOOLS_DIR")
	if dir == "" {
		t.Skip("needs the tools `make tools` builds; `make test` sets XGEN_TOOLS_DIR")
	}
	bin := filepath.Join(dir, "bin", "stanza-check")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("stanza-check is not built (%v): `make tools` builds it", err)
	}
	text, err := CollectorConfig(CollectorArgs{Site: "xgen", Namespace: "obs", LokiOTLPURL: "http://loki.obs.svc:3100/otlp", ComposeProject: "xgen-infra"})
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		Timestamp  string         `json:"timestamp"`
		Body       any            `json:"body"`
		Attributes map[string]any `json:"attributes"`
		Resource   map[string]any `json:"resource"`
	}
	run := func(receiver string, lines ...map[string]any) []entry {
		var in bytes.Buffer
		for _, l := range lines {
			data, _ := json.Marshal(l)
			in.Write(append(data, '\n'))
		}
		cmd := exec.Command(bin, config, receiver)
		cmd.Stdin = &in
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("stanza-check %s: %v\n%s", receiver, err, stderr.String())
		}
		var entries []entry
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l == "" {
				continue
			}
			var e entry
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatal(err)
			}
			entries = append(entries, e)
		}
		return entries
	}

	// A pod's line, as the kubelet writes it under /var/log/pods.
	pods := run("filelog", map[string]any{
		"body":       "2026-12-04T17:00:01.123456789Z stdout F GET /health 200",
		"attributes": map[string]any{"log.file.path": PodLogsDir + "/xgen_xgen-core-7d9f-abcde_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/xgen-core/0.log"},
	})
	if len(pods) != 1 {
		t.Fatalf("pod lines out: %v", pods)
	}
	for k, v := range map[string]string{"k8s.namespace.name": "xgen", "k8s.pod.name": "xgen-core-7d9f-abcde", "k8s.container.name": "xgen-core"} {
		if pods[0].Resource[k] != v {
			t.Errorf("pod line: resource %s = %v, want %q (%+v)", k, pods[0].Resource[k], v, pods[0])
		}
	}
	if pods[0].Body != "GET /health 200" {
		t.Errorf("pod line body %q", pods[0].Body)
	}

	// The compose host's Docker lines: ours, another project's, a container without labels.
	docker := func(log, stream string, attrs map[string]string) map[string]any {
		line := map[string]any{"log": log, "stream": stream, "time": "2026-12-04T17:00:02.5Z"}
		if attrs != nil {
			line["attrs"] = attrs
		}
		data, _ := json.Marshal(line)
		return map[string]any{"body": string(data)}
	}
	compose := run("filelog/compose",
		docker("LOG:  database system is ready to accept connections\n", "stderr",
			map[string]string{"com.docker.compose.project": "xgen-infra", "com.docker.compose.service": "postgres"}),
		docker("listening\n", "stdout", map[string]string{"com.docker.compose.project": "other", "com.docker.compose.service": "web"}),
		docker("a container outside compose\n", "stdout", nil),
	)
	if len(compose) != 1 {
		t.Fatalf("compose lines out: %d, want only the project's one: %+v", len(compose), compose)
	}
	e := compose[0]
	if e.Resource["service.name"] != "postgres" || e.Attributes["log.iostream"] != "stderr" ||
		e.Body != "LOG:  database system is ready to accept connections\n" || !strings.HasPrefix(e.Timestamp, "2026-12-04T17:00:02.5") {
		t.Errorf("compose line: %+v", e)
	}
	if _, left := e.Attributes["attrs"]; left {
		t.Errorf("compose line keeps Docker's attrs: %+v", e.Attributes)
	}
}
