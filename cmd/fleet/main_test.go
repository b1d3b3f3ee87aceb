package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xgen-infra/internal/fleet"
	"xgen-infra/internal/pulumiout"
)

func fixture(t *testing.T, name string) *pulumiout.Preview {
	t.Helper()
	f, err := os.Open("../../internal/fleet/testdata/" + name + ".json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var p pulumiout.Preview
	if err := json.NewDecoder(zr).Decode(&p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// canned is a stack with a fixed preview (refresh: the drift one) and outputs.
type canned struct {
	name             string
	preview, refresh *pulumiout.Preview
	err              error
	outputs          map[string]any
	ups              *[]string
}

func (c canned) Name() string { return c.name }
func (c canned) Preview(_ context.Context, refresh bool) (*pulumiout.Preview, error) {
	if refresh && c.refresh != nil {
		return c.refresh, c.err
	}
	return c.preview, c.err
}
func (c canned) Up(context.Context) error {
	*c.ups = append(*c.ups, c.name)
	return c.err
}
func (c canned) Outputs(context.Context) (map[string]any, error) { return c.outputs, c.err }

func runFleet(t *testing.T, stacks map[string]canned, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"--dir", "../.."}, args...), &out, &errOut, func(name, _ string) fleet.Stack {
		if s, ok := stacks[name]; ok {
			return s
		}
		t.Fatalf("unexpected stack %s", name)
		return nil
	})
	return code, out.String() + errOut.String()
}

func TestExitCodes(t *testing.T) {
	var ups []string
	noop, replace, drift := fixture(t, "xgen-noop"), fixture(t, "xgen-replace"), fixture(t, "jeju-drift")
	stacks := map[string]canned{
		"xgen":      {name: "xgen", preview: replace, refresh: noop, ups: &ups},
		"xgen-jeju": {name: "xgen-jeju", preview: noop, refresh: drift, ups: &ups},
		"broken":    {name: "broken", err: errors.New("pulumi preview: exit status 255"), ups: &ups},
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"preview", "--stacks", "xgen,xgen-jeju"}, exitDanger, "DANGER not acknowledged"},
		{[]string{"preview", "--stacks", "xgen,xgen-jeju", "--ack-danger"}, exitOK, "DANGER xgen: delete kubernetes:core/v1:Namespace xgen"},
		{[]string{"--markdown", "preview", "--stacks", "xgen-jeju"}, exitOK, "| xgen-jeju | 0 | 0 | 0 | 0 | 47 | 0 | no change |"},
		{[]string{"drift", "--stacks", "xgen,xgen-jeju"}, exitDrift, "DRIFT xgen-jeju: 2 resources"},
		{[]string{"drift", "--stacks", "xgen"}, exitOK, "no change"},
		{[]string{"preview", "--stacks", "xgen,nope"}, exitFailed, "no stack nope"},
		{[]string{"bogus"}, exitFailed, "unknown command"},
		{[]string{"up"}, exitFailed, "--waves is required"},
	}
	for _, tc := range cases {
		code, out := runFleet(t, stacks, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("fleet %v: exit %d (want %d), output lacks %q:\n%s", tc.args, code, tc.code, tc.want, out)
		}
	}
	t.Setenv("FLEET_ACK_DANGER", "true")
	if code, out := runFleet(t, stacks, "preview", "--stacks", "xgen"); code != exitOK {
		t.Errorf("FLEET_ACK_DANGER=true: exit %d\n%s", code, out)
	}
}

