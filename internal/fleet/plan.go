package fleet

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// PlanFile is the fleet's rollout plan, in the project directory.
const PlanFile = "fleet.yaml"

// Plan is fleet.yaml: the order in which a merge to main rolls the sites out, and the sites
// held out of it (a customer's change freeze). It is data: holding a site is a one-line change
// reviewed like any other, not an edit of the pipeline.
type Plan struct {
	// Waves roll out in order, a wave's sites side by side; a wave with a failed or
	// unhealthy site stops the rollout. Every stack is in exactly one wave.
	Waves [][]string `yaml:"waves"`
	// Hold are sites held out of every rollout, each with why (who asked, until when).
	Hold map[string]string `yaml:"hold"`
}

// LoadPlan reads and checks the plan against the project's stacks: unknown keys, a site that is
// not a stack, a stack in no wave or in two, an empty wave and a hold without its reason are
// each reported, all at once, with what to do.
func LoadPlan(path string, stacks []string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (it lists the rollout's waves: see docs/operations.md \"Merged means deployed\")", path, err)
	}
	var p Plan
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var probs []string
	known := strings.Join(stacks, ", ")
	where := map[string]int{}
	for i, wave := range p.Waves {
		if len(wave) == 0 {
			probs = append(probs, fmt.Sprintf("waves[%d] is empty: remove it", i))
		}
		for _, s := range wave {
			switch first, seen := where[s]; {
			case !slices.Contains(stacks, s):
				probs = append(probs, fmt.Sprintf("waves[%d]: %q is not a stack here (stacks: %s)", i, s, known))
			case seen:
				probs = append(probs, fmt.Sprintf("waves[%d]: %s is already in waves[%d]: a site rolls out once", i, s, first))
			default:
				where[s] = i
			}
		}
	}
	for _, s := range stacks {
		if _, ok := where[s]; !ok {
			probs = append(probs, fmt.Sprintf("waves: stack %s is in no wave: add it to one (every site rolls out on merge; hold it to keep it out)", s))
		}
	}
	holds := mapKeys(p.Hold)
	sort.Strings(holds)
	for _, s := range holds {
		if !slices.Contains(stacks, s) {
			probs = append(probs, fmt.Sprintf("hold: %q is not a stack here (stacks: %s)", s, known))
		} else if strings.TrimSpace(p.Hold[s]) == "" {
			probs = append(probs, fmt.Sprintf("hold.%s: say why it is held (who asked, until when), e.g. \"customer change freeze until 2027-01-05\"", s))
		}
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("%s:\n  %s", path, strings.Join(probs, "\n  "))
	}
	return &p, nil
}

// Rollout is the waves without the held sites (a wave left empty is dropped), and the held
// sites, sorted.
func (p *Plan) Rollout() (waves [][]string, held []string) {
	for _, wave := range p.Waves {
		var w []string
		for _, s := range wave {
			if _, hold := p.Hold[s]; !hold {
				w = append(w, s)
			}
		}
		if len(w) > 0 {
			waves = append(waves, w)
		}
	}
	held = mapKeys(p.Hold)
	sort.Strings(held)
	return waves, held
}

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
