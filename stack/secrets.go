package stack

// Secrets: every secret config value is read once, here, through sites.SecretKeys — the one
// table that names each secret's config key, its key in the Kubernetes Secret (what the
// applications read) and its variable in the compose project's .env.

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"xgen-infra/components"
	"xgen-infra/sites"
)

// secretValues are the site's secrets by config key (sites.Secret*): only those the site
// requires (sites.Load has checked each is set, with --secret).
type secretValues map[string]pulumi.StringOutput

func readSecrets(cfg *config.Config, site *sites.Site) secretValues {
	out := secretValues{}
	for _, k := range sites.RequiredSecretKeys(&site.Config) {
		out[k.ConfigKey] = cfg.RequireSecret(k.ConfigKey)
	}
	return out
}

// plainSecret is a secret's plain value, for what must use it before any resource exists
// (the image preflight logs in to the registry) or only for a public digest of it (the SSH
// key's fingerprint); never logged, exported or written.
func plainSecret(ctx *pulumi.Context, configKey string) string {
	v, _ := ctx.GetConfig(sites.ConfigNamespace + ":" + configKey)
	return v
}

// siteSecrets is the Kubernetes Secret the applications read (each secret under its
// EnvName) and, with registry credentials, the image pull Secret.
func siteSecrets(ctx *pulumi.Context, site *sites.Site, sec secretValues, aws *awsResources, opts ...pulumi.ResourceOption) (*components.SiteSecrets, error) {
	values := map[string]pulumi.StringInput{}
	for _, s := range site.Secrets {
		values[s.EnvName] = sec[s.ConfigKey]
	}
	// The IAM user's key goes under the names the applications read (the xgen-aww 403).
	if aws != nil && aws.storage != nil && site.Config.AWS.S3.Credentials == "iamUser" {
		values[sites.ObjectStorageAccessKeyEnv] = aws.storage.AccessKeyID
		values[sites.ObjectStorageSecretKeyEnv] = aws.storage.SecretAccessKey
	}
	args := components.SiteSecretsArgs{Namespace: site.Config.Namespace, Values: values}
	if site.HasRegistryCredentials {
		args.Registry = &components.RegistryCredentials{
			Server:   site.Config.Image.Registry,
			Username: site.Config.Image.RegistryUsername,
			Password: sec[sites.SecretRegistryPassword],
		}
	}
	return components.NewSiteSecrets(ctx, "site-secrets", args, opts...)
}
