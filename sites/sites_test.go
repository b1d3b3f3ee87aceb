package sites

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// testKubeconfig has the shape of a kubeconfig (the program checks it).
const testKubeconfig = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://10.0.0.1:6443\"}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\n"

// requiredSecrets sets every secret that the site object (JSON) needs, as an operator
// would; its own problems surface when the caller parses it.
func requiredSecrets(siteJSON string) (map[string]string, []string) {
	var c Config
	decodeStrict([]byte(siteJSON), SiteKey, &c)
	SetDefaults(&c, "test")
	cfg := map[string]string{}
	var keys []string
	for _, k := range RequiredSecretKeys(&c) {
		if !k.Required(&c) {
			continue
		}
		key := ConfigNamespace + ":" + k.ConfigKey
		cfg[key] = "s3cr3t-" + k.ConfigKey
		switch k.ConfigKey {
		case "kubeconfig":
			cfg[key] = testKubeconfig
		case "sshPrivateKey":
			cfg[key] = testPrivateKey
		}
		keys = append(keys, key)
	}
	return cfg, keys
}

// parseSite parses a site object written as YAML with every secret set.
func parseSite(t *testing.T, siteYAML string) (*Site, error) {
	t.Helper()
	js, err := yamlToJSON([]byte(siteYAML))
	if err != nil {
		t.Fatalf("test YAML: %v", err)
	}
	cfg, keys := requiredSecrets(string(js))
	cfg[SiteKey] = string(js)
	return Parse("test", cfg, keys)
}

// badConfig is one refused site: the key path a problem must name and a fragment of its fix.
type badConfig struct{ name, site, key, want string }

// checkBadConfigs expects each site refused with a problem at its key containing want.
func checkBadConfigs(t *testing.T, cases []badConfig) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSite(t, tc.site)
			if err == nil {
				t.Fatal("bad config accepted")
			}
			probs, ok := err.(Problems)
			if !ok {
				t.Fatalf("not a list of problems: %v", err)
			}
			for _, p := range probs {
				if p.Key == "xgen-infra:"+tc.key && strings.Contains(p.String(), tc.want) {
					return
				}
			}
			t.Errorf("no problem at xgen-infra:%s containing %q; got:\n%v", tc.key, tc.want, err)
		})
	}
}

func mustParse(t *testing.T, siteYAML string) *Site {
	t.Helper()
	site, err := parseSite(t, siteYAML)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return site
}

const minimalSite = `
services:
  xgen-frontend: {}
  xgen-core: {}
`

func TestCatalogHasEveryServiceAndCompleteDefaults(t *testing.T) {
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"xgen-backend-gateway", "xgen-core", "xgen-documents", "xgen-frontend", "xgen-mcp-station", "xgen-model", "xgen-workflow"}
	if got := sortedMapKeys(cat.Services); !reflect.DeepEqual(got, want) {
		t.Errorf("catalog services = %v, want %v", got, want)
	}
	if missing := checkComplete(reflect.ValueOf(cat.Global.Defaults), "global.defaults"); len(missing) > 0 {
		t.Errorf("catalog defaults leave fields unset: %v", missing)
	}
}

func TestCatalogRejectsIncompleteDefaults(t *testing.T) {
	_, err := parseCatalog([]byte("global:\n  defaults:\n    port: 8000\nservices: {}\n"))
	if err == nil || !strings.Contains(err.Error(), "global.defaults.autoscaling") {
		t.Fatalf("want an error naming the unset default, got %v", err)
	}
}

