package mock

import (
	"strings"
	"testing"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/sites"
	"xgen-infra/stack"
)

// TestClosedSiteWithoutItsFolders: lotteimall, committed closed (K3s from its release files,
// every image from the bundle), on a machine without the folders (this one: git ignores
// them): the preview plans every upload from the lock file's digests, with a stand-in source
// whose change is ignored (a converged site shows no change); `pulumi up` refuses before
// anything is registered, saying where to run it.
func TestClosedSiteWithoutItsFolders(t *testing.T) {
	rec := sitetest.Run(t, "Pulumi.lotteimall.yaml")
	uploads := 0
	for _, r := range rec.Resources {
		if r.Type != "command:remote:CopyToRemote" {
			continue
		}
		uploads++
		plain, _ := r.PlainInputs()
		if len(r.IgnoreChanges) != 1 || r.IgnoreChanges[0] != "source" {
			t.Errorf("%s: ignoreChanges %v, want [source] (the file is not here)", r.Name, r.IgnoreChanges)
		}
		if remote, _ := plain["remotePath"].(string); !strings.Contains(remote, "0000000000") {
			t.Errorf("%s: remote path %q does not carry the lock's digest", r.Name, remote)
		}
	}
	// K3s' binary and images to each of the two hosts, the bundle's cluster images to each
	// host and its Docker images to the compose host.
	if uploads < 2*2+2*10 {
		t.Errorf("%d uploads planned", uploads)
	}

	config, secretKeys, err := inprocess.LoadStackFile("Pulumi.lotteimall.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Real host addresses (the committed ones are placeholders, which up refuses too).
	config[sites.SiteKey] = strings.ReplaceAll(config[sites.SiteKey], "192.0.2.", "198.18.0.")
	secretKeys, err = inprocess.AddRequiredSecretPlaceholders(config, secretKeys)
	if err != nil {
		t.Fatal(err)
	}
	up, err := inprocess.Run(stack.Program, sites.ConfigNamespace, "lotteimall", config, secretKeys, inprocess.AsUpdate())
	if err == nil || !strings.Contains(err.Error(), "cluster.k3s.artifacts airgap/lotteimall/k3s and cluster.k3s.imageBundle airgap/lotteimall/images not on this machine") ||
		!strings.Contains(err.Error(), "Pulumi.lotteimall.lock.json") {
		t.Errorf("up without the folders: %v", err)
	}
	if up != nil && len(up.Resources) > 0 {
		t.Errorf("up without the folders registered %d resources", len(up.Resources))
	}
}
