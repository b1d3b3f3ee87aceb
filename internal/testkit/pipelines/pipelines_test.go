// Package pipelines checks the merge-request pipelines: the GitHub workflow with actionlint
// (which runs shellcheck on every `run:`), the GitLab pipeline structurally (GitLab's schema
// is not reachable here) with shellcheck on every job's script.
package pipelines

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	workflow = "../../../.github/workflows/merge-request.yml"
	gitlab   = "../../../.gitlab-ci.yml"
)

func actionlint(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("XGEN_TOOLS_DIR")
	if dir == "" {
		t.Skip("needs actionlint: run through `make test` (it builds the tools and sets XGEN_TOOLS_DIR)")
	}
	return filepath.Join(dir, "bin", "actionlint")
}

func lintWorkflow(t *testing.T, bin, path string) (string, error) {
	out, err := exec.Command(bin, "-shellcheck", "shellcheck", "-no-color", path).CombinedOutput()
	return string(out), err
}

func TestGitHubWorkflowPassesActionlint(t *testing.T) {
	bin := actionlint(t)
	workflows, err := filepath.Glob(filepath.Join(filepath.Dir(workflow), "*.yml"))
	if err != nil || len(workflows) < 3 {
		t.Fatalf("workflows: %v %v (merge-request, deploy and drift)", workflows, err)
	}
	for _, wf := range workflows {
		if out, err := lintWorkflow(t, bin, wf); err != nil {
			t.Errorf("actionlint %s: %v\n%s", filepath.Base(wf), err, out)
		}
	}
	// The check can fail: a broken copy (an unquoted expansion in a run script, an unknown
	// context) is refused.
	data, err := os.ReadFile(workflow)
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string][2]string{
		"shellcheck": {`"$PR_NUMBER"`, `$PR_NUMBER`},
		"expression": {"github.base_ref", "github.nonsense_ref"},
	} {
		broken := filepath.Join(t.TempDir(), "broken.yml")
		if err := os.WriteFile(broken, []byte(strings.Replace(string(data), edit[0], edit[1], 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := lintWorkflow(t, bin, broken); err == nil {
			t.Errorf("%s: a broken workflow passes actionlint:\n%s", name, out)
		}
	}
}

// testRun is the `run:` of the GitHub workflow's step that runs .ci/run, or "".
func testRun(t *testing.T, data []byte) string {
	t.Helper()
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	for _, step := range wf.Jobs["test"].Steps {
		if strings.Contains(step.Run, ".ci/run") {
			return step.Run
		}
	}
	return ""
}

// TestGitHubWorkflowRunsTheTestsAsRoot: the test hosts need root (namespaces, Debian
// packages) and GitHub's runners are not root: the test job runs .ci/run through sudo, with
// the PATH that setup-go made (sudo's own PATH has no Go).
func TestGitHubWorkflowRunsTheTestsAsRoot(t *testing.T) {
	data, err := os.ReadFile(workflow)
	if err != nil {
		t.Fatal(err)
	}
	asRoot := func(run string) bool {
		return strings.HasPrefix(run, "sudo ") && strings.Contains(run, `"PATH=$PATH"`)
	}
	if run := testRun(t, data); !asRoot(run) {
		t.Errorf("the test job runs %q: not as root with setup-go's PATH", run)
	}
	// The check can fail: the plain run it replaced is refused.
	plain := strings.Replace(string(data), `sudo -E env "PATH=$PATH" bash .ci/run`, "bash .ci/run", 1)
	if plain == string(data) || asRoot(testRun(t, []byte(plain))) {
		t.Error("a workflow that runs .ci/run as the runner user passes the check")
	}
}

// gitlabKeywords are GitLab CI's global keywords; anything else at the top is a job.
var gitlabKeywords = []string{"default", "include", "stages", "variables", "workflow", "image", "services", "cache", "before_script", "after_script"}

// jobKeys are the job keywords the structural check knows.
var jobKeys = []string{"stage", "script", "resource_group", "before_script", "after_script", "image", "needs", "rules", "variables", "artifacts", "when", "allow_failure", "tags", "timeout", "dependencies", "cache", "services", "environment", "retry", "interruptible", "only", "except"}

// checkGitLab returns every structural problem of a pipeline, and shellchecks each job's
// script as bash.
func checkGitLab(t *testing.T, data []byte) []string {
	t.Helper()
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return []string{err.Error()}
	}
	var probs []string
	var stages []string
	if n, ok := doc["stages"]; ok {
		if err := n.Decode(&stages); err != nil {
			probs = append(probs, "stages: "+err.Error())
		}
	}
	jobs := map[string]map[string]yaml.Node{}
	for name, node := range doc {
		if slices.Contains(gitlabKeywords, name) || strings.HasPrefix(name, ".") {
			continue
		}
		var job map[string]yaml.Node
		if err := node.Decode(&job); err != nil {
			probs = append(probs, name+": not a job: "+err.Error())
			continue
		}
		jobs[name] = job
	}
	if len(jobs) == 0 {
		probs = append(probs, "no jobs")
	}
	for name, job := range jobs {
		for k := range job {
			if !slices.Contains(jobKeys, k) {
				probs = append(probs, name+": unknown keyword "+k)
			}
		}
		var stage string
		if n, ok := job["stage"]; ok {
			_ = n.Decode(&stage)
		}
		if stage == "" || !slices.Contains(stages, stage) {
			probs = append(probs, name+": stage "+stage+" is not in stages")
		}
		var script []string
		if n, ok := job["script"]; !ok || n.Decode(&script) != nil || len(script) == 0 {
			probs = append(probs, name+": script must be a non-empty list of strings")
		}
		if n, ok := job["needs"]; ok {
			var needs []string
			if err := n.Decode(&needs); err != nil {
				probs = append(probs, name+": needs: "+err.Error())
			}
			for _, need := range needs {
				if _, ok := jobs[need]; !ok {
					probs = append(probs, name+": needs unknown job "+need)
				}
			}
		}
		if n, ok := job["rules"]; ok {
			var rules []map[string]any
			if err := n.Decode(&rules); err != nil {
				probs = append(probs, name+": rules: "+err.Error())
			}
			for _, r := range rules {
				if _, ok := r["if"].(string); !ok {
					probs = append(probs, name+": a rule without an if expression")
				}
			}
		}
		if len(script) > 0 {
			sc := exec.Command("shellcheck", "-s", "bash", "-")
			sc.Stdin = strings.NewReader("#!/bin/bash\n" + strings.Join(script, "\n") + "\n")
			if out, err := sc.CombinedOutput(); err != nil {
				probs = append(probs, name+": shellcheck: "+string(out))
			}
		}
	}
	slices.Sort(probs)
	return probs
}

func TestGitLabPipeline(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Fatal("shellcheck is missing; `make lint` installs it")
	}
	data, err := os.ReadFile(gitlab)
	if err != nil {
		t.Fatal(err)
	}
	if probs := checkGitLab(t, data); len(probs) > 0 {
		t.Fatalf("%s:\n%s", gitlab, strings.Join(probs, "\n"))
	}
	for name, edit := range map[string][2]string{
		"unknown stage":  {"stage: preview", "stage: publish"},
		"unknown need":   {"needs: [test]", "needs: [tests]"},
		"misspelt key":   {"artifacts:", "artefacts:"},
		"shell mistake":  {`exit "$status"`, `exit $status[0]`},
		"script missing": {"  script:\n    - bash .ci/run", "  scripts:\n    - bash .ci/run"},
	} {
		broken := strings.Replace(string(data), edit[0], edit[1], 1)
		if broken == string(data) {
			t.Fatalf("%s: the edit does not apply", name)
		}
		if probs := checkGitLab(t, []byte(broken)); len(probs) == 0 {
			t.Errorf("%s: a broken pipeline passes the check", name)
		}
	}
}

