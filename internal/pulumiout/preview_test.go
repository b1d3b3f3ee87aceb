package pulumiout

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// The fixtures are unedited `pulumi preview --json` outputs of this program (CLI v3.259.0,
// pulumi-kubernetes 4.32.0): xgen right after `up`, and after one config value of xgen-core
// changed.
func loadPreview(t *testing.T, name string) *Preview {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var p Preview
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestPreviewDigest(t *testing.T) {
	noop := loadPreview(t, "xgen-noop.json")
	if noop.Changed() != 0 || len(noop.Changes()) != 0 || noop.ChangeSummary[apitype.OpSame] != 47 {
		t.Errorf("no-op preview: changed %d, changes %v, summary %v", noop.Changed(), noop.Changes(), noop.ChangeSummary)
	}

	update := loadPreview(t, "xgen-update.json")
	if update.Changed() != 2 {
		t.Errorf("update changed %d resources, want 2 (%s)", update.Changed(), Summary(update.ChangeSummary))
	}
	type step struct{ op, typ, parent string }
	var got []step
	for _, s := range update.Changes() {
		got = append(got, step{string(s.Op), s.NewState.Type, s.Parent()})
	}
	const core = "urn:pulumi:xgen::xgen-infra::xgen:index:XgenService::xgen-core"
	want := []step{
		{"replace", "kubernetes:core/v1:ConfigMap", core},
		{"update", "kubernetes:apps/v1:Deployment", core},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	if len(update.Errors()) != 0 || len(update.Diagnostics) != 1 {
		t.Errorf("diagnostics %v", update.Diagnostics)
	}
	if s := Summary(update.ChangeSummary); s != "replace=1 same=45 update=1" {
		t.Errorf("summary %q", s)
	}
}

func TestDescribeEvents(t *testing.T) {
	log := []byte(`{"sequence":1,"timestamp":1,"resOutputsEvent":{"metadata":{"op":"create","urn":"urn:pulumi:s::p::kubernetes:apps/v1:Deployment::xgen-core","type":"kubernetes:apps/v1:Deployment"}}}
{"sequence":2,"timestamp":1,"resOutputsEvent":{"metadata":{"op":"same","urn":"urn:pulumi:s::p::kubernetes:core/v1:Service::xgen-core","type":"kubernetes:core/v1:Service"}}}
{"sequence":3,"timestamp":1,"resOutputsEvent":{"metadata":{"op":"create","urn":"urn:pulumi:s::p::pulumi:pulumi:Stack::p-s","type":"pulumi:pulumi:Stack"}}}
{"sequence":4,"timestamp":1,"diagnosticEvent":{"message":"warning: the services reach postgresql\n","color":"never","severity":"warning"}}
{"sequence":5,"timestamp":1,"diagnosticEvent":{"message":"debug noise","color":"never","severity":"debug"}}
`)
	events, err := ReadEvents(log)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range events {
		if s := Describe(e); s != "" {
			lines = append(lines, s)
		}
	}
	want := []string{"create   kubernetes:apps/v1:Deployment xgen-core", "warning: the services reach postgresql"}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("lines %q, want %q", lines, want)
	}
}