func TestMisspeltKeysAreAllReportedWithPathAndSuggestion(t *testing.T) {
	data, err := os.ReadFile("testdata/misspelt-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = parseSite(t, string(data))
	if err == nil {
		t.Fatal("misspelt keys were accepted")
	}
	for _, want := range []string{
		`xgen-infra:site.enviroment: unknown key; did you mean "environment"?`,
		`xgen-infra:site.image.registy: unknown key; did you mean "registry"?`,
		`xgen-infra:site.services.xgen-core.replcas: unknown key; did you mean "replicas"?`,
		`xgen-infra:site.services.xgen-core.resources.limits.memroy: unknown key; did you mean "memory"?`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if n := len(err.(Problems)); n != 4 {
		t.Errorf("got %d problems, want 4:\n%v", n, err)
	}
}

func TestTypeMismatchNamesTheKey(t *testing.T) {
	_, err := parseSite(t, "services:\n  xgen-core:\n    replicas: two\n")
	if err == nil || !strings.Contains(err.Error(), "services.xgen-core.replicas") || !strings.Contains(err.Error(), "whole number") {
		t.Fatalf("got %v", err)
	}
}

// TestCLITypedValues: `pulumi config set --path` stores true/false as booleans and integers
// as numbers; where a string is expected the error says how to store a string.
func TestCLITypedValues(t *testing.T) {
	_, err := parseSite(t, "vars: {DEBUG: true}\nimage: {tag: 20261101}\n"+minimalSite)
	for _, want := range []string{
		"xgen-infra:site.vars.DEBUG: true: must be a string",
		"xgen-infra:site.image.tag: 20261101: must be a string",
		"--type string",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	site := mustParse(t, minimalSite)
	c := site.Config
	checks := []struct {
		name      string
		got, want any
	}{
		{"project", c.Project, "xgen"},
		{"namespace follows project", c.Namespace, "xgen"},
		{"sitePath", c.SitePath, "main"},
		{"environment", c.Environment, "prd"},
		{"registry", c.Image.Registry, "docker.x2bee.com"},
		{"tag", c.Image.Tag, "latest-amd64"},
		{"postgres host", c.Infra.Postgres.Host, "postgresql.xgen-system.svc.cluster.local"},
		{"postgres port", c.Infra.Postgres.Port, 5432},
		{"redis host", c.Infra.Redis.Host, "redis.xgen-system.svc.cluster.local"},
		{"qdrant host", c.Infra.Qdrant.Host, "qdrant.xgen-system.svc.cluster.local"},
		{"object storage", c.Infra.ObjectStorage.Endpoint, "http://minio.xgen-system.svc.cluster.local:9000"},
		{"object storage secure follows scheme", *c.Infra.ObjectStorage.Secure, false},
		{"ingress type", c.Ingress.Type, "istio"},
		{"streaming paths", c.Ingress.StreamingPaths, DefaultStreamingPaths},
		{"no domain", site.Domain, ""},
		{"no pull secret", site.HasRegistryCredentials, false},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestDefaultsFollowOtherSettings(t *testing.T) {
	site := mustParse(t, `
project: acme
infra:
  namespace: infra
  objectStorage: { endpoint: "https://s3.example.com" }
ingress: { type: none }
services: { xgen-core: {} }
`)
	c := site.Config
	if c.Namespace != "acme" || c.Infra.Redis.Host != "redis.infra.svc.cluster.local" || !*c.Infra.ObjectStorage.Secure {
		t.Errorf("namespace %q, redis %q, secure %v", c.Namespace, c.Infra.Redis.Host, *c.Infra.ObjectStorage.Secure)
	}
	svc, _ := site.Service("xgen-core")
	if svc.Image != "docker.x2bee.com/acme/main/xgen-core:latest-amd64" {
		t.Errorf("image %q", svc.Image)
	}
}

// TestBadConfigs: each bad value is rejected with the config key, the value and a fix.
func TestBadConfigs(t *testing.T) {
	cases := []struct {
		name, site string
		key, want  string
	}{
		{"environment", "environment: prod\n" + minimalSite, "site.environment", `"prod": is not an environment; use one of dev, stg, prd`},
		{"environment key", "environments: {production: {domain: a.example.com}}\n" + minimalSite, "site.environments.production", "not an environment"},
		{"domain", "environments: {prd: {domain: 'Not A Host'}}\n" + minimalSite, "site.environments.prd.domain", "lowercase host name"},
		{"namespace", "namespace: Xgen_NS\n" + minimalSite, "site.namespace", "DNS label"},
		{"project", "project: 'x/y'\n" + minimalSite, "site.project", "DNS label"},
		{"sitePath", "sitePath: Main Branch\n" + minimalSite, "site.sitePath", "image path segment"},
		{"registry with scheme", "image: {registry: 'https://docker.x2bee.com'}\n" + minimalSite, "site.image.registry", "no scheme"},
		{"tag", "image: {tag: 'latest amd64'}\n" + minimalSite, "site.image.tag", "image tag"},
		{"digest", "ingress: {type: none}\nservices: {xgen-core: {digest: 'sha256:abc'}}", "site.services.xgen-core.digest", `"sha256:" and 64 lowercase hex digits`},
		{"digest without algorithm", "ingress: {type: none}\nservices: {xgen-core: {digest: '" + strings.Repeat("a", 64) + "'}}", "site.services.xgen-core.digest", "manifest digest"},
		{"pull policy", "image: {pullPolicy: sometimes}\n" + minimalSite, "site.image.pullPolicy", "IfNotPresent, Always or Never"},
		{"loopback host address", "infra: {hostAddress: 127.0.0.1}\n" + minimalSite, "site.infra.hostAddress", "loopback"},
		{"host address not IP", "infra: {hostAddress: infra-host}\n" + minimalSite, "site.infra.hostAddress", "IP address"},
		{"postgres port", "infra: {postgres: {port: 70000}}\n" + minimalSite, "site.infra.postgres.port", "1 to 65535"},
		{"redis host", "infra: {redis: {host: 'redis host'}}\n" + minimalSite, "site.infra.redis.host", "host name or IP"},
		{"object storage endpoint", "infra: {objectStorage: {endpoint: 's3.amazonaws.com'}}\n" + minimalSite, "site.infra.objectStorage.endpoint", "http(s) URL"},
		{"secure contradicts scheme", "infra: {objectStorage: {endpoint: 'http://minio:9000', secure: true}}\n" + minimalSite, "site.infra.objectStorage.secure", "contradicts the http endpoint"},
		{"bucket", "infra: {objectStorage: {documentBucket: Documents_Bucket}}\n" + minimalSite, "site.infra.objectStorage.documentBucket", "bucket name"},
		{"var name", "vars: {'APP-SITE': x}\n" + minimalSite, "site.vars.APP-SITE", "environment variable name"},
		{"secret in vars", "vars: {MINIO_DATA_SECRET_KEY: minio123}\n" + minimalSite, "site.vars.MINIO_DATA_SECRET_KEY", "pulumi config set --secret objectStorageSecretKey"},
		{"secret in service config", "ingress: {type: none}\nservices: {xgen-core: {config: {REDIS_PASSWORD: x}}}", "site.services.xgen-core.config.REDIS_PASSWORD", "pulumi config set --secret redisPassword"},
		{"no services", "environment: prd", "site.services", "no services listed"},
		{"unknown service", "ingress: {type: none}\nservices: {xgen-cor: {}}", "site.services.xgen-cor", `did you mean "xgen-core"`},
		{"ingress type", "ingress: {type: nginx}\n" + minimalSite, "site.ingress.type", "istio, traefik or none"},
		{"shared gateway form", "ingress: {sharedGateway: istio-gateway}\n" + minimalSite, "site.ingress.sharedGateway", `"namespace/name"`},
		{"streaming path", "ingress: {streamingPaths: [api/stream]}\n" + minimalSite, "site.ingress.streamingPaths[0]", `starting with "/"`},
		{"node port", "ingress: {nodePort: 8080}\n" + minimalSite, "site.ingress.nodePort", "30000-32767"},
		{"https redirect on a shared gateway", "ingress: {sharedGateway: istio-system/shared, httpsRedirect: true}\nenvironments: {prd: {domain: a.example.com}}\n" + minimalSite, "site.ingress.httpsRedirect", `ingress.sharedGateway "istio-system/shared" is someone else's`},
		{"TLS secret on a shared gateway", "ingress: {sharedGateway: istio-system/shared}\nenvironments: {prd: {domain: a.example.com, tlsCredentialName: a-tls}}\n" + minimalSite, "site.environments.prd.tlsCredentialName", "its certificate is theirs"},
		{"https redirect without TLS", "ingress: {httpsRedirect: true}\nenvironments: {prd: {domain: a.example.com}}\n" + minimalSite, "site.ingress.httpsRedirect", "tlsCredentialName"},
		{"hpa range", "ingress: {type: none}\nservices: {xgen-core: {autoscaling: {minReplicas: 5, maxReplicas: 2}}}", "site.services.xgen-core.autoscaling.maxReplicas", "at least minReplicas (5)"},
		{"cpu target", "ingress: {type: none}\nservices: {xgen-core: {autoscaling: {targetCPUUtilization: 150}}}", "site.services.xgen-core.autoscaling.targetCPUUtilization", "1 to 100"},
		{"quantity", "ingress: {type: none}\nservices: {xgen-core: {resources: {limits: {memory: 2GB}}}}", "site.services.xgen-core.resources.limits.memory", "Kubernetes quantity"},
		{"request above limit", "ingress: {type: none}\nservices: {xgen-workflow: {resources: {requests: {memory: 4Gi}}}}", "site.services.xgen-workflow.resources.requests.memory", "more than the limit 2Gi"},
		{"probe path", "ingress: {type: none}\nservices: {xgen-core: {probes: {path: health}}}", "site.services.xgen-core.probes.path", `starting with "/"`},
		{"probe timeout", "ingress: {type: none}\nservices: {xgen-core: {probes: {liveness: {timeoutSeconds: 30}}}}", "site.services.xgen-core.probes.liveness.timeoutSeconds", "not more than periodSeconds (10)"},
		{"root user", "ingress: {type: none}\nservices: {xgen-core: {runAsUser: 0}}", "site.services.xgen-core.runAsUser", "non-root"},
		{"root group", "ingress: {type: none}\nservices: {xgen-core: {runAsGroup: 0}}", "site.services.xgen-core.runAsGroup", "non-root GID"},
		{"relative writable path", "ingress: {type: none}\nservices: {xgen-core: {writablePaths: [tmp]}}", "site.services.xgen-core.writablePaths[0]", "absolute, clean directory"},
		{"root writable", "ingress: {type: none}\nservices: {xgen-core: {writablePaths: [/tmp, /]}}", "site.services.xgen-core.writablePaths[1]", "other than"},
		{"repeated writable path", "ingress: {type: none}\nservices: {xgen-core: {writablePaths: [/tmp, /tmp]}}", "site.services.xgen-core.writablePaths[1]", "listed once"},
		{"call to no service", "ingress: {type: none}\nservices: {xgen-core: {calls: [xgen-corr]}}", "site.services.xgen-core.calls[0]", "another service of the catalog"},
		{"call to itself", "ingress: {type: none}\nservices: {xgen-core: {calls: [xgen-core]}}", "site.services.xgen-core.calls[0]", "another service"},
		{"unknown infra", "ingress: {type: none}\nservices: {xgen-core: {infra: [postgres, mysql]}}", "site.services.xgen-core.infra[1]", "must be one of [postgres redis qdrant objectStorage]"},
		{"deploy timeout", "ingress: {type: none}\nservices: {xgen-core: {deployTimeout: ten minutes}}", "site.services.xgen-core.deployTimeout", "Go duration"},
		{"no entry point", "services: {xgen-core: {}}", "site.services", "exactly one service must be the entry point"},
		{"route without slash", "services: {xgen-frontend: {}, xgen-core: {routes: [api]}}", "site.services.xgen-core.routes[0]", `starting with "/"`},
		{"route twice", "services: {xgen-frontend: {}, xgen-backend-gateway: {}, xgen-core: {routes: [/api/]}}", "site.services.xgen-core.routes[0]", "already routed to xgen-backend-gateway"},
		{"gateway selector", "ingress: {gatewaySelector: {'istio': 'ingress gateway'}}\n" + minimalSite, "site.ingress.gatewaySelector.istio", "is not a Kubernetes label value"},
		{"two domain services", "environments: {prd: {domain: a.example.com}}\nservices: {xgen-frontend: {}, xgen-core: {domain: true}}", "site.services", "exactly one service must be the entry point"},
		{"gpu without selector", "ingress: {type: none}\nservices: {xgen-model: {gpu: {nodeSelector: {}}}}", "", ""}, // merge keeps the catalog selector: valid
	}
	if len(cases) < 20 {
		t.Fatalf("want at least 20 bad-config cases, have %d", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSite(t, tc.site)
			if tc.key == "" {
				if err != nil {
					t.Fatalf("valid config rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("bad config accepted")
			}
			probs, ok := err.(Problems)
			if !ok {
				t.Fatalf("error is %T, not Problems: %v", err, err)
			}
			for _, p := range probs {
				if p.Key == "xgen-infra:"+tc.key && strings.Contains(p.String(), tc.want) {
					return
				}
			}
			t.Errorf("no problem at xgen-infra:%s containing %q; got:\n%v", tc.key, tc.want, err)
		})
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	_, err := parseSite(t, "environment: prod\nnamespace: BAD\nimage: {pullPolicy: x}\nservices: {nope: {}}")
	probs, ok := err.(Problems)
	if !ok || len(probs) != 4 {
		t.Fatalf("want 4 problems in one error, got %v", err)
	}
}

func TestSecretsMissingOrPlain(t *testing.T) {
	js, _ := yamlToJSON([]byte("image: {registryUsername: puller}\n" + minimalSite))
	cfg := map[string]string{SiteKey: string(js), "xgen-infra:redisPassword": "plain-text"}
	keys := []string{}
	_, err := Parse("acme", cfg, keys)
	if err == nil {
		t.Fatal("missing secrets accepted")
	}
	for _, want := range []string{
		"xgen-infra:postgresPassword: is missing (PostgreSQL password of infra.postgres.user); run: pulumi config set --secret postgresPassword --stack acme (it prompts for the value, or reads it from standard input)",
		"xgen-infra:kubeconfig: is missing",
		"xgen-infra:registryPassword: is missing",
		"xgen-infra:redisPassword: is stored in plain text; remove it from Pulumi.acme.yaml and run: pulumi config set --secret redisPassword --stack acme (it prompts for the value, or reads it from standard input)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "plain-text") {
		t.Error("error message shows the secret value")
	}
}

func TestRegistryPasswordOnlyWithUsername(t *testing.T) {
	js, _ := yamlToJSON([]byte(minimalSite))
	cfg, keys := requiredSecrets(string(js))
	if _, set := cfg["xgen-infra:registryPassword"]; set {
		t.Fatal("registryPassword required without a username")
	}
	cfg[SiteKey] = string(js)
	if _, err := Parse("acme", cfg, keys); err != nil {
		t.Fatalf("registryPassword required without a username: %v", err)
	}
}

func TestMergeConfigPrecedence(t *testing.T) {
	layers := []ConfigLayer{
		// Deliberately out of order: precedence comes from the layer name, not position.
		{LayerSiteVars, map[string]string{"A": "vars", "B": "vars", "S": "vars"}},
		{LayerGlobal, map[string]string{"A": "global", "B": "global", "C": "global", "D": "global", "E": "global", "S": "global"}},
		{LayerEnvironment, map[string]string{"A": "env", "B": "env", "C": "env"}},
		{LayerService, map[string]string{"A": "service", "B": "service", "C": "service", "D": "service"}},
		{LayerSiteService, map[string]string{"A": "site service"}},
		{LayerSecret, map[string]string{"S": ""}},
	}
	cm, source, err := MergeConfig(layers)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "site service", "B": "vars", "C": "env", "D": "service", "E": "global"}
	if !reflect.DeepEqual(cm, want) {
		t.Errorf("config = %v, want %v", cm, want)
	}
	if source["S"] != LayerSecret {
		t.Errorf("S comes from %q, want the secret layer", source["S"])
	}
	if _, inConfigMap := cm["S"]; inConfigMap {
		t.Error("a secret key is in the ConfigMap")
	}
	if _, _, err := MergeConfig([]ConfigLayer{{"bogus", nil}}); err == nil {
		t.Error("unknown layer accepted")
	}
}

func TestResolvedServicePrecedence(t *testing.T) {
	cases := []struct {
		name, env, site, service string
		check                    func(Service) string
	}{
		{"documents prd memory from catalog environment", "prd", "", "xgen-documents", func(s Service) string {
			return s.Spec.Resources.Requests.Memory + " " + s.Spec.Resources.Limits.Memory + " " + s.Spec.Resources.Requests.CPU
		}},
		{"documents dev keeps service defaults", "dev", "", "xgen-documents", func(s Service) string {
			return s.Spec.Resources.Requests.Memory + " " + s.Spec.Resources.Limits.Memory + " " + s.Spec.Resources.Requests.CPU
		}},
		{"documents liveness", "dev", "", "xgen-documents", func(s Service) string {
			l := s.Spec.Probes.Liveness
			return strings.Join([]string{itoa(*l.InitialDelaySeconds), itoa(*l.PeriodSeconds), itoa(*l.TimeoutSeconds), itoa(*l.FailureThreshold)}, "/")
		}},
		{"frontend prd fixed replicas", "prd", "", "xgen-frontend", func(s Service) string {
			return boolStr(*s.Spec.Autoscaling.Enabled) + " " + itoa(*s.Spec.Replicas) + " " + s.Spec.Resources.Limits.Memory
		}},
		{"frontend dev autoscales", "dev", "", "xgen-frontend", func(s Service) string {
			return boolStr(*s.Spec.Autoscaling.Enabled) + " " + itoa(*s.Spec.Autoscaling.MinReplicas) + "-" + itoa(*s.Spec.Autoscaling.MaxReplicas)
		}},
		{"workflow OOM lesson", "prd", "", "xgen-workflow", func(s Service) string { return s.Spec.Resources.Limits.Memory }},
		{"site override beats catalog environment", "prd", "xgen-frontend: {replicas: 5, resources: {limits: {memory: 6Gi}}}", "xgen-frontend", func(s Service) string {
			return itoa(*s.Spec.Replicas) + " " + s.Spec.Resources.Limits.Memory + " " + s.Spec.Resources.Limits.CPU
		}},
		{"per-service tag", "prd", "xgen-core: {tag: v1.2.3}", "xgen-core", func(s Service) string { return s.Image }},
	}
	want := []string{"3Gi 8Gi 500m", "2Gi 8Gi 500m", "60/15/10/6", "false 3 4Gi", "true 2-4", "2Gi", "5 6Gi 1000m", "docker.x2bee.com/xgen/main/xgen-core:v1.2.3"}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			services := "services:\n  " + tc.service + ": {}\n"
			if tc.site != "" {
				services = "services:\n  " + tc.site + "\n"
			}
			site := mustParse(t, "environment: "+tc.env+"\ningress: {type: none}\n"+services)
			svc, ok := site.Service(tc.service)
			if !ok {
				t.Fatalf("%s not resolved", tc.service)
			}
			if got := tc.check(svc); got != want[i] {
				t.Errorf("got %q, want %q", got, want[i])
			}
		})
	}
}

func TestResolvedConfigLayers(t *testing.T) {
	site := mustParse(t, `
ingress: { type: none }
vars: { APP_SITE: acme, TZ: UTC, LOG_LEVEL: info }
services:
  xgen-core: { config: { LOG_LEVEL: debug } }
  xgen-documents: {}
`)
	core, _ := site.Service("xgen-core")
	docs, _ := site.Service("xgen-documents")
	checks := []struct{ got, want string }{
		{core.Config["APP_SITE"], "acme"},
		{core.Config["TZ"], "UTC"},          // site vars beat catalog global config
		{core.Config["LOG_LEVEL"], "debug"}, // site service config beats site vars
		{docs.Config["LOG_LEVEL"], "info"},  // ... for that service only
		{core.ConfigSource["LOG_LEVEL"], LayerSiteService},
		{core.ConfigSource["POSTGRES_PASSWORD"], LayerSecret},
		{docs.Config["CORE_SERVICE_BASE_URL"], "http://xgen-core:8000"},
		{docs.Config["MINIO_ENDPOINT"], "http://minio.xgen-system.svc.cluster.local:9000"},
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("check %d: got %q, want %q", i, c.got, c.want)
		}
	}
	if _, ok := docs.Config["MODEL_SERVICE_BASE_URL"]; ok {
		t.Error("a URL for xgen-model, which this site does not run")
	}
	for _, k := range []string{"POSTGRES_PASSWORD", "REDIS_PASSWORD", "MINIO_DATA_ACCESS_KEY", "MINIO_DATA_SECRET_KEY"} {
		if _, ok := core.Config[k]; ok {
			t.Errorf("secret key %s in a ConfigMap", k)
		}
	}
	var names []string
	for _, s := range site.Secrets {
		names = append(names, s.EnvName)
	}
	if want := []string{"POSTGRES_PASSWORD", "REDIS_PASSWORD", "MINIO_DATA_ACCESS_KEY", "MINIO_DATA_SECRET_KEY"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Secret keys = %v, want %v (the names the applications read)", names, want)
	}
}

// TestStackFilesDecode checks every committed stack file decodes strictly; the per-site
// behaviour is asserted on the program's output in the main package.
func TestStackFilesDecode(t *testing.T) {
	files, _ := filepath.Glob("../Pulumi.*.yaml")
	if len(files) < 4 {
		t.Fatalf("found %d stack files", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var file struct {
			Config map[string]any `yaml:"config"`
		}
		if err := yaml.Unmarshal(data, &file); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		js, _ := json.Marshal(file.Config[SiteKey])
		cfg, keys := requiredSecrets(string(js))
		cfg[SiteKey] = string(js)
		// As the program runs: from the project directory, as its stack (a closed site's
		// folders and lock are the project's).
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		if _, err := inDir(t, "..", func() (*Site, error) { return Parse(stack, cfg, keys) }); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// inDir runs parse with dir as the working directory.
func inDir(t *testing.T, dir string, parse func() (*Site, error)) (*Site, error) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.Chdir(wd) }()
	return parse()
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestWarningWhenInfraServicesAreNotCreated(t *testing.T) {
	cases := []struct {
		name, site, want string
	}{
		{"on-prem without host address", minimalSite, "reach postgresql, redis, qdrant, minio in namespace xgen-system"},
		{"on-prem with host address", "infra: {hostAddress: 10.0.0.5}\n" + minimalSite, ""},
		{"external infra", "infra: {postgres: {host: 10.1.1.1}, redis: {host: 10.1.1.1}, qdrant: {host: 10.1.1.1}, objectStorage: {endpoint: 'https://s3.example.com'}}\n" + minimalSite, ""},
		{"partly external", "infra: {postgres: {host: 10.1.1.1}}\n" + minimalSite, "reach redis, qdrant, minio in"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			site := mustParse(t, tc.site)
			got := strings.Join(site.Warnings, "\n")
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("warnings %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBadConfigClasses: one case per class of mistake that used to pass (accepted, then
// refused by Kubernetes halfway through an update; or silently ignored), with the exact message.
func TestBadConfigClasses(t *testing.T) {
	const none = "ingress: {type: none}\n"
	cases := []struct{ name, site, want string }{
		// Values Kubernetes would refuse.
		{"IP address as domain", "environments: {prd: {domain: 10.0.0.5}}\ningress: {type: traefik}\n" + minimalSite,
			`xgen-infra:site.environments.prd.domain: "10.0.0.5": is an IP address; a domain must be a DNS name. A site reached by IP has no domain: leave it out (the frontend is then exposed on a node port)`},
		{"bare wildcard with traefik", "environments: {prd: {domain: '*'}}\ningress: {type: traefik}\n" + minimalSite,
			`xgen-infra:site.environments.prd.domain: "*": a Kubernetes Ingress host cannot be "*"; use a wildcard such as "*.example.com", or leave the domain out`},
		{"qdrant ports equal", "infra: {qdrant: {grpcPort: 6333}}\n" + minimalSite,
			`xgen-infra:site.infra.qdrant.grpcPort: 6333: equals infra.qdrant.port; Qdrant serves HTTP and gRPC on two different ports (default 6333 and 6334)`},
		{"GPU selector value with spaces", none + "services: {xgen-model: {gpu: {nodeSelector: {gpu-type: 'nvidia a100'}}}}",
			`xgen-infra:site.services.xgen-model.gpu.nodeSelector.gpu-type: "nvidia a100": is not a Kubernetes label value (at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit; no spaces)`},
		{"GPU selector key", none + "services: {xgen-model: {gpu: {nodeSelector: {'gpu type': 'true'}}}}",
			`xgen-infra:site.services.xgen-model.gpu.nodeSelector.gpu type: is not a Kubernetes label key (an optional DNS-subdomain prefix and '/', then a name of at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit)`},
		{"HPA max above int32", none + "services: {xgen-core: {autoscaling: {maxReplicas: 4294967298}}}",
			`xgen-infra:site.services.xgen-core.autoscaling.maxReplicas: 4294967298: must be at least minReplicas (2) and at most 2147483647`},
		{"replicas above int32", none + "services: {xgen-core: {autoscaling: {enabled: false}, replicas: 3000000000}}",
			`xgen-infra:site.services.xgen-core.replicas: 3000000000: must be from 1 to 2147483647; to stop running a service, remove it from services`},
		{"probe period above int32", none + "services: {xgen-core: {probes: {readiness: {periodSeconds: 2147483648}}}}",
			`xgen-infra:site.services.xgen-core.probes.readiness.periodSeconds: 2147483648: must be at least 1 (seconds)`},
		// Settings that would be ignored or changed.
		{"replicas 0", none + "services: {xgen-core: {autoscaling: {enabled: false}, replicas: 0}}",
			`xgen-infra:site.services.xgen-core.replicas: 0: must be from 1 to 2147483647; to stop running a service, remove it from services`},
		{"replicas under an HPA", none + "services: {xgen-core: {replicas: 3}}",
			`xgen-infra:site.services.xgen-core.replicas: 3: has no effect while autoscaling is on (the HPA sets the replica count from 2 to 4); set autoscaling.minReplicas/maxReplicas instead, or autoscaling: {enabled: false} for a fixed count`},
		{"HPA range with autoscaling off", none + "services: {xgen-frontend: {autoscaling: {maxReplicas: 6}}}",
			`xgen-infra:site.services.xgen-frontend.autoscaling: has no effect: autoscaling is off for xgen-frontend in environment prd, so the fixed replicas (3) apply; add enabled: true to autoscale, or remove the range`},
		{"port 0", "infra: {redis: {port: 0}}\n" + minimalSite,
			`xgen-infra:site.infra.redis.port: 0: 0 would be replaced by the default; leave the key out to use the default, or give another value`},
		{"TLS without a domain", "environments: {prd: {tlsCredentialName: xgen-tls}}\n" + minimalSite,
			`xgen-infra:site.environments.prd.tlsCredentialName: "xgen-tls": has no effect: the site has no domain in environment prd, so there is no Gateway to serve HTTPS; set environments.prd.domain or remove it`},
		{"HTTPS redirect without a domain", "ingress: {httpsRedirect: true}\n" + minimalSite,
			`xgen-infra:site.ingress.httpsRedirect: true: has no effect: the site has no domain in environment prd (it is reached by IP, over HTTP); remove it or set environments.prd.domain`},
		{"var without a value", "vars: {APP_SITE: }\n" + minimalSite,
			"xgen-infra:site.vars.APP_SITE: has no value (`APP_SITE:` with nothing after it is null, which would become an empty string); give it a value, write \"\" for an empty one, or remove the key"},
		// Values never checked before.
		{"memory in milli-bytes", none + "services: {xgen-core: {resources: {limits: {memory: 512m}}}}",
			`xgen-infra:site.services.xgen-core.resources.limits.memory: "512m": is in milli-bytes ("m" means 1/1000); for mebibytes write 512Mi`},
		{"registry port", "image: {registry: 'registry.example.com:70000'}\n" + minimalSite,
			`xgen-infra:site.image.registry: "registry.example.com:70000": has port 70000; a registry port is from 1 to 65535`},
		{"namespace kube-system", "namespace: kube-system\n" + minimalSite,
			`xgen-infra:site.namespace: "kube-system": belongs to Kubernetes itself (default, kube-system, kube-public, kube-node-lease); give the site its own namespace, e.g. "xgen"`},
		{"infra namespace default", "infra: {namespace: default}\n" + minimalSite,
			`xgen-infra:site.infra.namespace: "default": belongs to Kubernetes itself (default, kube-system, kube-public, kube-node-lease); use a namespace of the site's own, e.g. "xgen-system"`},
		{"streaming path /", "ingress: {streamingPaths: [/]}\n" + minimalSite,
			`xgen-infra:site.ingress.streamingPaths[0]: "/": would send every request, /api/ included, down the streaming route; name the stream endpoints, e.g. "/api/workflow/execute/deploy/stream"`},
		{"credential-like var name", "vars: {AWS_SECRET_ACCESS_KEY: abc}\n" + minimalSite,
			`xgen-infra:site.vars.AWS_SECRET_ACCESS_KEY: looks like a credential, and plain config is stored and shown in clear text; the secrets the apps read are the stack's secret keys (docs/configuration.md "Secrets": postgresPassword, redisPassword, objectStorageAccessKey, objectStorageSecretKey, registryPassword), set with pulumi config set --secret`},
		{"password inside a URL", none + "services: {xgen-core: {config: {DATABASE_URL: 'postgresql://xgen:hunter2@db:5432/plateerag'}}}",
			`xgen-infra:site.services.xgen-core.config.DATABASE_URL: holds a URL with a password in it, which plain config would store in clear text; give host, user and database as separate values and the password as a secret (pulumi config set --secret postgresPassword)`},
		// Messages: invisible characters in keys are shown escaped.
		{"zero-width space in a key", "services: {xgen-frontend: {}, xgen-core: {\"im\u200bage\": x}}",
			"xgen-infra:site.services.xgen-core.im\\u200bage: unknown key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSite(t, tc.site)
			if err == nil {
				t.Fatal("accepted")
			}
			probs, ok := err.(Problems)
			if !ok {
				t.Fatalf("error is %T, not Problems: %v", err, err)
			}
			for _, p := range probs {
				if p.String() == tc.want || (strings.HasSuffix(tc.want, "unknown key") && strings.HasPrefix(p.String(), tc.want)) {
					return
				}
			}
			t.Errorf("want exactly:\n  %s\ngot:\n%v", tc.want, err)
		})
	}
}

// TestUnknownProjectKeys: every xgen-infra:* key the program does not read is an error that
// names the key it probably meant; other namespaces belong to providers.
func TestUnknownProjectKeys(t *testing.T) {
	js, _ := yamlToJSON([]byte(minimalSite))
	cfg, keys := requiredSecrets(string(js))
	cfg[SiteKey] = string(js)
	cfg["xgen-infra:namespace"] = "acme"
	cfg["xgen-infra:redisPasword"] = "x"
	cfg["kubernetes:context"] = "prod" // a provider's key: not ours to judge
	_, err := Parse("acme", cfg, keys)
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, want := range []string{
		`xgen-infra:namespace: is not read by this program: "namespace" belongs inside the site object; remove this key (pulumi config rm namespace) and set xgen-infra:site.namespace instead (pulumi config set --path site.namespace <value>)`,
		`xgen-infra:redisPasword: is not read by this program; did you mean "redisPassword"?`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "kubernetes:context") {
		t.Errorf("a provider's key was reported:\n%v", err)
	}

	// A misspelt site key is named with the key it probably meant.
	cfg = map[string]string{"xgen-infra:sites": string(js)}
	_, err = Parse("acme", cfg, nil)
	if err == nil || !strings.Contains(err.Error(), `xgen-infra:sites: is not read by this program; did you mean "site"?`) {
		t.Errorf("misspelt site key: %v", err)
	}
}

// TestKubeconfigSecretIsChecked: a path or other text in the kubeconfig secret is refused
// with how to store the file's content, and the value is never echoed.
func TestKubeconfigSecretIsChecked(t *testing.T) {
	js, _ := yamlToJSON([]byte(minimalSite))
	for _, tc := range []struct{ value, want string }{
		{"/home/ops/.kube/config", "xgen-infra:kubeconfig: looks like a file path; store the file's content, not its path: pulumi config set --secret kubeconfig --stack acme < ~/.kube/config"},
		{"hunter2-not-a-kubeconfig", "xgen-infra:kubeconfig: is not a kubeconfig (a YAML document with clusters (each with a server), users and contexts); store the file's content, not its path: pulumi config set --secret kubeconfig --stack acme < ~/.kube/config"},
		{testKubeconfig, ""},
	} {
		cfg, keys := requiredSecrets(string(js))
		cfg[SiteKey] = string(js)
		cfg["xgen-infra:kubeconfig"] = tc.value
		_, err := Parse("acme", cfg, keys)
		if tc.want == "" {
			if err != nil {
				t.Errorf("a kubeconfig was refused: %v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("kubeconfig %q: want %q, got %v", tc.value, tc.want, err)
		}
		if err != nil && strings.Contains(err.Error(), tc.value) {
			t.Errorf("the message echoes the secret value: %v", err)
		}
	}

	// registryPassword without registryUsername is not silently unused.
	cfg, keys := requiredSecrets(string(js))
	cfg[SiteKey] = string(js)
	cfg["xgen-infra:registryPassword"] = "pw"
	keys = append(keys, "xgen-infra:registryPassword")
	_, err := Parse("acme", cfg, keys)
	want := "xgen-infra:registryPassword: is set but not used: there is no image.registryUsername, so no image pull Secret is made; remove it (pulumi config rm registryPassword --stack acme) or set what uses it"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("want %q, got %v", want, err)
	}
}

// TestDomainOfAnotherEnvironmentWarns: a domain given only for an environment the stack is
// not is a warning that says how the site is reached instead.
func TestDomainOfAnotherEnvironmentWarns(t *testing.T) {
	site := mustParse(t, "environment: dev\nenvironments: {prd: {domain: xgen.example.com}}\n"+minimalSite)
	want := `xgen-infra:site.environments.prd.domain is "xgen.example.com", but this stack's environment is dev, which has no domain: the site is reached by IP (the frontend on node port 30080); set xgen-infra:site.environment: prd, or environments.dev.domain`
	if !slices.Contains(site.Warnings, want) {
		t.Errorf("want warning %q, got %v", want, site.Warnings)
	}
}

// TestYAMLErrorsCarryFileAndLine: a broken catalog names its file and the parser's line.
func TestYAMLErrorsCarryFileAndLine(t *testing.T) {
	_, err := parseCatalog([]byte("global:\n  defaults: {port: 8000\nservices: {}\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "sites/catalog.yaml: yaml: line ") {
		t.Errorf("want the file and the line, got %v", err)
	}
}

// Every service gets ephemeral storage requests and limits; documents and model more.
func TestEphemeralStorageForEveryService(t *testing.T) {
	site := mustParse(t, "ingress: {type: none}\nservices: {xgen-core: {}, xgen-documents: {}, xgen-model: {}}\n")
	want := map[string]string{"xgen-core": "1Gi", "xgen-documents": "4Gi", "xgen-model": "16Gi"}
	for _, svc := range site.Services {
		r := svc.Spec.Resources
		if r.Requests.EphemeralStorage == "" || r.Limits.EphemeralStorage != want[svc.Name] {
			t.Errorf("%s: ephemeral storage %q / %q, want a request and limit %s", svc.Name, r.Requests.EphemeralStorage, r.Limits.EphemeralStorage, want[svc.Name])
		}
	}
	if _, err := parseSite(t, "ingress: {type: none}\nservices: {xgen-core: {resources: {requests: {ephemeralStorage: 8Gi}}}}\n"); err == nil ||
		!strings.Contains(err.Error(), "services.xgen-core.resources.requests.ephemeralStorage") {
		t.Errorf("a request above the limit: %v", err)
	}
}

func TestPullPolicyFollowsTheTag(t *testing.T) {
	for tag, want := range map[string]string{
		"latest-amd64": "Always", "latest": "Always", "main": "Always", "dev-2026": "Always",
		"1.4.2": "IfNotPresent", "v2.0": "IfNotPresent", "1.4.2-rc1": "IfNotPresent",
		"sha256:" + strings.Repeat("a", 64): "IfNotPresent",
	} {
		if got := PullPolicyFor(tag); got != want {
			t.Errorf("PullPolicyFor(%q) = %s, want %s", tag, got, want)
		}
	}
	site := mustParse(t, "ingress: {type: none}\nservices: {xgen-core: {}, xgen-workflow: {tag: '1.2.0'}}\n")
	for _, svc := range site.Services {
		want := map[string]string{"xgen-core": "Always", "xgen-workflow": "IfNotPresent"}[svc.Name]
		if svc.PullPolicy != want {
			t.Errorf("%s (%s): pull policy %s, want %s", svc.Name, svc.Image, svc.PullPolicy, want)
		}
	}
	// An explicit site policy wins (air-gapped, preloaded images).
	site = mustParse(t, "ingress: {type: none}\nimage: {pullPolicy: IfNotPresent}\nservices: {xgen-core: {}}\n")
	if site.Services[0].PullPolicy != "IfNotPresent" {
		t.Errorf("explicit policy: %s", site.Services[0].PullPolicy)
	}
}

// A service pinned by digest runs that build whatever its tag points at now, never pulled
// again; the others keep following their tag.
func TestServicePinnedByDigest(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	site := mustParse(t, "ingress: {type: none}\nimage: {tag: latest-amd64}\nservices: {xgen-core: {digest: '"+digest+"'}, xgen-frontend: {}}")
	core, _ := site.Service("xgen-core")
	front, _ := site.Service("xgen-frontend")
	if core.Image != "docker.x2bee.com/xgen/main/xgen-core:latest-amd64@"+digest || core.PullPolicy != "IfNotPresent" {
		t.Errorf("pinned: %s (%s)", core.Image, core.PullPolicy)
	}
	if front.Image != "docker.x2bee.com/xgen/main/xgen-frontend:latest-amd64" || front.PullPolicy != "Always" {
		t.Errorf("following its tag: %s (%s)", front.Image, front.PullPolicy)
	}
	// The preflight's digest of the tag does not move a pinned service.
	if got := site.Pinned(core, "sha256:"+strings.Repeat("cd", 32)); got.Image != core.Image {
		t.Errorf("the tag's digest replaced the pin: %s", got.Image)
	}
}
