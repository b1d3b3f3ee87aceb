package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xgen-infra/sites"
)

var update = flag.Bool("update", false, "rewrite testdata/*.images")

// The image list of every site is golden: a change to what a site runs shows in review as
// a change of what a closed network must be given.
func TestImageListsAreGolden(t *testing.T) {
	stackFiles, err := filepath.Glob("../../Pulumi.*.yaml")
	if err != nil || len(stackFiles) == 0 {
		t.Fatalf("no stack files: %v", err)
	}
	for _, f := range stackFiles {
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		t.Run(stack, func(t *testing.T) {
			var out, errs bytes.Buffer
			if code := run(context.Background(), []string{"list", "--dir", "../..", "--stack", stack}, &out, &errs); code != 0 {
				t.Fatalf("exit %d: %s", code, errs.String())
			}
			golden := filepath.Join("testdata", stack+".images")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./cmd/images -update)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("image list of %s changed (go test ./cmd/images -update, and review):\n%s", stack, out.String())
			}
		})
	}
}

// The list is exactly the site's: every service it runs and none it does not (the
// xgen-jeju incident: xgen-model was asked for where it is not deployed).
func TestImageListHasOnlyTheSitesServices(t *testing.T) {
	cases := []struct {
		stack   string
		has     []string
		hasNone []string
	}{
		{"xgen-jeju", []string{"xgen-frontend", "xgen-core", "postgres", "minio-init"}, []string{"xgen-model", "istiod", "istio-ingressgateway"}},
		{"xgen", []string{"xgen-model", "istiod", "istio-ingressgateway", "postgres"}, nil},
		{"xgen-aww", []string{"xgen-core"}, []string{"xgen-model", "istiod", "postgres", "minio"}},
	}
	for _, tc := range cases {
		var out, errs bytes.Buffer
		if code := run(context.Background(), []string{"list", "--json", "--dir", "../..", "--stack", tc.stack}, &out, &errs); code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.stack, code, errs.String())
		}
		var list []sites.SiteImage
		if err := json.Unmarshal(out.Bytes(), &list); err != nil {
			t.Fatal(err)
		}
		runs := map[string]bool{}
		for _, im := range list {
			runs[im.For] = true
		}
		for _, want := range tc.has {
			if !runs[want] {
				t.Errorf("%s: no image for %s", tc.stack, want)
			}
		}
		for _, not := range tc.hasNone {
			if runs[not] {
				t.Errorf("%s: lists an image for %s, which it does not run", tc.stack, not)
			}
		}
	}
}

func TestUsageAndUnknownStack(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"list"}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "usage: images") {
		t.Errorf("no --stack: exit %d %s", code, errs.String())
	}
	errs.Reset()
	if code := run(context.Background(), []string{"list", "--dir", "../..", "--stack", "nowhere"}, &out, &errs); code != 1 || !strings.Contains(errs.String(), "Pulumi.nowhere.yaml") {
		t.Errorf("unknown stack: exit %d %s", code, errs.String())
	}
	errs.Reset()
	if code := run(context.Background(), []string{"bundle", "--dir", "../..", "--stack", "xgen", "--out", t.TempDir(), "--tool", "podman"}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "use skopeo or docker") {
		t.Errorf("unknown tool: exit %d %s", code, errs.String())
	}
}
