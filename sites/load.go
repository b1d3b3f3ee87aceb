package sites

import (
	"fmt"
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
	var secretKeys []string
	for _, k := range SecretKeys {
		if key := ConfigNamespace + ":" + k.ConfigKey; ctx.IsConfigSecret(key) {
			secretKeys = append(secretKeys, key)
		}
	}
	raw := map[string]string{}
	if v, ok := ctx.GetConfig(SiteKey); ok {
		raw[SiteKey] = v
	}
	for _, k := range SecretKeys {
		key := ConfigNamespace + ":" + k.ConfigKey
		if v, ok := ctx.GetConfig(key); ok && v != "" {
			raw[key] = "set" // only presence matters here; values stay in Pulumi's secret outputs
		}
	}
	return Parse(ctx.Stack(), raw, secretKeys)
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
	cat, err := LoadCatalog()
	if err != nil {
		return nil, err
	}
	rawSite, ok := config[SiteKey]
	if !ok || rawSite == "" {
		return nil, Problems{{Key: SiteKey, Fix: fmt.Sprintf(
			"is missing; add the site object to Pulumi.%s.yaml (see README \"Configuration reference\")", stack)}}
	}
	var c Config
	if probs := decodeStrict([]byte(rawSite), SiteKey, &c); len(probs) > 0 {
		return nil, probs
	}
	SetDefaults(&c)
	probs := Validate(&c, cat, SiteKey)
	probs = append(probs, checkSecrets(stack, &c, config, secretKeys)...)
	if len(probs) > 0 {
		return nil, probs
	}

	services, err := resolveServices(&c, cat)
	if err != nil {
		return nil, fmt.Errorf("site %s: %w", stack, err)
	}
	env := c.Environments[c.Environment]
	sp := &problemList{prefix: SiteKey}
	validateServices(sp, services, c.Ingress.Type)
	if len(sp.list) > 0 {
		return nil, sp.list
	}

	site := &Site{
		Name:                   stack,
		Config:                 c,
		Domain:                 env.Domain,
		TLSCredentialName:      env.TLSCredentialName,
		Services:               services,
		HasRegistryCredentials: c.Image.RegistryUsername != "",
		HostServices:           hostServices(&c),
	}
	for _, k := range SecretKeys {
		if k.EnvName != "" && k.Required(&c) {
			site.Secrets = append(site.Secrets, k)
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

// checkSecrets reports required secrets that are missing and secrets set in plain text.
func checkSecrets(stack string, c *Config, config map[string]string, secretKeys []string) Problems {
	var probs Problems
	for _, k := range SecretKeys {
		key := ConfigNamespace + ":" + k.ConfigKey
		v, set := config[key]
		switch {
		case set && v != "" && !slices.Contains(secretKeys, key):
			probs = append(probs, Problem{Key: key, Fix: fmt.Sprintf(
				"is stored in plain text; remove it from Pulumi.%s.yaml and run: pulumi config set --secret %s <value> --stack %s",
				stack, k.ConfigKey, stack)})
		case (!set || v == "") && k.Required(c):
			probs = append(probs, Problem{Key: key, Fix: fmt.Sprintf(
				"is missing (%s); run: pulumi config set --secret %s <value> --stack %s",
				k.What, k.ConfigKey, stack)})
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
