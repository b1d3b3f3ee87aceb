package obsconfig

// A real Alertmanager (built from the served module by `make tools`, TEST-ONLY) loads our
// generated configuration with its own loader (amtool check-config), and, fed by a real
// Prometheus running our rules, delivers an OOM kill from a real series to a webhook with the
// site and service labels.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

func alertmanagerArgs(webhook bool, email *Email) AlertmanagerArgs {
	return AlertmanagerArgs{Webhook: webhook, Email: email,
		GroupWait: model.Duration(30 * time.Second), GroupInterval: model.Duration(5 * time.Minute), RepeatInterval: model.Duration(4 * time.Hour)}
}

// Every receiver shape loads in Alertmanager's own loader; a broken file does not (the check is real).
func TestAlertmanagerConfigLoadsInAlertmanager(t *testing.T) {
	amtool := toolBinary(t, "amtool")
	email := &Email{To: []string{"ops@example.com", "oncall@example.com"}, From: "xgen@example.com", Smarthost: "smtp.example.com:587", Username: "xgen@example.com", RequireTLS: true}
	cases := []struct {
		name string
		args AlertmanagerArgs
		want []string
	}{
		{"no receiver", alertmanagerArgs(false, nil), []string{"receiver: site"}},
		{"webhook", alertmanagerArgs(true, nil), []string{"url_file: " + SecretsDir + "/" + WebhookURLFile, "send_resolved: true"}},
		{"e-mail", alertmanagerArgs(false, email), []string{"auth_password_file: " + SecretsDir + "/" + SMTPPasswordFile, "to: ops@example.com, oncall@example.com", "require_tls: true"}},
		{"both", alertmanagerArgs(true, email), []string{"webhook_configs", "email_configs"}},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text, err := AlertmanagerConfig(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range append(tc.want, "group_by:\n        - site\n        - service") {
				if !strings.Contains(text, w) {
					t.Errorf("config lacks %q:\n%s", w, text)
				}
			}
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yml")
			if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(amtool, "check-config", file).CombinedOutput(); err != nil || !strings.Contains(string(out), "SUCCESS") {
				t.Errorf("amtool check-config: %v\n%s\n%s", err, out, text)
			}
		})
	}
	broken := filepath.Join(dir, "broken.yml")
	text, _ := AlertmanagerConfig(alertmanagerArgs(false, email))
	_ = os.WriteFile(broken, []byte(strings.Replace(text, "smarthost: smtp.example.com:587", "smarthost: smtp.example.com", 1)), 0o600)
	if out, err := exec.Command(amtool, "check-config", broken).CombinedOutput(); err == nil {
		t.Errorf("amtool accepted a smarthost without a port:\n%s", out)
	}
	if _, err := AlertmanagerConfig(AlertmanagerArgs{}); err == nil {
		t.Error("a config without timers was generated")
	}
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs bin with args until the test ends, its output in dir/name.log (shown on failure).
func start(t *testing.T, ctx context.Context, dir, name, bin string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	logFile, _ := os.Create(filepath.Join(dir, name+".log"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(logFile.Name())
			t.Logf("%s log:\n%s", name, log)
		}
	})
}