// TestMergedMeansDeployed: on both forges a push to main runs the tests, then the rollout of
// fleet.yaml, one rollout at a time; a schedule runs the drift report. What each rollout does
// is cmd/fleet's (its tests); here, that the pipelines call it when they should.
func TestMergedMeansDeployed(t *testing.T) {
	data, err := os.ReadFile(gitlab)
	if err != nil {
		t.Fatal(err)
	}
	type glJob struct {
		Needs         []string            `yaml:"needs"`
		Rules         []map[string]string `yaml:"rules"`
		ResourceGroup string              `yaml:"resource_group"`
		Script        []string            `yaml:"script"`
	}
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	gl := map[string]glJob{}
	for _, name := range []string{"deploy", "drift"} {
		var j glJob
		if n, ok := doc[name]; !ok || n.Decode(&j) != nil {
			t.Fatalf("GitLab: no job %s", name)
		}
		gl[name] = j
	}
	for job, want := range map[string]struct{ script, rule string }{
		"deploy": {"go run ./cmd/fleet rollout", `$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"`},
		"drift":  {"go run ./cmd/fleet --markdown drift", `$CI_PIPELINE_SOURCE == "schedule"`},
	} {
		j := gl[job]
		if !strings.Contains(strings.Join(j.Script, "\n"), want.script) || len(j.Rules) != 1 || j.Rules[0]["if"] != want.rule || j.ResourceGroup == "" {
			t.Errorf("GitLab %s: %+v", job, j)
		}
	}
	if !slices.Equal(gl["deploy"].Needs, []string{"test"}) {
		t.Errorf("GitLab deploy runs without the tests: needs %v", gl["deploy"].Needs)
	}

	type ghWorkflow struct {
		On          map[string]any `yaml:"on"`
		Concurrency struct {
			Group            string `yaml:"group"`
			CancelInProgress bool   `yaml:"cancel-in-progress"`
		} `yaml:"concurrency"`
		Jobs map[string]struct {
			Needs any `yaml:"needs"`
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	read := func(name string) ghWorkflow {
		var wf ghWorkflow
		data, err := os.ReadFile(filepath.Join(filepath.Dir(workflow), name))
		if err == nil {
			err = yaml.Unmarshal(data, &wf)
		}
		if err != nil {
			t.Fatal(err)
		}
		return wf
	}
	runs := func(wf ghWorkflow, job, cmd string) bool {
		for _, st := range wf.Jobs[job].Steps {
			if strings.Contains(st.Run, cmd) {
				return true
			}
		}
		return false
	}
	deploy := read("deploy.yml")
	push, _ := deploy.On["push"].(map[string]any)
	if fmt.Sprint(push["branches"]) != "[main]" || deploy.Jobs["rollout"].Needs != "test" || !runs(deploy, "rollout", "go run ./cmd/fleet rollout") ||
		!runs(deploy, "test", ".ci/run") || deploy.Concurrency.Group != "fleet-rollout" || deploy.Concurrency.CancelInProgress {
		t.Errorf("GitHub deploy: %+v", deploy)
	}
	drift := read("drift.yml")
	if _, scheduled := drift.On["schedule"]; !scheduled || !runs(drift, "drift", "go run ./cmd/fleet --markdown drift") || drift.Concurrency.Group != "fleet-rollout" {
		t.Errorf("GitHub drift: %+v", drift)
	}
}
