package main

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// finished is the engine's event for a finished step.
func finished(op apitype.OpType, typ, name string) apitype.EngineEvent {
	return apitype.EngineEvent{ResOutputsEvent: &apitype.ResOutputsEvent{Metadata: apitype.StepEventMetadata{
		Op: op, Type: typ, URN: "urn:pulumi:xgen::xgen-infra::" + typ + "::" + name}}}
}

// TestConverged: the demo's second `up` fails on any change or host command, and only then.
func TestConverged(t *testing.T) {
	same := []apitype.EngineEvent{
		finished(apitype.OpSame, "pulumi:pulumi:Stack", "xgen-infra-xgen"),
		finished(apitype.OpSame, "command:remote:Command", "install-xgen-1"),
		finished(apitype.OpSame, "kubernetes:apps/v1:Deployment", "xgen-core"),
		finished(apitype.OpRead, "kubernetes:core/v1:Namespace", "kube-system"),
		// A planning event is what the engine meant to do, not what it did.
		{ResOutputsEvent: &apitype.ResOutputsEvent{Planning: true, Metadata: apitype.StepEventMetadata{
			Op: apitype.OpUpdate, Type: "kubernetes:apps/v1:Deployment", URN: "urn:pulumi:x::y::kubernetes:apps/v1:Deployment::xgen-core"}}},
	}
	tests := []struct {
		name   string
		events []apitype.EngineEvent
		want   []string // in the error; none: converged
	}{
		{"nothing changed", same, nil},
		{"a Deployment updated", append(same[:len(same):len(same)], finished(apitype.OpUpdate, "kubernetes:apps/v1:Deployment", "xgen-workflow")),
			[]string{"update xgen-workflow"}},
		{"a host command ran", append(same[:len(same):len(same)], finished(apitype.OpReplace, "command:remote:Command", "install-xgen-2")),
			[]string{"1 host commands ran (replace install-xgen-2)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := converged(tt.events)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("converged site refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("not refused")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v does not name %q", err, w)
				}
			}
			if strings.Count(err.Error(), "install-xgen-2") > 1 {
				t.Errorf("a host command named twice: %v", err)
			}
		})
	}
}
