package rendered

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/helmrender"
	"xgen-infra/internal/testkit/sitetest"
)

var update = flag.Bool("update", false, "rewrite rendered/ from the current program")

// renderStack produces every file of rendered/<stack>/: one YAML per Kubernetes object,
// resources.txt (the resource tree with options) and under _hosts/ every host command with
// what it reads on standard input.
func renderStack(t testing.TB, stackFile string) map[string][]byte {
	return renderRecorded(t, sitetest.Run(t, stackFile))
}

// renderRecorded renders what one run of the program registered.
func renderRecorded(t testing.TB, rec *inprocess.Recorder) map[string][]byte {
	objs, err := rec.KubernetesObjects()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"resources.txt": []byte(rec.Tree())}
	for _, o := range objs {
		y, err := o.YAML()
		if err != nil {
			t.Fatal(err)
		}
		file := o.File()
		// An add-on's objects are read together, whatever their namespace.
		if addon := sitetest.AddonOf(rec, o.Resource); addon != "" {
			file = "_addons/" + addon + "/" + file
		}
		if _, dup := files[file]; dup {
			t.Fatalf("two objects render to %s", file)
		}
		files[file] = y
	}
	// What the add-on charts create, rendered from the recorded chart inputs.
	helmrender.RenderRecorded(t, rec, files)
	// AWS resources with their inputs and the options that keep data (retain, import).
	for _, res := range rec.Resources {
		if !strings.HasPrefix(res.Type, "aws:") && res.Type != "pulumi:providers:aws" {
			continue
		}
		plain, secrets := res.PlainInputs()
		doc := map[string]any{"type": res.Type, "name": res.Name, "inputs": plain}
		if len(secrets) > 0 {
			doc["secretInputs"] = secrets
		}
		if res.RetainOnDelete {
			doc["retainOnDelete"] = true
		}
		if res.ImportID != "" {
			doc["import"] = res.ImportID
		}
		y, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		kind := res.Type[strings.LastIndex(res.Type, ":")+1:]
		files["_aws/"+kind+"-"+res.Name+".yaml"] = y
	}
	// Host commands as they run: reviewing a change to a script or a host is reading a diff.
	// (Local commands, e.g. infra-placement, run on the operator's machine; same place.)
	for _, res := range rec.Resources {
		if res.Type != "command:remote:Command" && res.Type != "command:local:Command" {
			continue
		}
		plain, _ := res.PlainInputs()
		// stdin too: the files a command writes (compose.yaml, config.yaml, ...); secrets in
		// it are the placeholders of this in-process run.
		for field, suffix := range map[string]string{"create": ".sh", "delete": ".delete.sh", "stdin": ".stdin"} {
			if script, ok := plain[field].(string); ok {
				files["_hosts/"+res.Name+suffix] = []byte(script)
			}
		}
	}
	return files
}

// TestRendered fails when rendered/ is stale; `make render` (go test -run TestRendered
// -update .) rewrites it.
func TestRendered(t *testing.T) {
	for _, stackFile := range sitetest.StackFiles(t) {
		stack := sitetest.StackName(stackFile)
		t.Run(stack, func(t *testing.T) {
			want := renderStack(t, stackFile)
			dir := filepath.Join("rendered", stack)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				for name, data := range want {
					p := filepath.Join(dir, name)
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			got := map[string][]byte{}
			err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				data, err := os.ReadFile(p)
				rel, _ := filepath.Rel(dir, p)
				got[filepath.ToSlash(rel)] = data
				return err
			})
			if err != nil {
				t.Fatalf("%s: %v (run `make render`)", dir, err)
			}
			var stale []string
			for name, data := range want {
				if !bytes.Equal(got[name], data) {
					stale = append(stale, name)
				}
			}
			for name := range got {
				if _, ok := want[name]; !ok {
					stale = append(stale, name+" (no longer produced)")
				}
			}
			sort.Strings(stale)
			if len(stale) > 0 {
				t.Errorf("rendered/%s is stale; run `make render` and review the diff:\n  %s", stack, strings.Join(stale, "\n  "))
			}
		})
	}
}
