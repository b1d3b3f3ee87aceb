package apiserver

// `site status` on a site whose cluster is EKS (xgen-aww): the program exports the
// kubeconfig it builds from the EKS cluster (its user runs `aws eks get-token`), and status
// reaches the cluster through it. The local API server plays the EKS cluster; a TEST-ONLY
// `aws` on PATH plays the AWS CLI's token command (AWS IAM cannot run here): it checks the
// arguments the kubeconfig gives it and answers with an ExecCredential for this API server.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"xgen-infra/components"
	"xgen-infra/internal/day2"
	"xgen-infra/internal/pulumiout"
	"xgen-infra/internal/testkit/harness"
	"xgen-infra/sites"
)

// eksStack is the stack of an EKS site as status reads it: its stack file and the
// kubeconfig output.
type eksStack struct {
	name, stackFile, kubeconfig string
}

func (s eksStack) Name() string      { return s.name }
func (s eksStack) StackFile() string { return s.stackFile }
func (s eksStack) SecretOutputs(context.Context) (map[string]any, error) {
	return map[string]any{"kubeconfig": s.kubeconfig}, nil
}
func (s eksStack) ConfigSecret(context.Context, string) (string, error) { return "", nil }
func (s eksStack) Preview(context.Context, bool) (*pulumiout.Preview, error) {
	return nil, errors.New("not in this test")
}
func (s eksStack) Export(context.Context) ([]byte, error) { return nil, errors.New("not in this test") }
func (s eksStack) RunCLI(context.Context, io.Writer, ...string) error {
	return errors.New("not in this test")
}

// checkEKSStatus runs status on site (deployed to c) through the kubeconfig the program
// builds for an EKS cluster: reached with the token command, and unreachable (naming the AWS
// CLI) without it.
func checkEKSStatus(ctx context.Context, t *testing.T, c *harness.Cluster, stackFile string, site *sites.Site) {
	t.Helper()
	eks := site.Config.AWS.EKS
	raw, err := c.SelfContainedKubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientcmd.Load(raw)
	if err != nil {
		t.Fatal(err)
	}
	ctxCfg := admin.Contexts[admin.CurrentContext]
	cluster, user := admin.Clusters[ctxCfg.Cluster], admin.AuthInfos[ctxCfg.AuthInfo]
	kubeconfig, err := components.EKSKubeconfig(components.EKSAccess{ClusterName: eks.ClusterName, Region: site.Config.AWS.Region,
		Profile: site.Config.AWS.Profile, RoleArn: site.Config.AWS.AssumeRoleArn},
		cluster.Server, base64.StdEncoding.EncodeToString(cluster.CertificateAuthorityData))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	credential, _ := json.Marshal(map[string]any{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
		"status": map[string]string{"clientCertificateData": string(user.ClientCertificateData), "clientKeyData": string(user.ClientKeyData)}})
	calls := filepath.Join(dir, "calls")
	if err := os.WriteFile(filepath.Join(dir, "credential.json"), credential, 0o600); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\n# TEST-ONLY stand-in for the AWS CLI's token command\necho \"$*\" >>%s\ncat %s\n", calls, filepath.Join(dir, "credential.json"))
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "aws"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	st := eksStack{name: site.Name, stackFile: stackFile, kubeconfig: kubeconfig}

	// Without the AWS CLI: unreachable, saying what is missing.
	path := os.Getenv("PATH")
	t.Setenv("PATH", filepath.Join(dir, "empty"))
	r, err := day2.Gather(ctx, st, day2.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != day2.Unreachable || !strings.Contains(strings.Join(r.Problems, "\n"), "aws") {
		t.Errorf("status without the AWS CLI: %s %v, want unreachable naming aws", r.Verdict, r.Problems)
	}

	t.Setenv("PATH", filepath.Join(dir, "bin")+string(os.PathListSeparator)+path)
	r, err = day2.Gather(ctx, st, day2.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict == day2.Unreachable || len(r.Nodes) == 0 || len(r.Services) != len(site.Services) {
		t.Fatalf("status of %s through the EKS kubeconfig: %s, %d nodes, %d services, problems %v", site.Name, r.Verdict, len(r.Nodes), len(r.Services), r.Problems)
	}
	for _, s := range r.Services {
		if s.Missing || s.Ready < 1 {
			t.Errorf("service %s: %+v", s.Name, s)
		}
	}
	got, _ := os.ReadFile(calls)
	want := fmt.Sprintf("eks get-token --cluster-name %s --region %s --output json", eks.ClusterName, site.Config.AWS.Region)
	if !strings.HasPrefix(string(got), want) {
		t.Errorf("the token command ran as %q, want %q", got, want)
	}
}
