package stack

import (
	"encoding/base64"
	"strings"
	"testing"

	"xgen-infra/components/compose"
	"xgen-infra/internal/inprocess"
	"xgen-infra/sites"
)

// runSite runs the program in-process on a stack file of the repository, with a
// placeholder for every secret the site needs (each placeholder names its config key).
func runSite(t *testing.T, stackFile string) *inprocess.Recorder {
	t.Helper()
	config, secretKeys, err := inprocess.LoadStackFile("../" + stackFile)
	if err != nil {
		t.Fatal(err)
	}
	secretKeys, err = inprocess.AddRequiredSecretPlaceholders(config, secretKeys)
	if err != nil {
		t.Fatal(err)
	}
	stack := strings.TrimSuffix(strings.TrimPrefix(stackFile, "Pulumi."), ".yaml")
	t.Setenv(ImagePreflightEnv, "off")
	rec, err := inprocess.Run(Program, sites.ConfigNamespace, stack, config, secretKeys)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestSecretRoutes: every secret reaches the Kubernetes Secret under the EnvName and the
// compose .env under the ComposeEnv that sites.SecretKeys gives it — the one table of
// secret names — and nowhere under another name.
func TestSecretRoutes(t *testing.T) {
	rec := runSite(t, "Pulumi.xgen.yaml") // compose with all four services
	var env, secretData string
	for _, r := range rec.Resources {
		plain, _ := r.PlainInputs()
		switch {
		case r.Type == "command:remote:Command" && r.Name == "infra-env":
			env, _ = plain["stdin"].(string)
		case r.Type == "kubernetes:core/v1:Secret" && inprocess.Get(plain, "metadata", "name") == "xgen-secrets":
			data, _ := inprocess.Get(plain, "data").(map[string]any)
			for k, v := range data { // base64, as the component writes data (not stringData)
				decoded, err := base64.StdEncoding.DecodeString(v.(string))
				if err != nil {
					t.Fatalf("xgen-secrets %s: %v", k, err)
				}
				secretData += k + "=" + string(decoded) + "\n"
			}
		}
	}
	if env == "" || secretData == "" {
		t.Fatalf("no .env (%d bytes) or xgen-secrets (%d bytes)", len(env), len(secretData))
	}
	for _, k := range sites.SecretKeys {
		value := inprocess.Placeholder(sites.ConfigNamespace + ":" + k.ConfigKey)
		if k.ComposeEnv != "" && !strings.Contains(env, k.ComposeEnv+"="+`"`+value+`"`) {
			t.Errorf("%s: the .env has no %s with its value", k.ConfigKey, k.ComposeEnv)
		}
		if k.EnvName != "" && !strings.Contains(secretData, k.EnvName+"="+value+"\n") {
			t.Errorf("%s: xgen-secrets has no %s with its value", k.ConfigKey, k.EnvName)
		}
		for _, text := range []string{env, secretData} {
			if n := strings.Count(text, value); n > 1 && k.ConfigKey != sites.SecretObjectStorageAccessKey && k.ConfigKey != sites.SecretObjectStorageSecretKey {
				t.Errorf("%s appears %d times", k.ConfigKey, n)
			}
		}
	}
}

// TestEveryComposeSecretHasAConfigKey: each secret the compose project's .env carries is a
// secret stack config key's ComposeEnv (sites.SecretKeys), so the table and the compose file
// cannot drift apart: a variable the table does not name would reach no host.
func TestEveryComposeSecretHasAConfigKey(t *testing.T) {
	named := map[string]bool{}
	for _, k := range sites.SecretKeys {
		if k.ComposeEnv != "" {
			named[k.ComposeEnv] = true
		}
	}
	full := compose.Spec{DataDir: "/srv/x", Postgres: &compose.Postgres{Image: "postgres:15.4", Database: "d", User: "u", Port: 5432},
		Redis: &compose.Redis{Image: "redis:8.0", Port: 6379}, Qdrant: &compose.Qdrant{Image: "qdrant", HTTPPort: 6333, GRPCPort: 6334},
		MinIO:     &compose.MinIO{Image: "minio", InitImage: "mc", Port: 9000, ConsolePort: 9001, Buckets: []string{"b"}},
		Exporters: &compose.Exporters{PostgresImage: "pe", RedisImage: "re"}}
	names := full.SecretEnv()
	if len(names) == 0 {
		t.Fatal("the full project reads no secret")
	}
	for _, name := range names {
		if !named[name] {
			t.Errorf("the compose project reads %s, which no secret config key gives (sites.SecretKeys ComposeEnv)", name)
		}
	}
}
