package sites

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ConfigNamespace is the Pulumi project name: every stack config key is
// "xgen-infra:<key>".
const ConfigNamespace = "xgen-infra"

// SiteKey is the stack config key holding the structured site object.
const SiteKey = ConfigNamespace + ":site"

// Load reads the current stack's config and returns the resolved site, or every
// problem with it. Nothing must be registered before Load succeeds.
func Load(ctx *pulumi.Context) (*Site, error) {
	raw := map[string]string{}
	var secretKeys []string
	for _, key := range configKeys() {
		if v, ok := ctx.GetConfig(key); ok {
			raw[key] = v // secret values are only checked for their form, never printed
		}
		if ctx.IsConfigSecret(key) {
			secretKeys = append(secretKeys, key)
		}
	}
	return Parse(ctx.Stack(), raw, secretKeys)
}

// configKeys are the project's config keys the engine passed to the program (the language
// host hands the whole stack config over in PULUMI_CONFIG), plus the keys the program reads,
// so that a key the program would never read can be reported instead of ignored.
func configKeys() []string {
	keys := []string{SiteKey}
	for _, k := range siteSecretKeys() {
		keys = append(keys, ConfigNamespace+":"+k.ConfigKey)
	}
	var all map[string]any
	if err := json.Unmarshal([]byte(os.Getenv(pulumi.EnvConfig)), &all); err == nil {
		for key := range all {
			if strings.HasPrefix(key, ConfigNamespace+":") && !slices.Contains(keys, key) {
				keys = append(keys, key)
			}
		}
	}
	return keys
}

// Parse turns raw stack config into a resolved site, in this order:
//  1. decode `xgen-infra:site` strictly (unknown keys are errors),
//  2. SetDefaults,
//  3. Validate the site object,
//  4. resolve each service against the catalog (defaults < service < environment <
//     site override) and its environment (see Precedence),
//  5. validate the resolved services and the secret keys.
//
// config maps full keys ("xgen-infra:site") to their values as Pulumi passes them
// (objects JSON-encoded); secretKeys lists the keys that were set with --secret.
// All problems of steps 1-5 are returned together when they can be found together.
func Parse(stack string, config map[string]string, secretKeys []string) (*Site, error) {
	return parse(stack, config, secretKeys, parseOptions{secretsRead: true})
}

// parseOptions: secretsRead false: secret values are neither required nor checked
// (ParseWithoutSecrets); skipClosedInputs: the air-gapped folders are neither read nor
// checked against the lock (ParseForLock); projectDir is where the lock file is and what the
// folders' relative paths are relative to ("": the working directory, as under Pulumi).
type parseOptions struct {
	secretsRead, skipClosedInputs bool
	projectDir                    string
}

// parse is Parse with its options.
func parse(stack string, config map[string]string, secretKeys []string, o parseOptions) (*Site, error) {
	secretsRead := o.secretsRead
	cat, err := LoadCatalog()
	if err != nil {
		return nil, err
	}
	rawSite, ok := config[SiteKey]
	if !ok || rawSite == "" {
		probs := checkConfigKeys(config)
		return nil, append(probs, Problem{Key: SiteKey, Fix: fmt.Sprintf(
			"is missing; add the site object to Pulumi.%s.yaml (see docs/configuration.md)", stack)})
	}
	if probs := checkConfigKeys(config); len(probs) > 0 {
		return nil, probs
	}
	var c Config
	if probs := decodeStrict([]byte(rawSite), SiteKey, &c); len(probs) > 0 {
		return nil, probs
	}
	var raw Config
	if err := json.Unmarshal([]byte(rawSite), &raw); err != nil { // a deep copy before defaults
		return nil, err
	}
	SetDefaults(&c, stack)
	probs := Validate(&c, cat, SiteKey)
	ignored := &problemList{prefix: SiteKey}
	checkIgnored(ignored, &raw, &c)
	probs = append(probs, checkSecrets(stack, &c, config, secretKeys, secretsRead)...)
	probs = append(probs, checkAWSCredentials(stack, &c, config, secretKeys)...)
	if len(probs) > 0 {
		return nil, append(probs, ignored.list...)
	}

	services, err := resolveServices(&c, cat)
	if err != nil {
		return nil, fmt.Errorf("site %s: %w", stack, err)
	}
	env := c.Environments[c.Environment]
	sp := &problemList{prefix: SiteKey, list: ignored.list}
	validateServices(sp, services, &c, cat)
	checkIgnoredInServices(sp, services, &c)
	if len(sp.list) > 0 {
		return nil, sp.list
	}

	site := &Site{
		Name:                   stack,
		Config:                 c,
		Domain:                 env.Domain,
		Aliases:                env.Aliases,
		TLSCredentialName:      env.TLSCredentialName,
		Services:               services,
		HasRegistryCredentials: c.Image.RegistryUsername != "",
		HostServices:           hostServices(&c),
		Placeholders:           PlaceholderAddresses(&c, SiteKey),
	}
	if !o.skipClosedInputs {
		dir := o.projectDir
		if dir == "" {
			dir = "."
		}
		if probs := closedInputs(site, dir); len(probs) > 0 {
			return nil, probs
		}
	}
	site.Secrets = appSecrets(&c, "")
	for _, env := range c.SideEnvironments() {
		other, err := sideSite(site, env, cat)
		if err != nil {
			return nil, err
		}
		site.Others = append(site.Others, other)
	}
	if env.Domain == "" {
		for _, other := range sortedMapKeys(c.Environments) {
			if d := c.Environments[other].Domain; d != "" && other != c.Environment {
				site.Warnings = append(site.Warnings, fmt.Sprintf(
					"%s.environments.%s.domain is %q, but this stack's environment is %s, which has no domain: the site is reached by IP (%s); set %s.environment: %s, or environments.%s.domain",
					SiteKey, other, d, c.Environment, exposure(&c), SiteKey, other, c.Environment))
			}
		}
	}
	if c.Infra.HostAddress == "" {
		var names []string
		for _, hs := range inClusterInfra(&c) {
			names = append(names, hs.Name)
		}
		if len(names) > 0 {
			site.Warnings = append(site.Warnings, fmt.Sprintf(
				"the services reach %s in namespace %s, which this stack does not create: set %s.infra.hostAddress to the IP of the host running them, or create those Services yourself",
				strings.Join(names, ", "), c.Infra.Namespace, SiteKey))
		}
	}
	return site, nil
}

