package fleet

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writePlan(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), PlanFile)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPlanRollout(t *testing.T) {
	stacks := []string{"a", "b", "c", "d"}
	p, err := LoadPlan(writePlan(t, "waves:\n  - [a]\n  - [b, c]\n  - [d]\nhold:\n  d: customer change freeze until 2027-01-05\n  b: release tested by the customer first\n"), stacks)
	if err != nil {
		t.Fatal(err)
	}
	waves, held := p.Rollout()
	if want := [][]string{{"a"}, {"c"}}; !reflect.DeepEqual(waves, want) || !reflect.DeepEqual(held, []string{"b", "d"}) {
		t.Errorf("waves %v held %v", waves, held)
	}
}

// Every problem of a plan is reported at once, each with what to do.
func TestBadPlans(t *testing.T) {
	stacks := []string{"a", "b", "c"}
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"a freeze on an unknown site", "waves: [[a, b, c]]\nhold: {lotemall: freeze}\n", []string{`hold: "lotemall" is not a stack here (stacks: a, b, c)`}},
		{"a hold without its reason", "waves: [[a, b, c]]\nhold: {b: ''}\n", []string{"hold.b: say why it is held"}},
		{"a site in no wave", "waves: [[a], [b]]\n", []string{"stack c is in no wave: add it to one"}},
		{"a site twice", "waves: [[a, b], [c, a]]\n", []string{"waves[1]: a is already in waves[0]"}},
		{"an unknown site", "waves: [[a, b, c, x]]\n", []string{`waves[0]: "x" is not a stack here`}},
		{"an empty wave", "waves: [[a, b, c], []]\n", []string{"waves[1] is empty"}},
		{"a misspelt key", "waves: [[a, b, c]]\nholds: {a: x}\n", []string{"field holds not found"}},
		{"all at once", "waves: [[a, x]]\nhold: {y: z}\n", []string{`"x" is not a stack`, "stack b is in no wave", "stack c is in no wave", `hold: "y" is not a stack`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPlan(writePlan(t, tc.text), stacks)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	if _, err := LoadPlan(filepath.Join(t.TempDir(), PlanFile), stacks); err == nil || !strings.Contains(err.Error(), "Merged means deployed") {
		t.Errorf("a missing plan: %v", err)
	}
}

// The repository's own plan names every stack once.
func TestRepositoryPlan(t *testing.T) {
	stacks, err := StackNames("../..")
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadPlan(filepath.Join("../..", PlanFile), stacks)
	if err != nil {
		t.Fatal(err)
	}
	if waves, _ := p.Rollout(); len(waves) == 0 || len(waves[0]) != 1 {
		t.Errorf("the first wave should be one canary site: %v", waves)
	}
}
