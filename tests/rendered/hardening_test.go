package rendered

// Every workload the program renders, at every site, runs with least privilege: the one
// Hardening helper's contexts (components/hardening.go) and requests and limits of CPU, memory
// and ephemeral storage. What a workload needs beyond that is listed here with why, and a
// workload that takes more than its listed grant fails.

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/helmrender"
	"xgen-infra/internal/testkit/sitetest"
)

// grant is what a workload may have beyond the baseline.
type grant struct {
	root         bool     // runs as UID 0
	capabilities []string // added back after dropping ALL
	why          string
}

// grants, by workload name (the Deployment's or DaemonSet's).
var grants = map[string]grant{
	// Reads the pods' log files (root's, mode 0640) from the host; every capability dropped.
	"otel-collector": {root: true, why: "reads root's 0640 pod logs"},
	// NVIDIA's DCGM reads the GPUs' profiling counters through a privileged driver interface.
	"dcgm-exporter": {root: true, capabilities: []string{"SYS_ADMIN"}, why: "DCGM profiling counters"},
	// Creates its socket in the kubelet's root-owned device-plugins directory on the host.
	"nvidia-device-plugin": {root: true, why: "registers in the kubelet's root-owned directory"},
}

// istioWorkloads come from Istio's own charts: their users are the chart's (the container
// security contexts are still held to the baseline, and their requests and limits are ours).
var istioWorkloads = map[string]bool{"istiod": true, "istio-ingressgateway": true}

func TestEveryWorkloadIsHardened(t *testing.T) {
	for _, stackFile := range sitetest.StackFiles(t) {
		t.Run(sitetest.StackName(stackFile), func(t *testing.T) {
			rec := sitetest.Run(t, stackFile)
			objs, err := rec.KubernetesObjects()
			if err != nil {
				t.Fatal(err)
			}
			bodies := sitetest.Bodies(objs)
			for _, release := range helmrender.RecordedReleases(t, rec) {
				bodies = append(bodies, release.Objects...)
			}
			seen := map[string]bool{}
			for _, body := range bodies {
				kind, _ := body["kind"].(string)
				switch kind {
				case "Deployment", "DaemonSet", "StatefulSet", "Job":
				default:
					continue
				}
				name, _ := inprocess.Get(body, "metadata", "name").(string)
				seen[name] = true
				for _, problem := range hardeningProblems(name, body) {
					t.Errorf("%s %s/%s: %s", kind, inprocess.Get(body, "metadata", "namespace"), name, problem)
				}
			}
			if len(seen) == 0 {
				t.Fatal("no workloads rendered")
			}
			t.Logf("%d workloads: %v", len(seen), sortedNames(seen))
		})
	}
}

// hardeningProblems lists how workload o falls short of the baseline or exceeds its grant.
func hardeningProblems(name string, body map[string]any) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	spec, _ := inprocess.Get(body, "spec", "template", "spec").(map[string]any)
	if spec == nil {
		return []string{"no pod template"}
	}
	g := grants[name]
	istio := istioWorkloads[name]
	pod, _ := spec["securityContext"].(map[string]any)
	if !istio {
		if inprocess.Get(pod, "seccompProfile", "type") != "RuntimeDefault" {
			add("pod seccompProfile %v, want RuntimeDefault", inprocess.Get(pod, "seccompProfile"))
		}
		uid, _ := inprocess.Get(pod, "runAsUser").(int64)
		switch {
		case g.root:
			if uid != 0 || pod["runAsNonRoot"] != false {
				add("granted root (%s) but runs as %v", g.why, pod["runAsUser"])
			}
		case pod["runAsNonRoot"] != true:
			add("runAsNonRoot %v", pod["runAsNonRoot"])
		case uid < 1000:
			// The sites' services run as their runAsUser (default 10000); an add-on above
			// the hosts' own users.
			add("runs as UID %d, a host's range", uid)
		}
		if spec["automountServiceAccountToken"] == nil {
			add("automountServiceAccountToken unset (the token is mounted only where the API is read)")
		}
	}
	containers, _ := spec["containers"].([]any)
	for _, c := range append(containers, asSlice(spec["initContainers"])...) {
		c := c.(map[string]any)
		name := c["name"] // the container's
		sc, _ := c["securityContext"].(map[string]any)
		if sc["allowPrivilegeEscalation"] != false {
			add("container %s: allowPrivilegeEscalation %v", name, sc["allowPrivilegeEscalation"])
		}
		if sc["privileged"] == true {
			add("container %s: privileged", name)
		}
		if sc["readOnlyRootFilesystem"] != true {
			add("container %s: root filesystem writable", name)
		}
		if istio && sc["runAsNonRoot"] != true {
			add("container %s: runAsNonRoot %v", name, sc["runAsNonRoot"])
		}
		if drop := asSlice(inprocess.Get(sc, "capabilities", "drop")); len(drop) != 1 || drop[0] != "ALL" {
			add("container %s: drops %v, want ALL", name, drop)
		}
		var added []string
		for _, a := range asSlice(inprocess.Get(sc, "capabilities", "add")) {
			added = append(added, fmt.Sprint(a))
		}
		if want := g.capabilities; strings.Join(added, ",") != strings.Join(want, ",") {
			add("container %s: adds capabilities %v, granted %v", name, added, want)
		}
		if c["imagePullPolicy"] == nil {
			add("container %s: no imagePullPolicy", name)
		}
		for _, kind := range []string{"requests", "limits"} {
			var missing []string
			for _, r := range []string{"cpu", "memory", "ephemeral-storage"} {
				if inprocess.Get(c, "resources", kind, r) == nil {
					missing = append(missing, r)
				}
			}
			if len(missing) > 0 {
				sort.Strings(missing)
				add("container %s: no %s of %s", name, kind, strings.Join(missing, ", "))
			}
		}
		if c["readinessProbe"] != nil && c["livenessProbe"] != nil && fmt.Sprint(c["readinessProbe"]) == fmt.Sprint(c["livenessProbe"]) {
			add("container %s: liveness probe is the readiness probe (a slow dependency restarts it)", name)
		}
	}
	return problems
}

func sortedNames(set map[string]bool) []string {
	var names []string
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
