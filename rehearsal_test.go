package main

// Helpers shared by the mock-engine, render, cluster and real-engine tests: run the program
// in-process for a stack file, and the rehearsal host that stands in for an on-prem site's
// infra host.

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/harness"
	"xgen-infra/sites"
)

// rehearsalHostAddress stands in for the on-prem host running the infra containers.
const rehearsalHostAddress = harness.RehearsalHostAddress

// runStack runs the program for a stack file, with edit applied to the site object first,
// and a placeholder for every secret an operator would set.
func runStack(stackFile string, edit func(site map[string]any)) (*inprocess.Recorder, error) {
	config, secretKeys, err := inprocess.LoadStackFile(stackFile)
	if err != nil {
		return nil, err
	}
	return runStackConfig(stackFile, config, secretKeys, edit)
}

// runStackConfig is runStack on a stack file's config that the caller has loaded (and may
// have changed: a secret of its own).
func runStackConfig(stackFile string, config map[string]string, secretKeys []string, edit func(site map[string]any)) (*inprocess.Recorder, error) {
	if edit != nil {
		var site map[string]any
		if err := json.Unmarshal([]byte(config[sites.SiteKey]), &site); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", stackFile, sites.SiteKey, err)
		}
		edit(site)
		data, err := json.Marshal(site)
		if err != nil {
			return nil, err
		}
		config[sites.SiteKey] = string(data)
	}
	rec, err := runWithSecrets(stackName(stackFile), config, secretKeys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stackFile, err)
	}
	return rec, nil
}

// runWithSecrets runs the program for a stack's config with a placeholder for every secret
// the site needs that the config does not set (as an operator sets only those), under the
// mock engine.
func runWithSecrets(stack string, config map[string]string, secretKeys []string) (*inprocess.Recorder, error) {
	required, err := sites.RequiredSecrets(config)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, k := range required {
		keys = append(keys, sites.ConfigNamespace+":"+k)
	}
	secretKeys = inprocess.AddPlaceholderSecrets(config, secretKeys, keys...)
	return inprocess.Run(program, sites.ConfigNamespace, stack, config, secretKeys)
}

// siteObjects returns a stack's Kubernetes objects in apply order.
func siteObjects(stackFile string, edit func(site map[string]any)) ([]inprocess.Object, error) {
	rec, err := runStack(stackFile, edit)
	if err != nil {
		return nil, err
	}
	return rec.KubernetesObjects()
}

// withRehearsalHost sets infra.hostAddress, as an operator of an on-prem site does, unless
// the site sets it already. The site's compose project is left out: it is the host layer's
// (infra_hosts_test.go, hosts_test.go); here the in-cluster side points at the rehearsal host.
func withRehearsalHost(site map[string]any) {
	infra, _ := site["infra"].(map[string]any)
	if infra == nil {
		infra = map[string]any{}
		site["infra"] = infra
	}
	_, compose := infra["compose"]
	delete(infra, "compose")
	// The compose infra (or K3s' first server) becomes the rehearsal's host; a site whose
	// infra all has its own hosts has none (its hostAddress would be refused as ignored).
	if _, cluster := site["cluster"]; (compose || cluster) && infra["hostAddress"] == nil {
		infra["hostAddress"] = rehearsalHostAddress
	}
}

// stackName is the <stack> of a Pulumi.<stack>.yaml path.
func stackName(stackFile string) string {
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(stackFile), "Pulumi."), ".yaml")
}
