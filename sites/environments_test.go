package sites

import (
	"slices"
	"strings"
	"testing"
)

// besideSite is a compose site with dev its own environment and the given environments lines
// (each two-space indented under environments:).
func besideSite(envLines string) string {
	return "environment: dev\nenvironments:\n  dev: {domain: dev.example.com}\n" + envLines + composeSite("    backup: {}\n")
}

func TestEnvironmentBesideDefaults(t *testing.T) {
	site := mustParse(t, besideSite("  prd: {deploy: true, domain: prd.example.com}\n"))
	if len(site.Others) != 1 {
		t.Fatalf("others %d, want prd", len(site.Others))
	}
	prd := site.Others[0]
	c := prd.Config
	if c.Environment != "prd" || c.Namespace != "xgen-prd" || prd.Domain != "prd.example.com" || !prd.Beside() || site.Beside() {
		t.Errorf("prd: environment %s namespace %s domain %s", c.Environment, c.Namespace, prd.Domain)
	}
	in := c.Infra
	if in.Postgres.Database != "plateerag_prd" || in.Postgres.User != "xgen_prd" || in.Postgres.Host != site.Config.Infra.Postgres.Host ||
		in.Redis.Host != "redis-prd.xgen-system.svc.cluster.local" || in.Redis.Port != 6380 ||
		in.Qdrant.Host != "qdrant-prd.xgen-system.svc.cluster.local" || in.Qdrant.Port != 6343 || in.Qdrant.GRPCPort != 6344 ||
		in.ObjectStorage.DocumentBucket != "documents-prd" || in.ObjectStorage.FileStorageBucket != "files-prd" {
		t.Errorf("prd infra: %+v", in)
	}
	var names []string
	for _, s := range prd.Services {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"xgen-core", "xgen-frontend"}) {
		t.Errorf("prd services %v, want the site's", names)
	}
	var keys []string
	for _, k := range prd.Secrets {
		keys = append(keys, k.ConfigKey)
	}
	if !slices.Contains(keys, "prdPostgresPassword") || !slices.Contains(keys, "prdRedisPassword") || slices.Contains(keys, "postgresPassword") {
		t.Errorf("prd's secrets %v, want its own passwords", keys)
	}
	if got := ComposeServiceNames(&site.Config); !slices.Equal(got, []string{"minio", "postgres", "qdrant", "qdrant-prd", "redis", "redis-prd"}) {
		t.Errorf("compose services %v (what status expects running)", got)
	}
	// The site's host Services: its own, and prd's Redis and Qdrant.
	var hs []string
	for _, s := range site.HostServices {
		hs = append(hs, s.Name)
	}
	if !slices.Contains(hs, "redis-prd") || !slices.Contains(hs, "qdrant-prd") || !slices.Contains(hs, "redis") {
		t.Errorf("host services %v", hs)
	}
	// prd's network policies reach its own Redis on the compose host, on its port.
	for _, e := range prd.InfraEndpoints() {
		if e.Name == "redis" && (e.Address != "10.0.0.11" || !slices.Equal(e.Ports, []int{6380}) || e.CIDR != "10.0.0.11/32") {
			t.Errorf("prd's redis endpoint %+v", e)
		}
	}
}

func TestBadEnvironmentsBeside(t *testing.T) {
	prd := func(extra string) string {
		return besideSite("  prd: {deploy: true, domain: prd.example.com" + extra + "}\n")
	}
	checkBadConfigs(t, []badConfig{
		{"deploy on its own environment", "environment: prd\nenvironments: {prd: {deploy: true, domain: a.example.com}}\n" + composeSite("    backup: {}\n"),
			"site.environments.prd.deploy", "this stack's own environment"},
		{"settings without deploy", besideSite("  prd: {domain: prd.example.com, namespace: xgen-prd}\n"), "site.environments.prd", "add deploy: true"},
		{"no compose", "environment: dev\nenvironments: {dev: {domain: d.example.com}, prd: {deploy: true, domain: p.example.com}}\n" + minimalSite,
			"site.environments.prd.deploy", "needs infra.compose running postgres, redis and qdrant"},
		{"compose without qdrant", besideSite("  prd: {deploy: true, domain: p.example.com}\n") + "    services: {postgres: {}, redis: {}}\n",
			"site.environments.prd.deploy", "needs infra.compose running postgres, redis and qdrant"},
		{"no domain", besideSite("  prd: {deploy: true}\n"), "site.environments.prd.domain", "is required for an environment deployed beside"},
		{"same domain", besideSite("  prd: {deploy: true, domain: dev.example.com}\n"), "site.environments.prd.domain", "is also environments.dev.domain"},
		{"same namespace", prd(", namespace: xgen"), "site.environments.prd.namespace", "is also namespace"},
		{"bad namespace", prd(", namespace: Prd_NS"), "site.environments.prd.namespace", "namespace name"},
		{"unknown service", prd(", services: [xgen-model]"), "site.environments.prd.services[0]", "is not one of the site's services"},
		{"no service", prd(", services: []"), "site.environments.prd.services", "lists no service"},
		{"same database", prd(", data: {database: plateerag}"), "site.environments.prd.data.database", "is also infra.postgres.database"},
		{"same role", prd(", data: {user: xgen}"), "site.environments.prd.data.user", "is also infra.postgres.user"},
		{"bad database", prd(", data: {database: 'prd-db'}"), "site.environments.prd.data.database", "plain PostgreSQL name"},
		{"same bucket", prd(", data: {documentBucket: files}"), "site.environments.prd.data.documentBucket", "is also infra.objectStorage.fileStorageBucket"},
		{"port taken", prd(", data: {redisPort: 6333}"), "site.environments.prd.data.redisPort", "is also infra.qdrant.port"},
		{"tag", prd(", tag: 'a b'"), "site.environments.prd.tag", "image tag"},
		{"alias without domain", "environments: {prd: {aliases: [a.example.com]}}\n" + minimalSite, "site.environments.prd.aliases[0]", "needs environments.prd.domain"},
		{"alias twice", besideSite("  prd: {deploy: true, domain: prd.example.com, aliases: [prd.example.com]}\n"), "site.environments.prd.aliases[0]", "is listed already"},
		{"alias of another environment", besideSite("  prd: {deploy: true, domain: prd.example.com, aliases: [dev.example.com]}\n"), "site.environments.prd.aliases[0]", "is also environments.dev.domain"},
		{"bad alias", besideSite("  prd: {deploy: true, domain: prd.example.com, aliases: ['Not A Host']}\n"), "site.environments.prd.aliases[0]", "lowercase host name"},
		{"ingress none", "ingress: {type: none}\n" + prd(""), "site.environments.prd.deploy", "needs an ingress"},
	})
}

func TestEnvironmentSecretsAreKnownKeys(t *testing.T) {
	// A prd password set while prd is not deployed beside is refused as unused, by name.
	js, err := yamlToJSON([]byte(composeSite("    backup: {}\n")))
	if err != nil {
		t.Fatal(err)
	}
	cfg, keys := requiredSecrets(string(js))
	cfg[SiteKey] = string(js)
	cfg["xgen-infra:prdPostgresPassword"] = "x"
	keys = append(keys, "xgen-infra:prdPostgresPassword")
	_, err = Parse("test", cfg, keys)
	if err == nil || !strings.Contains(err.Error(), "environments.prd.deploy is not true") {
		t.Errorf("an unused prd password: %v", err)
	}
}
