package fleet

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
	"xgen-infra/internal/pulumiout"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// The fixtures are gzipped, unedited copies of ../../../shared/fixtures/preview (real
// `pulumi preview --json` outputs of this program; see that folder's README).
func fixture(t *testing.T, name string) *pulumiout.Preview {
	t.Helper()
	f, err := os.Open("testdata/" + name + ".json.gz")
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

func TestDigestOfRealPreviews(t *testing.T) {
	cases := []struct {
		fixture string
		changed int
		dangers []string // "op type name"
		drifted bool
	}{
		{"xgen-create", 47, nil, true},
		{"xgen-jeju-create", 42, nil, true},
		{"lotteimall-create", 43, nil, true},
		{"xgen-aww-create", 43, nil, true},
		{"xgen-noop", 0, nil, false},
		{"xgen-jeju-noop", 0, nil, false},
		{"xgen-update", 2, nil, true},
		{"xgen-delete", 18, nil, true},
		// The namespace rename: the old namespace deleted, the Secret replaced.
		{"xgen-replace", 37, []string{"delete kubernetes:core/v1:Namespace xgen", "replace kubernetes:core/v1:Secret xgen-secrets"}, true},
		{"jeju-drift", 2, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			p := fixture(t, tc.fixture)
			r := Digest(tc.fixture, p)
			if r.Changed() != tc.changed || r.Err != "" || r.Drifted() != tc.drifted {
				t.Errorf("changed %d (want %d), err %q, drifted %v; summary %v", r.Changed(), tc.changed, r.Err, r.Drifted(), r.Summary)
			}
			for op, n := range p.ChangeSummary {
				if r.Summary[op] != n {
					t.Errorf("%s: %d, the engine's change summary says %d", op, r.Summary[op], n)
				}
			}
			var got []string
			for _, d := range r.Dangers {
				got = append(got, string(d.Op)+" "+d.Type+" "+d.Name)
				if d.Why == "" {
					t.Errorf("%v has no reason", d)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.dangers) {
				t.Errorf("dangers %v, want %v", got, tc.dangers)
			}
		})
	}
	r := Digest("xgen", fixture(t, "xgen-replace"))
	for _, d := range r.Dangers {
		if d.Type == "kubernetes:core/v1:Secret" && !slices.Equal(d.ReplaceReasons, []string{"metadata.namespace"}) {
			t.Errorf("the Secret's replace reasons %v", d.ReplaceReasons)
		}
	}
}

// derived is a real step of xgen-update (the ConfigMap replace) turned into a step of
// another resource: what a preview of the host layer or AWS would hold.
func derived(t *testing.T, op apitype.OpType, typ, name string) *pulumiout.Preview {
	t.Helper()
	p := fixture(t, "xgen-update")
	var step pulumiout.Step
	for _, s := range p.Steps {
		if s.Op == apitype.OpReplace {
			step = s
		}
	}
	step.Op = op
	step.URN = step.URN[:strings.LastIndex(step.URN, "::")+2] + name
	step.NewState.Type, step.OldState.Type = typ, typ
	return &pulumiout.Preview{Steps: []pulumiout.Step{step}, ChangeSummary: map[apitype.OpType]int{op: 1}}
}

func TestDangerOnDerivedSteps(t *testing.T) {
	cases := []struct {
		op         apitype.OpType
		typ, name  string
		dangerous  bool
		whyContain string
	}{
		{apitype.OpReplace, "command:remote:Command", "infra-project", true, "compose project"},
		{apitype.OpDelete, "command:remote:Command", "host-xgen-2", true, "uninstalls K3s"},
		{apitype.OpDelete, "command:remote:Command", "member-xgen-2", true, "drains"},
		{apitype.OpReplace, "command:remote:CopyToRemote", "upload-k3s-xgen-1", true, "K3s binary"},
		{apitype.OpDeleteReplaced, "aws:s3/bucketV2:BucketV2", "bucket-xgen-aww", true, "objects"},
		{apitype.OpDelete, "aws:iam/accessKey:AccessKey", "xgen-aww-objects-key-1", true, "access key"},
		{apitype.OpReplace, "kubernetes:core/v1:PersistentVolumeClaim", "data", true, "volume"},
		{apitype.OpDelete, "kubernetes:helm.sh/v4:Chart", "istio-base", true, "CRDs"},
		{apitype.OpReplace, "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", "virtualservices.networking.istio.io", true, "every Gateway"},
		{apitype.OpUpdate, "kubernetes:helm.sh/v4:Chart", "istiod", false, ""},    // an Istio upgrade: updated in place
		{apitype.OpUpdate, "command:remote:Command", "install-xgen-1", false, ""}, // an upgrade: updated in place
		{apitype.OpReplace, "command:remote:Command", "infra-up", false, ""},
		{apitype.OpReplace, "command:remote:Command", "preflight-xgen-1", false, ""},
		{apitype.OpCreate, "aws:s3/bucketV2:BucketV2", "bucket-new", false, ""},
	}
	for _, tc := range cases {
		r := Digest("s", derived(t, tc.op, tc.typ, tc.name))
		if got := len(r.Dangers) == 1; got != tc.dangerous {
			t.Errorf("%s %s %s: danger %v, want %v", tc.op, tc.typ, tc.name, r.Dangers, tc.dangerous)
			continue
		}
		if tc.dangerous && !strings.Contains(r.Dangers[0].Why, tc.whyContain) {
			t.Errorf("%s: why %q", tc.name, r.Dangers[0].Why)
		}
	}
}

func TestMatrixGolden(t *testing.T) {
	var reports []Report
	for _, f := range []string{"xgen-replace", "xgen-jeju-noop", "lotteimall-create", "xgen-update"} {
		reports = append(reports, Digest(f, fixture(t, f)))
	}
	reports = append(reports, Report{Site: "broken", Err: "invalid stack config (1 problem):\n  - xgen-infra:site: ..."})
	for _, md := range []bool{true, false} {
		name := "testdata/matrix.txt.golden"
		if md {
			name = "testdata/matrix.md.golden"
		}
		got := Matrix(reports, md)
		if *update {
			if err := os.WriteFile(name, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs (go test ./internal/fleet -update rewrites it):\n%s", name, got)
		}
	}
}

func TestParseWaves(t *testing.T) {
	known := []string{"a", "b", "c"}
	if w, err := ParseWaves("a,b:c", known); err != nil || len(w) != 2 || !slices.Equal(w[0], []string{"a", "b"}) || !slices.Equal(w[1], []string{"c"}) {
		t.Errorf("a,b:c = %v, %v", w, err)
	}
	for spec, want := range map[string]string{"a,a": "in two waves", "a:d": "d is not a stack", "a,:b": "empty site name", "": "empty site name"} {
		if _, err := ParseWaves(spec, known); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", spec, err, want)
		}
	}
}

// fake is a canned stack.
type fake struct {
	name    string
	preview *pulumiout.Preview
	err     error
	upErr   error
	ups     *[]string
}

func (f fake) Name() string { return f.name }
func (f fake) Preview(context.Context, bool) (*pulumiout.Preview, error) {
	return f.preview, f.err
}
func (f fake) Up(context.Context) error {
	*f.ups = append(*f.ups, f.name)
	return f.upErr
}
func (f fake) Outputs(context.Context) (map[string]any, error) { return nil, f.err }

func TestUpStopsAfterAFailedWave(t *testing.T) {
	var ups []string
	noop := fixture(t, "xgen-noop")
	ok := func(n string) Stack { return fake{name: n, preview: noop, ups: &ups} }
	bad := fake{name: "b", preview: noop, upErr: errors.New("pulumi up: boom"), ups: &ups}
	r := Up(context.Background(), [][]Stack{{ok("a"), bad}, {ok("c")}}, 2, nil)
	if !slices.Equal(r.Rolled, []string{"a"}) || r.Failed["b"] == "" || !slices.Equal(r.NotRolled, []string{"c"}) || slices.Contains(ups, "c") {
		t.Errorf("rollout %+v, ups %v", r, ups)
	}
	// A site that does not converge fails its health check.
	ups = nil
	r = Up(context.Background(), [][]Stack{{fake{name: "d", preview: fixture(t, "xgen-update"), ups: &ups}}}, 1, nil)
	if !strings.Contains(r.Failed["d"], "health check") {
		t.Errorf("a site with changes left after up: %+v", r)
	}
	// A converged site that is not healthy (site status degraded) stops the rollout too.
	ups = nil
	sick := func(_ context.Context, s Stack) error {
		if s.Name() == "e" {
			return errors.New("site status DEGRADED: xgen-core: 0/1 available")
		}
		return nil
	}
	r = Up(context.Background(), [][]Stack{{ok("a"), ok("e")}, {ok("f")}}, 2, sick)
	if !slices.Equal(r.Rolled, []string{"a"}) || r.Failed["e"] != "health check: site status DEGRADED: xgen-core: 0/1 available" ||
		!slices.Equal(r.NotRolled, []string{"f"}) || slices.Contains(ups, "f") {
		t.Errorf("an unhealthy site: %+v, ups %v", r, ups)
	}
}

func TestImageVersion(t *testing.T) {
	cases := map[string]string{
		"docker.x2bee.com/xgen/main/xgen-core:latest-amd64":                          "latest-amd64",
		"10.0.0.5:30500/xgen/main/xgen-core:1.4.2":                                   "1.4.2",
		"docker.x2bee.com/xgen/main/xgen-core:latest-amd64@sha256:0123456789abcdef0": "latest-amd64@0123456789ab",
		"10.0.0.5:30500/xgen/main/xgen-core@sha256:0123456789abcdef0":                "@0123456789ab",
	}
	for ref, want := range cases {
		if got := ImageVersion(ref); got != want {
			t.Errorf("%s: %q, want %q", ref, got, want)
		}
	}
}
