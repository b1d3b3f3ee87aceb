package mock

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/sitetest"
)

// TestAWSWiring: xgen-aww's AWS layer under the mock engine. Every AWS resource uses the
// site's provider, which carries no static key; the IAM user's key lands in xgen-secrets
// under the names the applications read, as a secret; the Kubernetes provider's kubeconfig
// is the EKS one (exec `aws eks get-token`), with the looked-up endpoint.
func TestAWSWiring(t *testing.T) {
	rec := sitetest.Run(t, "Pulumi.xgen-aww.yaml")
	provider, ok := rec.Find("pulumi:providers:aws", "aws")
	if !ok {
		t.Fatal("no aws provider")
	}
	plain, _ := provider.PlainInputs()
	for _, k := range []string{"accessKey", "secretKey", "token"} {
		if _, set := plain[k]; set {
			t.Errorf("the aws provider has a static %s", k)
		}
	}
	if plain["region"] != "ap-northeast-2" {
		t.Errorf("aws provider region %v", plain["region"])
	}
	var awsResources int
	for _, r := range rec.Resources {
		if strings.HasPrefix(r.Type, "aws:") {
			awsResources++
			if !strings.HasPrefix(r.Provider, provider.URN+"::") {
				t.Errorf("%s %s uses provider %q, not the site's", r.Type, r.Name, r.Provider)
			}
		}
	}
	if awsResources != 8 {
		t.Errorf("%d AWS resources, want 8 (5 for the one bucket; user, policy, key)", awsResources)
	}

	secret, ok := rec.Find("kubernetes:core/v1:Secret", "xgen-secrets")
	if !ok {
		t.Fatal("no xgen-secrets")
	}
	plain, secretPaths := secret.PlainInputs()
	for key, want := range map[string]string{"MINIO_DATA_ACCESS_KEY": "xgen-aww-objects-key-1-id", "MINIO_DATA_SECRET_KEY": "(aws:secret-access-key)"} {
		got, _ := inprocess.Get(plain, "data", key).(string)
		if got != base64.StdEncoding.EncodeToString([]byte(want)) {
			t.Errorf("xgen-secrets %s = %q, want the IAM key's %s", key, got, want)
		}
	}
	if !slices.Contains(secretPaths, "data") {
		t.Errorf("xgen-secrets data is not a secret: %v", secretPaths)
	}
	if _, set := plain["data"].(map[string]any)["AWS_ACCESS_KEY_ID"]; set {
		t.Error("the key is stored under AWS_ACCESS_KEY_ID, which the applications do not read")
	}

	k8s, _ := rec.Find("pulumi:providers:kubernetes", "k8s")
	plain, secretPaths = k8s.PlainInputs()
	kc, _ := plain["kubeconfig"].(string)
	if !strings.Contains(kc, "https://XGEN-AWW.mock.eks.amazonaws.com") || !strings.Contains(kc, "get-token") || !slices.Contains(secretPaths, "kubeconfig") {
		t.Errorf("kubernetes provider kubeconfig (secret paths %v):\n%s", secretPaths, kc)
	}
}
