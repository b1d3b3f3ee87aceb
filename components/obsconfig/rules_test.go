package obsconfig

import (
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// ruleExpr is the expression of one alert of rules.yaml.
func ruleExpr(t *testing.T, alert string) string {
	t.Helper()
	groups, errs := rulefmt.Parse([]byte(Rules), false, model.UTF8Validation, parser.NewParser(parser.Options{}), quiet)
	if len(errs) > 0 {
		t.Fatalf("rules: %v", errs)
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == alert {
				return strings.Join(strings.Fields(r.Expr), " ")
			}
		}
	}
	t.Fatalf("no alert %s", alert)
	return ""
}

// The rules' expressions evaluated by Prometheus' own engine on series shaped as the exporters
// give them (promqltest: a sample every hour from time 0; values are Unix times). Each case
// says exactly which series alert.
func TestRuleExpressions(t *testing.T) {
	for _, tc := range []struct{ name, alert, series, at, want string }{
		{
			name:  "backups: daily runs, a job that stopped, one that never ran, one that runs",
			alert: "BackupStale",
			// Values are the time of the last success (or of the install), present from 48h on
			// (blank before: a short series keeps the test storage's appends in its window):
			// "daily" last succeeded at 48h, "stopped" at 24h; "never" was installed at 1h and
			// never completed; "fresh" was installed at 1h and completed at 30h.
			series: `
  xgen_backup_last_success_timestamp_seconds{project="daily", node="n1"} _x47 172800x5
  xgen_backup_last_success_timestamp_seconds{project="stopped", node="n1"} _x47 86400x5
  xgen_backup_timer_installed_timestamp_seconds{project="never", node="n2"} _x47 3600x5
  xgen_backup_timer_installed_timestamp_seconds{project="fresh", node="n2"} _x47 3600x5
  xgen_backup_last_success_timestamp_seconds{project="fresh", node="n2"} _x47 108000x5`,
			// At 51h (183600 s): stopped is 97200 s old, never 180000 s since its install.
			at: "51h",
			want: `
  {project="stopped", node="n1"} 97200
  {project="never", node="n2"} 180000`,
		},
		{
			name:   "backups: a day and two hours is the limit",
			alert:  "BackupStale",
			series: `xgen_backup_last_success_timestamp_seconds{project="p", node="n1"} _x24 0x5`,
			at:     "26h", // 93600 s: not more than 26 hours, nothing (and at 27h it alerts: the case above)
		},
		{
			name:  "certificates: under 14 days alerts, other jobs' probes do not",
			alert: "CertificateExpiring",
			series: `
  probe_ssl_earliest_cert_expiry{job="certificates", certificate="kubernetes-api", instance="kubernetes.default.svc:443"} 1000000x2
  probe_ssl_earliest_cert_expiry{job="certificates", certificate="site-domain", instance="agent.example.com:443"} 100000000x2
  probe_ssl_earliest_cert_expiry{job="infra", instance="minio:443"} 1000x2`,
			at: "1h",
			want: `
  {job="certificates", certificate="kubernetes-api", instance="kubernetes.default.svc:443"} 996400`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script := "load 1h\n" + indent(tc.series) + "\neval instant at " + tc.at + " " + ruleExpr(t, tc.alert) + "\n" + indent(tc.want)
			promqltest.RunTest(t, script, promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery))
		})
	}
}

// indent puts each non-empty line of text on its own indented line (promqltest's layout).
func indent(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			b.WriteString("  " + line + "\n")
		}
	}
	return b.String()
}
