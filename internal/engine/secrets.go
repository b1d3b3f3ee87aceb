package engine

import (
	"context"
	"crypto/rand"

	"xgen-infra/internal/inprocess"
	"xgen-infra/sites"
)

// RequiredSecrets lists the secret config keys (without the project prefix) that the site in
// stackFile needs: what the program's first preview would ask an operator to set.
func RequiredSecrets(stackFile string) ([]string, error) {
	config, _, err := inprocess.LoadStackFile(stackFile)
	if err != nil {
		return nil, err
	}
	return sites.RequiredSecrets(config)
}

// SetThrowawaySecrets sets every secret the workspace's stack needs the way operators do
// (SetSecret: standard input): the kubeconfig given, a distinct random value for the rest.
// It returns the keys in the order set and their values, which are never printed.
func (w *Workspace) SetThrowawaySecrets(ctx context.Context, kubeconfig string) ([]string, map[string]string, error) {
	return w.SetSecrets(ctx, map[string]string{"kubeconfig": kubeconfig})
}

// SetSecrets sets every secret the workspace's stack needs (SetSecret: standard input): the
// value given for a key, else a throwaway one (a fresh ed25519 key for sshPrivateKey, a
// distinct random string for the rest). It returns the keys in the order set and their values.
func (w *Workspace) SetSecrets(ctx context.Context, given map[string]string) ([]string, map[string]string, error) {
	keys, err := RequiredSecrets(w.StackPath())
	if err != nil {
		return nil, nil, err
	}
	values := map[string]string{}
	for _, key := range keys {
		value, ok := given[key]
		switch {
		case ok:
		case key == "sshPrivateKey":
			seed := make([]byte, 32)
			if _, err := rand.Read(seed); err != nil {
				return nil, nil, err
			}
			value = inprocess.PrivateKeyPEM(seed)
		default:
			if value, err = RandomSecret(); err != nil {
				return nil, nil, err
			}
		}
		if err := w.SetSecret(ctx, key, value); err != nil {
			return nil, nil, err
		}
		values[key] = value
	}
	return keys, values, nil
}
