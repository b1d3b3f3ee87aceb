package pulumiout

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// Preview is the digest `pulumi preview --json` prints (the fields we read), in the SDK's
// engine types.
type Preview struct {
	Steps         []Step                    `json:"steps"`
	Diagnostics   []apitype.DiagnosticEvent `json:"diagnostics"`
	ChangeSummary map[apitype.OpType]int    `json:"changeSummary"`
}

// Step is one planned resource operation. Unchanged resources are not listed (no
// --show-sames), except the stack itself.
type Step struct {
	Op             apitype.OpType                  `json:"op"`
	URN            string                          `json:"urn"`
	OldState       *apitype.StepEventStateMetadata `json:"oldState"`
	NewState       *apitype.StepEventStateMetadata `json:"newState"`
	ReplaceReasons []string                        `json:"replaceReasons"`
	DiffReasons    []string                        `json:"diffReasons"`
}

// Changes are the steps that change something (every op but same, read and refresh).
func (p *Preview) Changes() []Step {
	var out []Step
	for _, s := range p.Steps {
		switch s.Op {
		case apitype.OpSame, apitype.OpRead, apitype.OpRefresh:
			continue
		}
		out = append(out, s)
	}
	return out
}

// Changed counts every resource that a change touches (the change summary without "same").
func (p *Preview) Changed() int {
	n := 0
	for op, count := range p.ChangeSummary {
		if op != apitype.OpSame {
			n += count
		}
	}
	return n
}

// Errors are the diagnostics of severity error.
func (p *Preview) Errors() []string {
	var out []string
	for _, d := range p.Diagnostics {
		if d.Severity == "error" {
			out = append(out, strings.TrimSpace(d.Message))
		}
	}
	return out
}

// Parent is the parent URN of the step's resource (new state, else old).
func (s Step) Parent() string {
	if s.NewState != nil {
		return s.NewState.Parent
	}
	if s.OldState != nil {
		return s.OldState.Parent
	}
	return ""
}

// Summary renders a change summary as "create=3 update=1", sorted, for messages.
func Summary(m map[apitype.OpType]int) string {
	var parts []string
	for op, n := range m {
		parts = append(parts, string(op)+"="+strconv.Itoa(n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// StateURNs are the resources of a `pulumi stack export`.
func StateURNs(export []byte) ([]string, error) {
	var dep struct {
		Deployment struct {
			Resources []struct {
				URN string `json:"urn"`
			} `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(export, &dep); err != nil {
		return nil, fmt.Errorf("pulumi stack export: %w", err)
	}
	var urns []string
	for _, r := range dep.Deployment.Resources {
		urns = append(urns, r.URN)
	}
	return urns, nil
}
