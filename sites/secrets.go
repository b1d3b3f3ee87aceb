package sites

import (
	"errors"
	"strings"

	"golang.org/x/crypto/ssh"

	"gopkg.in/yaml.v3"
)

// SecretKey is one secret stack config key (set with `pulumi config set --secret`).
// Secrets never live in the site object: each is its own key so that the site object
// stays plain, reviewable YAML.
type SecretKey struct {
	// ConfigKey is the key without the project namespace, e.g. "postgresPassword".
	ConfigKey string
	// EnvName is the key in the Kubernetes Secret `xgen-secrets` and so the environment
	// variable the applications read. Empty for secrets the program itself uses.
	EnvName string
	// ComposeEnv is the variable in the compose project's .env (what compose.yaml reads as
	// ${VAR:?}), for a secret the compose infra uses; "" otherwise. The compose package's
	// constants must match (a stack test checks them).
	ComposeEnv string
	// What the value is, for error messages and the README.
	What string
	// PerEnvironment: each environment deployed beside the stack's own has its own value,
	// under EnvironmentSecretKey (e.g. prdPostgresPassword) and its own .env variable.
	PerEnvironment bool
	// requiredWhen says whether a site needs it; nil means always.
	requiredWhen func(*Config) bool
	// unusedBecause says why a site that does not require it cannot use it.
	unusedBecause string
	// check returns what is wrong with a value (never the value itself), or "".
	check func(stack, value string) string
}

// Required reports whether the site needs this secret.
func (k SecretKey) Required(c *Config) bool {
	return k.requiredWhen == nil || k.requiredWhen(c)
}

// The secret stack config keys (without the project namespace): each named once, here.
const (
	SecretKubeconfig             = "kubeconfig"
	SecretSSHPrivateKey          = "sshPrivateKey"
	SecretPostgresPassword       = "postgresPassword"
	SecretPostgresAdminPassword  = "postgresAdminPassword"
	SecretRedisPassword          = "redisPassword"
	SecretObjectStorageAccessKey = "objectStorageAccessKey"
	SecretObjectStorageSecretKey = "objectStorageSecretKey"
	SecretRegistryPassword       = "registryPassword"
	SecretGrafanaAdminPassword   = "grafanaAdminPassword"
	SecretAlertWebhookURL        = "alertWebhookURL"
	SecretAlertSMTPPassword      = "alertSmtpPassword"
)

// SecretKeys are all secret stack config keys. The EnvName values are exactly the names
// the applications read: a Secret key that the code does not read falls back to a
// default silently (the S3 403 incident at xgen-aww).
var SecretKeys = []SecretKey{
	{ConfigKey: SecretKubeconfig, What: "kubeconfig of the target cluster (file contents)", check: checkKubeconfig,
		requiredWhen:  func(c *Config) bool { return c.Cluster == nil && (c.AWS == nil || c.AWS.EKS == nil) },
		unusedBecause: "site.cluster or site.aws.eks is set, so the program builds the kubeconfig itself"},
	{ConfigKey: SecretSSHPrivateKey, What: "private SSH key of cluster.ssh.user on the cluster hosts (file contents)", check: checkPrivateKey,
		requiredWhen:  func(c *Config) bool { return c.Cluster != nil || c.Infra.Compose != nil },
		unusedBecause: "there is neither site.cluster nor infra.compose, so the program logs in to no host"},
	{ConfigKey: SecretPostgresPassword, EnvName: "POSTGRES_PASSWORD", ComposeEnv: "XGEN_DB_PASSWORD", What: "PostgreSQL password of infra.postgres.user", PerEnvironment: true},
	{ConfigKey: SecretPostgresAdminPassword, ComposeEnv: "XGEN_POSTGRES_ADMIN_PASSWORD", What: "password of the PostgreSQL superuser (postgres) on the compose host",
		requiredWhen: func(c *Config) bool {
			cc := c.Infra.Compose
			return cc != nil && cc.Services != nil && cc.Services.Postgres != nil
		},
		unusedBecause: "infra.compose does not run postgres, so the program sets up no database server"},
	{ConfigKey: SecretRedisPassword, EnvName: "REDIS_PASSWORD", ComposeEnv: "XGEN_REDIS_PASSWORD", What: "Redis password (requirepass)", PerEnvironment: true},
	{ConfigKey: SecretObjectStorageAccessKey, EnvName: ObjectStorageAccessKeyEnv, ComposeEnv: "XGEN_MINIO_ROOT_USER", What: "MinIO access key, or an AWS access key id for S3",
		requiredWhen: func(c *Config) bool { return !usesS3IAMUser(c) }, unusedBecause: objectKeysUnused},
	{ConfigKey: SecretObjectStorageSecretKey, EnvName: ObjectStorageSecretKeyEnv, ComposeEnv: "XGEN_MINIO_ROOT_PASSWORD", What: "MinIO secret key, or an AWS secret access key for S3",
		requiredWhen: func(c *Config) bool { return !usesS3IAMUser(c) }, unusedBecause: objectKeysUnused},
	{ConfigKey: SecretRegistryPassword, What: "password of image.registryUsername at image.registry",
		requiredWhen:  func(c *Config) bool { return c.Image.RegistryUsername != "" },
		unusedBecause: "there is no image.registryUsername, so no image pull Secret is made"},
	{ConfigKey: SecretGrafanaAdminPassword, What: "password of Grafana's admin user (the observability add-on)",
		requiredWhen:  func(c *Config) bool { return c.ObservabilityEnabled() },
		unusedBecause: "cluster.addons.observability is off, so there is no Grafana"},
	{ConfigKey: SecretAlertWebhookURL, What: "incoming-webhook URL Alertmanager posts the alerts to (it carries the receiver's token)", check: checkAlertWebhookURL,
		requiredWhen: func(c *Config) bool {
			return c.ObservabilityEnabled() && c.Cluster.Addons.Observability.Alerting.Webhook
		},
		unusedBecause: "cluster.addons.observability.alerting.webhook is not true, so no alert is posted to a webhook"},
	{ConfigKey: SecretAlertSMTPPassword, What: "password of alerting.email.username at the SMTP relay",
		requiredWhen: func(c *Config) bool {
			return c.ObservabilityEnabled() && c.Cluster.Addons.Observability.Alerting.Email != nil
		},
		unusedBecause: "cluster.addons.observability.alerting.email is not set, so no alert is sent by e-mail"},
}

