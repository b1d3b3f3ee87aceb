package sites_test

// FuzzSiteConfig: any site object the decoder and validator accept must render (the whole
// program under the mock monitor); nothing may panic. `make fuzz` runs it for 10 minutes;
// `go test` runs the seeds (every stack file's site object).

import (
	"os"
	"path/filepath"
	"testing"

	"xgen-infra/internal/inprocess"
	"xgen-infra/sites"
	"xgen-infra/stack"
)

// TestMain: no registry is reachable here; the image preflight has its own tests (images/,
// the root package's TestImagePreflight).
func TestMain(m *testing.M) {
	_ = os.Setenv(stack.ImagePreflightEnv, "off")
	os.Exit(m.Run())
}

func FuzzSiteConfig(f *testing.F) {
	files, _ := filepath.Glob("../Pulumi.*.yaml")
	files = append(files, "../testdata/Pulumi.acme-busan.yaml")
	for _, file := range files {
		config, _, err := inprocess.LoadStackFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(config[sites.SiteKey])
	}
	f.Add(`{"services":{"xgen-core":{}},"infra":{"compose":{"address":"10.0.0.5","hostKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMC7sdolJu6mTZshErUhkmf00a/2gf5ebVbOmQ61+JOb","ssh":{"user":"ops"}}}}`)
	f.Add(`{"services":{"xgen-core":{}},"infra":{"objectStorage":{"documentBucket":"a-docs","fileStorageBucket":"a-files"}},"aws":{"region":"eu-west-1","s3":{"credentials":"secrets"}}}`)
	f.Add(`{"services":{"xgen-core":{}},"environments":{"prd":{"domain":"a.example.com"}},"cluster":{"k3s":{"version":"v1.31.4+k3s1"},"ssh":{"user":"ops"},"servers":[{"name":"s1","address":"10.0.0.11","hostKey":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMC7sdolJu6mTZshErUhkmf00a/2gf5ebVbOmQ61+JOb"}],"addons":{"istio":{"gateway":{"serviceType":"NodePort"}},"registry":{"enabled":true}}}}`)
	f.Fuzz(func(t *testing.T, site string) {
		config := map[string]string{sites.SiteKey: site}
		secretKeys, err := inprocess.AddRequiredSecretPlaceholders(config, nil)
		if err != nil {
			return // refused by the decoder: fine, as long as nothing panicked
		}
		if _, err := sites.Parse("fuzz", config, secretKeys); err != nil {
			return // refused with problems: fine
		}
		if _, err := inprocess.Run(stack.Program, sites.ConfigNamespace, "fuzz", config, secretKeys); err != nil {
			t.Fatalf("an accepted site object fails to render: %v\n%s", err, site)
		}
	})
}
