package components

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/internal/inprocess"
)

func TestSiteSecrets(t *testing.T) {
	secret := func(s string) pulumi.StringInput { return pulumi.ToSecret(pulumi.String(s)).(pulumi.StringOutput) }
	var checksum string
	rec, err := inprocess.Run(func(ctx *pulumi.Context) error {
		s, err := NewSiteSecrets(ctx, "site-secrets", SiteSecretsArgs{
			Namespace: "xgen",
			Values:    map[string]pulumi.StringInput{"POSTGRES_PASSWORD": secret("pg-pass"), "REDIS_PASSWORD": secret("redis-pass")},
			Registry:  &RegistryCredentials{Server: "10.100.1.65:5000", Username: "puller", Password: secret("reg-pass")},
		})
		if err != nil {
			return err
		}
		ctx.Export("checksum", s.Checksum.ApplyT(func(v string) string { checksum = v; return v }))
		return nil
	}, "test", "test", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	comp, _ := rec.Find("xgen:index:SiteSecrets", "site-secrets")

	app, ok := rec.Find("kubernetes:core/v1:Secret", "xgen-secrets")
	if !ok || app.Parent != comp.URN {
		t.Fatalf("app secret missing or not parented: %+v", app)
	}
	b, secrets := app.PlainInputs()
	if at(b, "data", "POSTGRES_PASSWORD") != b64("pg-pass") || !containsPath(secrets, "data") || at(b, "stringData") != nil {
		t.Errorf("data %v, secret paths %v (stringData must not be used: it does not round-trip under server-side apply)", at(b, "data"), secrets)
	}

	pull, ok := rec.Find("kubernetes:core/v1:Secret", "xgen-registry")
	if !ok {
		t.Fatal("pull secret missing")
	}
	pb, psecrets := pull.PlainInputs()
	if at(pb, "type") != "kubernetes.io/dockerconfigjson" || !containsPath(psecrets, "data") {
		t.Errorf("pull secret type %v, secret paths %v", at(pb, "type"), psecrets)
	}
	var doc struct {
		Auths map[string]struct{ Username, Password, Auth string } `json:"auths"`
	}
	raw, _ := base64.StdEncoding.DecodeString(at(pb, "data", ".dockerconfigjson").(string))
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	entry := doc.Auths["10.100.1.65:5000"]
	if dec, _ := base64.StdEncoding.DecodeString(entry.Auth); string(dec) != "puller:reg-pass" || entry.Username != "puller" {
		t.Errorf("docker config entry %+v", entry)
	}
	if want := ConfigChecksum(map[string]string{"POSTGRES_PASSWORD": "pg-pass", "REDIS_PASSWORD": "redis-pass"}); checksum != want {
		t.Errorf("checksum %q, want %q", checksum, want)
	}
}

func TestSiteSecretsRejectsIncompleteRegistry(t *testing.T) {
	_, err := inprocess.Run(func(ctx *pulumi.Context) error {
		_, err := NewSiteSecrets(ctx, "s", SiteSecretsArgs{
			Namespace: "xgen", Values: map[string]pulumi.StringInput{"A": pulumi.String("x")},
			Registry: &RegistryCredentials{Server: "r"},
		})
		return err
	}, "test", "test", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "Server, Username and Password") {
		t.Fatalf("got %v", err)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