// The environment names of the object storage keys (what the applications read).
const (
	ObjectStorageAccessKeyEnv = "MINIO_DATA_ACCESS_KEY"
	ObjectStorageSecretKeyEnv = "MINIO_DATA_SECRET_KEY"
)

const objectKeysUnused = "aws.s3.credentials is iamUser, so the program makes the IAM user's access key (set credentials: secrets to bring your own)"

// secretEnvNames are the environment names that only a Secret may provide.
func secretEnvNames() map[string]string {
	names := map[string]string{}
	for _, k := range SecretKeys {
		if k.EnvName != "" {
			names[k.EnvName] = k.ConfigKey
		}
	}
	return names
}

// checkPrivateKey recognises an unencrypted OpenSSH or PEM private key by its armour. A path
// or a public key is refused with how to store the key; the value is never echoed.
func checkPrivateKey(stack, value string) string {
	how := "store the key file's content: pulumi config set --secret sshPrivateKey --stack " + stack + " < ~/.ssh/id_ed25519"
	v := strings.TrimSpace(value)
	switch {
	case strings.HasPrefix(v, "ssh-") || strings.HasPrefix(v, "ecdsa-"):
		return "is a public key; the program needs the private key. " + how
	case !strings.HasPrefix(v, "-----BEGIN ") || !strings.Contains(v, "PRIVATE KEY-----"):
		return "is not a private key (an OpenSSH or PEM block starting with -----BEGIN); " + how
	}
	if _, err := ssh.ParsePrivateKey([]byte(v)); err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) || strings.Contains(v, "ENCRYPTED") {
			return "is protected by a passphrase, which the program cannot type; store a copy without one (ssh-keygen -p -N '' -f <copy>)"
		}
		return "cannot be read as a private key (" + err.Error() + "); " + how
	}
	return ""
}

// checkKubeconfig recognises a kubeconfig by its shape: a YAML (or JSON) object with clusters
// that have a server, and users. A file path or any other text is refused with how to store
// the file's content. The value is never echoed.
func checkKubeconfig(stack, value string) string {
	how := "store the file's content, not its path: pulumi config set --secret kubeconfig --stack " + stack + " < ~/.kube/config"
	v := strings.TrimSpace(value)
	if !strings.ContainsAny(v, "\n ") && (strings.Contains(v, "/") || strings.HasPrefix(v, "~") ||
		strings.HasSuffix(v, ".yaml") || strings.HasSuffix(v, ".yml") || v == "config") {
		return "looks like a file path; " + how
	}
	var kc struct {
		Kind     string `yaml:"kind"`
		Clusters []struct {
			Cluster struct {
				Server string `yaml:"server"`
			} `yaml:"cluster"`
		} `yaml:"clusters"`
		Users []any `yaml:"users"`
	}
	if err := yaml.Unmarshal([]byte(v), &kc); err != nil || len(kc.Clusters) == 0 || kc.Clusters[0].Cluster.Server == "" || len(kc.Users) == 0 ||
		(kc.Kind != "" && kc.Kind != "Config") {
		return "is not a kubeconfig (a YAML document with clusters (each with a server), users and contexts); " + how
	}
	return ""
}