func TestFailedPreviewAndVersions(t *testing.T) {
	var ups []string
	stacks := map[string]canned{
		"xgen":       {name: "xgen", err: errors.New("pulumi preview --json --stack xgen: exit status 255: error: invalid stack config"), ups: &ups},
		"xgen-jeju":  {name: "xgen-jeju", outputs: map[string]any{"images": map[string]any{"xgen-core": "r/x/main/xgen-core:1.2.3", "xgen-frontend": "r:5000/x/main/xgen-frontend:1.2.4"}}, ups: &ups},
		"lotteimall": {name: "lotteimall", outputs: map[string]any{"images": map[string]any{"xgen-core": "r/x/lotteimall/xgen-core:1.2.2"}}, ups: &ups},
	}
	if code, out := runFleet(t, stacks, "preview", "--stacks", "xgen"); code != exitFailed || !strings.Contains(out, "FAILED xgen: pulumi preview") {
		t.Errorf("a failed preview: exit %d\n%s", code, out)
	}
	code, out := runFleet(t, stacks, "versions", "--stacks", "lotteimall,xgen-jeju")
	if code != exitOK || !strings.Contains(out, "xgen-core\t1.2.2\t1.2.3") || !strings.Contains(out, "xgen-frontend\t-\t1.2.4") {
		t.Errorf("versions: exit %d\n%s", code, out)
	}
	// The head office: dev its own environment, prd beside it (its `environments` output).
	stacks["xgen"] = canned{name: "xgen", outputs: map[string]any{"images": map[string]any{"xgen-core": "r/x/main/xgen-core:latest-amd64"},
		"environments": map[string]any{"prd": map[string]any{"namespace": "xgen-prd", "images": map[string]any{"xgen-core": "r/x/main/xgen-core:1.2.0"}}}}, ups: &ups}
	code, out = runFleet(t, stacks, "versions", "--stacks", "xgen")
	if code != exitOK || !strings.Contains(out, "service\txgen\txgen/prd") || !strings.Contains(out, "xgen-core\tlatest-amd64\t1.2.0") {
		t.Errorf("versions of a site with prd beside dev: exit %d\n%s", code, out)
	}
}

func TestUpWavesStopAfterAFailure(t *testing.T) {
	var ups []string
	noop := fixture(t, "xgen-noop")
	stacks := map[string]canned{
		"xgen-jeju":  {name: "xgen-jeju", preview: noop, err: errors.New("pulumi up: exit status 255"), ups: &ups},
		"lotteimall": {name: "lotteimall", preview: noop, ups: &ups},
		"xgen":       {name: "xgen", preview: noop, ups: &ups},
	}
	code, out := runFleet(t, stacks, "up", "--waves", "xgen-jeju:lotteimall,xgen")
	if code != exitFailed || !strings.Contains(out, "failed: xgen-jeju") || !strings.Contains(out, "not rolled: lotteimall, xgen") || len(ups) != 1 {
		t.Errorf("exit %d, ups %v:\n%s", code, ups, out)
	}
}

// TestRollout: fleet.yaml's waves in order without its held sites; a bad plan (a freeze on a
// site that does not exist) changes nothing and says what to fix.
func TestRollout(t *testing.T) {
	var ups []string
	noop := fixture(t, "xgen-noop")
	stacks := map[string]canned{}
	for _, n := range []string{"xgen-jeju", "xgen", "lotteimall", "xgen-aww"} {
		stacks[n] = canned{name: n, preview: noop, ups: &ups}
	}
	plan := filepath.Join(t.TempDir(), "fleet.yaml")
	write := func(text string) {
		if err := os.WriteFile(plan, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("waves: [[xgen-jeju], [xgen], [lotteimall, xgen-aww]]\nhold: {lotteimall: customer change freeze until 2027-01-05}\n")
	code, out := runFleet(t, stacks, "rollout", "--plan", plan, "--parallel", "1")
	if code != exitOK || !strings.Contains(out, "held: lotteimall (customer change freeze until 2027-01-05)") ||
		!strings.Contains(out, "rolled: xgen, xgen-aww, xgen-jeju") || strings.Join(ups, ",") != "xgen-jeju,xgen,xgen-aww" {
		t.Errorf("exit %d, ups %v:\n%s", code, ups, out)
	}

	ups = nil
	write("waves: [[xgen-jeju], [xgen], [lotteimall, xgen-aww]]\nhold: {lotemall: freeze}\n")
	code, out = runFleet(t, stacks, "rollout", "--plan", plan)
	if code != exitFailed || !strings.Contains(out, `hold: "lotemall" is not a stack here`) || len(ups) != 0 {
		t.Errorf("a freeze on an unknown site: exit %d, ups %v:\n%s", code, ups, out)
	}

	// The repository's own plan is what the deploy jobs run.
	ups = nil
	code, out = runFleet(t, stacks, "rollout")
	if code != exitOK || len(ups) != 4 || ups[0] != "xgen-jeju" {
		t.Errorf("the repository's fleet.yaml: exit %d, ups %v:\n%s", code, ups, out)
	}
}
