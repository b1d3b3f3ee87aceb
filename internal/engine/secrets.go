package engine

import (
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
