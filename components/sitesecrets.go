package components

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SiteSecretsArgs configures the site's Secrets.
type SiteSecretsArgs struct {
	// Namespace of the Secrets. Required.
	Namespace string
	// SecretName of the application Secret. Default "xgen-secrets".
	SecretName string
	// Values by environment variable name (e.g. "POSTGRES_PASSWORD"); each should be a
	// Pulumi secret (config.RequireSecret). Required, at least one.
	Values map[string]pulumi.StringInput
	// Registry, when set, creates a kubernetes.io/dockerconfigjson pull Secret. Default nil.
	Registry *RegistryCredentials
}

// RegistryCredentials are image pull credentials.
type RegistryCredentials struct {
	// SecretName of the pull Secret. Default "xgen-registry".
	SecretName string
	// Server is the registry host, e.g. "10.100.1.65:5000".
	Server string
	// Username in plain text.
	Username string
	// Password; a Pulumi secret.
	Password pulumi.StringInput
}

// SiteSecrets is the Secret the services load into their environment and, optionally,
// the image pull Secret.
type SiteSecrets struct {
	pulumi.ResourceState

	Secret *corev1.Secret
	// PullSecret is nil without registry credentials.
	PullSecret *corev1.Secret
	// SecretName and PullSecretName ("" without credentials) for the services to use.
	SecretName, PullSecretName string
	// Checksum changes whenever a value changes; it is a secret Output.
	Checksum pulumi.StringOutput
}

// NewSiteSecrets registers the site's Secrets.
func NewSiteSecrets(ctx *pulumi.Context, name string, args SiteSecretsArgs, opts ...pulumi.ResourceOption) (*SiteSecrets, error) {
	if args.Namespace == "" || len(args.Values) == 0 {
		return nil, errors.New("site secrets: Namespace and at least one value are required")
	}
	if r := args.Registry; r != nil && (r.Server == "" || r.Username == "" || r.Password == nil) {
		return nil, errors.New("site secrets: registry credentials need Server, Username and Password")
	}
	comp := &SiteSecrets{SecretName: args.SecretName}
	if comp.SecretName == "" {
		comp.SecretName = "xgen-secrets"
	}
	if err := ctx.RegisterComponentResource("xgen:index:SiteSecrets", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)

	keys := make([]string, 0, len(args.Values))
	for k := range args.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// data, not stringData: stringData is write-only and does not round-trip under
	// server-side apply, which shows up as a diff on every run.
	data := pulumi.StringMap{}
	ordered := make([]any, 0, len(keys))
	for _, k := range keys {
		data[k] = base64Output(args.Values[k])
		ordered = append(ordered, args.Values[k])
	}
	var err error
	comp.Secret, err = corev1.NewSecret(ctx, comp.SecretName, &corev1.SecretArgs{
		Metadata: objectMeta(comp.SecretName, args.Namespace),
		Type:     pulumi.String("Opaque"),
		Data:     data,
	}, parent)
	if err != nil {
		return nil, err
	}
	// The checksum is computed from the values, not read back from the cluster, so it is
	// known at preview and identical on a no-op run.
	comp.Checksum = pulumi.ToSecret(pulumi.All(ordered...).ApplyT(func(vals []any) string {
		m := map[string]string{}
		for i, k := range keys {
			m[k] = vals[i].(string)
		}
		return ConfigChecksum(m)
	})).(pulumi.StringOutput)

	if r := args.Registry; r != nil {
		comp.PullSecretName = r.SecretName
		if comp.PullSecretName == "" {
			comp.PullSecretName = "xgen-registry"
		}
		dockerConfig := r.Password.ToStringOutput().ApplyT(func(pw string) (string, error) {
			return DockerConfigJSON(r.Server, r.Username, pw)
		}).(pulumi.StringOutput)
		comp.PullSecret, err = corev1.NewSecret(ctx, comp.PullSecretName, &corev1.SecretArgs{
			Metadata: objectMeta(comp.PullSecretName, args.Namespace),
			Type:     pulumi.String("kubernetes.io/dockerconfigjson"),
			Data:     pulumi.StringMap{".dockerconfigjson": base64Output(dockerConfig)},
		}, parent)
		if err != nil {
			return nil, err
		}
	}

	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"secretName":     pulumi.String(comp.SecretName),
		"pullSecretName": pulumi.String(comp.PullSecretName),
	}); err != nil {
		return nil, err
	}
	return comp, nil
}

// base64Output encodes a value for a Secret's data, keeping it a Pulumi secret.
func base64Output(v pulumi.StringInput) pulumi.StringOutput {
	return pulumi.ToSecret(v.ToStringOutput().ApplyT(func(s string) string {
		return base64.StdEncoding.EncodeToString([]byte(s))
	})).(pulumi.StringOutput)
}

// DockerConfigJSON is the .dockerconfigjson document for one registry.
func DockerConfigJSON(server, username, password string) (string, error) {
	auth := base64.StdEncoding.EncodeToString([]byte(username + ":" + password))
	doc := map[string]any{"auths": map[string]any{server: map[string]string{
		"username": username, "password": password, "auth": auth,
	}}}
	out, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("docker config for %s: %w", server, err)
	}
	return string(out), nil
}