// RequiredSecrets lists the secret config keys (without the project prefix) that the site
// object in config needs, in SecretKeys order: what the first preview asks an operator to set.
func RequiredSecrets(config map[string]string) ([]string, error) {
	var c Config
	if probs := decodeStrict([]byte(config[SiteKey]), SiteKey, &c); len(probs) > 0 {
		return nil, probs
	}
	SetDefaults(&c, "")
	var keys []string
	for _, k := range RequiredSecretKeys(&c) {
		keys = append(keys, k.ConfigKey)
	}
	return keys, nil
}

// exposure says how a site without a domain is reached.
func exposure(c *Config) string {
	if c.Ingress.Type == "none" {
		return "no ingress"
	}
	if c.Ingress.ExposeType == "NodePort" && *c.Ingress.NodePort != 0 {
		return fmt.Sprintf("the frontend on node port %d", *c.Ingress.NodePort)
	}
	return "the frontend on a " + c.Ingress.ExposeType + " Service"
}

// checkConfigKeys reports every key of the project's namespace that the program does not
// read (`pulumi config set namespace acme` instead of `--path site.namespace`), with the key
// it probably meant. Keys of other namespaces belong to providers and are left alone.
func checkConfigKeys(config map[string]string) Problems {
	known := map[string]reflect.Type{"site": nil}
	for _, k := range siteSecretKeys() {
		known[k.ConfigKey] = nil
	}
	siteFields := jsonFields(reflect.TypeOf(Config{}))
	var probs Problems
	for _, key := range sortedMapKeys(config) {
		name, ok := strings.CutPrefix(key, ConfigNamespace+":")
		if !ok {
			continue
		}
		if _, read := known[name]; read {
			continue
		}
		fix := "is not read by this program" + suggest(name, known)
		if _, field := siteFields[name]; field {
			fix = fmt.Sprintf("is not read by this program: %q belongs inside the site object; remove this key (pulumi config rm %s) and set %s.%s instead (pulumi config set --path site.%s <value>)",
				name, name, SiteKey, name, name)
		}
		probs = append(probs, Problem{Key: key, Fix: fix})
	}
	return probs
}

// checkSecrets reports required secrets that are missing, secrets set in plain text, a
// secret set that nothing uses, and a kubeconfig that is not one. Secret values are looked at,
// never printed. With secretsRead false, only the plain-text and unused checks apply.
func checkSecrets(stack string, c *Config, config map[string]string, secretKeys []string, secretsRead bool) Problems {
	var probs Problems
	for _, k := range siteSecretKeys() {
		key := ConfigNamespace + ":" + k.ConfigKey
		v, set := config[key]
		switch {
		case set && v != "" && !slices.Contains(secretKeys, key):
			probs = append(probs, Problem{Key: key, Fix: fmt.Sprintf(
				"is stored in plain text; remove it from Pulumi.%s.yaml and run: pulumi config set --secret %s --stack %s (it prompts for the value, or reads it from standard input)",
				stack, k.ConfigKey, stack)})
		case (!set || v == "") && k.Required(c) && secretsRead:
			probs = append(probs, Problem{Key: key, Fix: fmt.Sprintf(
				"is missing (%s); run: pulumi config set --secret %s --stack %s (it prompts for the value, or reads it from standard input)",
				k.What, k.ConfigKey, stack)})
		case set && v != "" && !k.Required(c):
			probs = append(probs, Problem{Key: key, Fix: fmt.Sprintf(
				"is set but not used: %s; remove it (pulumi config rm %s --stack %s) or set what uses it", k.unusedBecause, k.ConfigKey, stack)})
		case set && k.check != nil && secretsRead:
			if fix := k.check(stack, v); fix != "" {
				probs = append(probs, Problem{Key: key, Fix: fix})
			}
		}
	}
	return probs
}

// checkComplete reports ServiceSpec pointer fields left unset (the catalog's defaults
// must set every one, so that resolved services never have gaps).
func checkComplete(v reflect.Value, path string) []string {
	var missing []string
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return []string{path}
		}
		return checkComplete(v.Elem(), path)
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			name := t.Field(i).Tag.Get("json")
			for j, ch := range name {
				if ch == ',' {
					name = name[:j]
					break
				}
			}
			missing = append(missing, checkComplete(v.Field(i), join(path, name))...)
		}
	}
	return missing
}
