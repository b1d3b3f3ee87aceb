package obsconfig

// A real Prometheus (built from the served module by `make tools`, TEST-ONLY) runs our
// generated configuration and scrapes a real metrics endpoint: the relabelling gives the
// series the site and service labels, a pod on another port is dropped, and our rules load.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gopkg.in/yaml.v3"
)

func prometheusBinary(t *testing.T) string { return toolBinary(t, "prometheus") }

// toolBinary is a test-only tool `make tools` builds into $XGEN_TOOLS_DIR/bin.
func toolBinary(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("XGEN_TOOLS_DIR")
	if dir == "" {
		t.Skip("needs the tools `make tools` builds; `make test` sets XGEN_TOOLS_DIR")
	}
	bin := filepath.Join(dir, "bin", name)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is not built (%v): `make tools` builds it", name, err)
	}
	return bin
}

func TestRealPrometheusScrapesThroughGeneratedConfig(t *testing.T) {
	bin := prometheusBinary(t)
	dir := t.TempDir()

	// A service's real metrics endpoint (client_golang's exposition, as a Python or Rust
	// client library would serve).
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounter(prometheus.CounterOpts{Name: "xgen_http_requests_total", Help: "requests"})
	reg.MustRegister(requests)
	requests.Add(42)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	svc := httptest.NewServer(mux)
	defer svc.Close()
	target := svc.Listener.Addr().String()
	// The compose project's PostgreSQL exporter, as its /metrics answers (pg_up).
	pgReg := prometheus.NewRegistry()
	pgUp := prometheus.NewGauge(prometheus.GaugeOpts{Name: "pg_up", Help: "whether the last scrape could query PostgreSQL"})
	pgReg.MustRegister(pgUp)
	pgUp.Set(1)
	pgMux := http.NewServeMux()
	pgMux.Handle("/metrics", promhttp.HandlerFor(pgReg, promhttp.HandlerOpts{}))
	pgExporter := httptest.NewServer(pgMux)
	defer pgExporter.Close()

	text, err := PrometheusConfig(PrometheusArgs{Site: "xgen", Namespace: "xgen-observability", Services: []Target{
		{Service: "xgen-core", Namespace: "xgen", Port: 8000, Path: "/metrics"},
	}, Exporters: []Probe{{Name: "postgres", Address: pgExporter.Listener.Addr().String()}}})
	if err != nil {
		t.Fatal(err)
	}
	// Pod discovery needs an API server; here the same labels come from a file, exactly as
	// Kubernetes' pod discovery sets them: the relabelling under test is unchanged. A second
	// "pod" is the service on another container port, and a third another service: both
	// must be dropped.
	pod := func(name, port string) map[string]any {
		return map[string]any{"targets": []string{target}, "labels": map[string]string{
			"__meta_kubernetes_namespace":                        "xgen",
			"__meta_kubernetes_pod_name":                         "xgen-core-7d9f-" + port,
			"__meta_kubernetes_pod_node_name":                    "node-1",
			"__meta_kubernetes_pod_phase":                        "Running",
			"__meta_kubernetes_pod_label_app_kubernetes_io_name": name,
			"__meta_kubernetes_pod_container_port_number":        port,
		}}
	}
	targets, _ := json.Marshal([]any{pod("xgen-core", "8000"), pod("xgen-core", "9090"), pod("xgen-workflow", "8000")})
	targetsFile := filepath.Join(dir, "xgen-core.json")
	if err := os.WriteFile(targetsFile, targets, 0o600); err != nil {
		t.Fatal(err)
	}
	rulesDir := filepath.Join(dir, "rules")
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rulesDir, "xgen.yaml"), []byte(Rules), 0o600); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["rule_files"] = []string{rulesDir + "/*.yaml"}
	cfg["global"].(map[string]any)["scrape_interval"] = "1s"
	var jobs []any
	for _, j := range cfg["scrape_configs"].([]any) {
		job := j.(map[string]any)
		if job["job_name"] == "infra-exporters" { // static: runs as generated
			jobs = append(jobs, job)
			continue
		}
		if job["job_name"] != "xgen-core" {
			continue // the in-cluster exporters' and kubelets' jobs need a cluster
		}
		delete(job, "kubernetes_sd_configs")
		job["file_sd_configs"] = []any{map[string]any{"files": []string{targetsFile}}}
		jobs = append(jobs, job)
	}
	cfg["scrape_configs"] = jobs
	out, _ := yaml.Marshal(cfg)
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, out, 0o600); err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config.file="+configFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	logFile, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(logFile.Name())
			t.Logf("prometheus log:\n%s", log)
		}
	}()

	api := func(path string, v any) error {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", path, resp.Status)
		}
		return json.NewDecoder(resp.Body).Decode(v)
	}
	type sample struct {
		Metric map[string]string `json:"metric"`
		Value  []any             `json:"value"`
	}
	var series []sample
	deadline := time.Now().Add(90 * time.Second)
	for {
		var r struct {
			Data struct {
				Result []sample `json:"result"`
			} `json:"data"`
		}
		err := api("/api/v1/query?query="+url.QueryEscape(`xgen_http_requests_total`), &r)
		if err == nil && len(r.Data.Result) > 0 {
			series = r.Data.Result
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no series scraped in 90 s (last error: %v)", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(series) != 1 {
		t.Fatalf("%d series, want 1 (the other port and the other service dropped): %v", len(series), series)
	}
	want := map[string]string{"site": "xgen", "service": "xgen-core", "node": "node-1", "pod": "xgen-core-7d9f-8000",
		"namespace": "xgen", "job": "xgen-core", "instance": target}
	for k, v := range want {
		if series[0].Metric[k] != v {
			t.Errorf("label %s = %q, want %q (series %v)", k, series[0].Metric[k], v, series[0].Metric)
		}
	}
	if fmt.Sprint(series[0].Value[1]) != "42" {
		t.Errorf("value %v, want 42", series[0].Value)
	}
	for k := range series[0].Metric {
		if len(k) > 1 && k[:2] == "__" && k != "__name__" {
			t.Errorf("meta label %s kept", k)
		}
	}

	var targetsResp struct {
		Data struct {
			Active  []any `json:"activeTargets"`
			Dropped []any `json:"droppedTargets"`
		} `json:"data"`
	}
	if err := api("/api/v1/targets", &targetsResp); err != nil {
		t.Fatal(err)
	}
	if len(targetsResp.Data.Active) != 2 || len(targetsResp.Data.Dropped) != 2 {
		t.Errorf("targets: %d active, %d dropped; want 2 (the service, the exporter) and 2", len(targetsResp.Data.Active), len(targetsResp.Data.Dropped))
	}
	// The exporter's series carry the site and which infra they are about.
	var pg struct {
		Data struct {
			Result []sample `json:"result"`
		} `json:"data"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		err := api("/api/v1/query?query="+url.QueryEscape(`pg_up`), &pg)
		if err == nil && len(pg.Data.Result) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pg_up: %v (%v)", pg.Data.Result, err)
		}
	}
	for k, v := range map[string]string{"site": "xgen", "infra": "postgres", "job": "infra-exporters"} {
		if got := pg.Data.Result[0].Metric[k]; got != v {
			t.Errorf("pg_up label %s = %q, want %q", k, got, v)
		}
	}
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name string `json:"name"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := api("/api/v1/rules", &rules); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Name)
		}
	}
	if want := strings.Count(Rules, "- alert:"); len(names) != want || want < 11 {
		t.Errorf("Prometheus loaded rules %v, want our %d alerts", names, want)
	}
}
