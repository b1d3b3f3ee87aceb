package mock

import (
	"fmt"
	"strings"
	"testing"

	"xgen-infra/internal/testkit/sitetest"
)

// Every site whose cluster the program reaches by itself exports the kubeconfig `site status`
// and `fleet status` reach it through, as a secret: a K3s site the cluster's, an EKS site
// (xgen-aww) the one built from the EKS cluster, whose user runs `aws eks get-token` (no
// credential in it). Without it status could never reach xgen-aww.
func TestClusterSitesExportTheirKubeconfig(t *testing.T) {
	for _, stackFile := range sitetest.StackFiles(t) {
		name := sitetest.StackName(stackFile)
		t.Run(name, func(t *testing.T) {
			site := sitetest.SiteOf(t, stackFile)
			eks := site.Config.AWS != nil && site.Config.AWS.EKS != nil
			if site.Config.Cluster == nil && !eks {
				t.Skip("reached through the kubeconfig secret")
			}
			rec := sitetest.Run(t, stackFile)
			e, ok := rec.Exports["kubeconfig"]
			if !ok || !e.Secret {
				t.Fatalf("kubeconfig output: %v (secret %v); exports %v", ok, e.Secret, keys(rec.Exports))
			}
			if kc := fmt.Sprint(e.Value); eks && (!strings.Contains(kc, "get-token") || !strings.Contains(kc, site.Config.AWS.EKS.ClusterName)) {
				t.Errorf("the EKS kubeconfig does not get its token from the AWS CLI for %s:\n%s", site.Config.AWS.EKS.ClusterName, kc)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