func TestRealAlertmanagerDeliversOOMAlert(t *testing.T) {
	promBin, amBin := prometheusBinary(t), toolBinary(t, "alertmanager")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The receiver: a chat's incoming webhook.
	type webhookAlert struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	}
	type notification struct {
		GroupLabels map[string]string `json:"groupLabels"`
		Alerts      []webhookAlert    `json:"alerts"`
	}
	var mu sync.Mutex
	var received []notification
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n notification
		if err := json.Unmarshal(body, &n); err == nil {
			mu.Lock()
			received = append(received, n)
			mu.Unlock()
		}
	}))
	defer hook.Close()

	// Alertmanager with the generated configuration; the secrets' directory is the test's.
	am := alertmanagerArgs(true, nil)
	am.GroupWait = model.Duration(time.Second)
	amText, err := AlertmanagerConfig(am)
	if err != nil {
		t.Fatal(err)
	}
	secrets := filepath.Join(dir, "secrets")
	_ = os.MkdirAll(secrets, 0o700)
	if err := os.WriteFile(filepath.Join(secrets, WebhookURLFile), []byte(hook.URL+"/hooks/token\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	amFile := filepath.Join(dir, "alertmanager.yml")
	_ = os.WriteFile(amFile, []byte(strings.ReplaceAll(amText, SecretsDir, secrets)), 0o600)
	amAddr := freeAddress(t)
	start(t, ctx, dir, "alertmanager", amBin, "--config.file="+amFile, "--storage.path="+filepath.Join(dir, "am-data"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")

	// kube-state-metrics as its /metrics answers for a workflow pod killed for memory: the
	// reason of its last termination, and its restarts, which go up once Prometheus has scraped.
	reg := prometheus.NewRegistry()
	reason := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kube_pod_container_status_last_terminated_reason", Help: "reason"},
		[]string{"namespace", "pod", "container", "reason"})
	restarts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kube_pod_container_status_restarts_total", Help: "restarts"},
		[]string{"namespace", "pod", "container"})
	reg.MustRegister(reason, restarts)
	pod := []string{"xgen", "xgen-workflow-5c7d-abcde", "xgen-workflow"}
	reason.WithLabelValues(append(pod, "OOMKilled")...).Set(1)
	restarts.WithLabelValues(pod...).Add(0)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ksm := httptest.NewServer(mux)
	defer ksm.Close()

	// Prometheus with the generated configuration and rules, pointed at this Alertmanager; its
	// kube-state-metrics job finds the endpoint in a file, with the labels pod discovery sets.
	text, err := PrometheusConfig(PrometheusArgs{Site: "xgen", Namespace: "xgen-observability", Alertmanager: amAddr,
		Services: []Target{{Service: "xgen-core", Namespace: "xgen", Port: 8000, Path: "/metrics"}}})
	if err != nil {
		t.Fatal(err)
	}
	targets, _ := json.Marshal([]any{map[string]any{"targets": []string{ksm.Listener.Addr().String()}, "labels": map[string]string{
		"__meta_kubernetes_namespace":                        "xgen-observability",
		"__meta_kubernetes_pod_name":                         "kube-state-metrics-6f9b-xyz",
		"__meta_kubernetes_pod_node_name":                    "node-1",
		"__meta_kubernetes_pod_phase":                        "Running",
		"__meta_kubernetes_pod_label_app_kubernetes_io_name": "kube-state-metrics",
		"__meta_kubernetes_pod_container_port_number":        fmt.Sprint(KubeStateMetricsPort),
	}}})
	targetsFile := filepath.Join(dir, "ksm.json")
	_ = os.WriteFile(targetsFile, targets, 0o600)
	rulesDir := filepath.Join(dir, "rules")
	_ = os.MkdirAll(rulesDir, 0o755)
	_ = os.WriteFile(filepath.Join(rulesDir, "xgen.yaml"), []byte(Rules), 0o600)
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["rule_files"] = []string{rulesDir + "/*.yaml"}
	global := cfg["global"].(map[string]any)
	global["scrape_interval"], global["evaluation_interval"] = "1s", "1s"
	var jobs []any
	for _, j := range cfg["scrape_configs"].([]any) {
		job := j.(map[string]any)
		if job["job_name"] == "kube-state-metrics" {
			delete(job, "kubernetes_sd_configs")
			job["file_sd_configs"] = []any{map[string]any{"files": []string{targetsFile}}}
			jobs = append(jobs, job)
		}
	}
	if len(jobs) != 1 {
		t.Fatal("the generated config has no kube-state-metrics job")
	}
	cfg["scrape_configs"] = jobs
	out, _ := yaml.Marshal(cfg)
	promFile := filepath.Join(dir, "prometheus.yml")
	_ = os.WriteFile(promFile, out, 0o600)
	promAddr := freeAddress(t)
	start(t, ctx, dir, "prometheus", promBin, "--config.file="+promFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr)

	// The restart comes once Prometheus has the count before it: an increase it can see.
	for scraped := false; !scraped; time.Sleep(200 * time.Millisecond) {
		if ctx.Err() != nil {
			t.Fatal("Prometheus never scraped kube-state-metrics")
		}
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=kube_pod_container_status_restarts_total")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			scraped = strings.Contains(string(body), pod[1])
		}
	}
	restarts.WithLabelValues(pod...).Inc()
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		for _, n := range received {
			for _, a := range n.Alerts {
				if a.Labels["alertname"] != "ContainerOOMKilled" || a.Status != "firing" {
					continue
				}
				for k, v := range map[string]string{"site": "xgen", "service": "xgen-workflow", "namespace": "xgen", "pod": pod[1], "severity": "warning"} {
					if a.Labels[k] != v {
						t.Errorf("alert label %s = %q, want %q (%v)", k, a.Labels[k], v, a.Labels)
					}
				}
				if n.GroupLabels["site"] != "xgen" || n.GroupLabels["service"] != "xgen-workflow" || len(n.GroupLabels) != 2 {
					t.Errorf("grouped by %v, want site and service", n.GroupLabels)
				}
				mu.Unlock()
				return
			}
		}
		mu.Unlock()
		if time.Now().After(deadline) {
			var state []string
			for _, q := range []string{"increase(kube_pod_container_status_restarts_total[30m])", "ALERTS", "rules"} {
				u := "http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q)
				if q == "rules" {
					u = "http://" + promAddr + "/api/v1/rules"
				}
				if resp, err := http.Get(u); err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					state = append(state, q+": "+string(body))
				}
			}
			t.Fatalf("no ContainerOOMKilled alert reached the webhook (received %v); Prometheus:\n%s", received, strings.Join(state, "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}
