package sites

import (
	"slices"
	"strings"
	"testing"
)

const awsSite = minimalSite + `infra:
  objectStorage: {documentBucket: acme-docs, fileStorageBucket: acme-files}
aws:
  region: ap-northeast-2
  s3: {}
  eks: {clusterName: acme}
`

func TestAWSDefaultsAndSecrets(t *testing.T) {
	site := mustParse(t, awsSite)
	a := site.Config.AWS
	if !*a.S3.Versioning || a.S3.Credentials != "iamUser" || a.S3.UserName != "test-objects" || a.S3.KeyGeneration != 1 || a.S3.DeleteOnDestroy {
		t.Errorf("s3 defaults: %+v", a.S3)
	}
	if os := site.Config.Infra.ObjectStorage; os.Endpoint != "https://s3.ap-northeast-2.amazonaws.com" || !*os.Secure {
		t.Errorf("object storage %+v, want the region's S3 over TLS", os)
	}
	js, _ := yamlToJSON([]byte(awsSite))
	keys, err := RequiredSecrets(map[string]string{SiteKey: string(js)})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kubeconfig", "objectStorageAccessKey", "objectStorageSecretKey"} {
		if slices.Contains(keys, k) {
			t.Errorf("%s is asked for with EKS and an IAM user: %v", k, keys)
		}
	}
	// Bring-your-own keys: the secrets are needed again.
	js, _ = yamlToJSON([]byte(strings.Replace(awsSite, "s3: {}", "s3: {credentials: secrets}", 1)))
	if keys, _ = RequiredSecrets(map[string]string{SiteKey: string(js)}); !slices.Contains(keys, "objectStorageAccessKey") {
		t.Errorf("credentials: secrets without the key secrets: %v", keys)
	}
}

func TestBadAWSConfigs(t *testing.T) {
	cases := []badConfig{
		{"no region", strings.Replace(awsSite, "region: ap-northeast-2", "profile: ops", 1), "site.aws.region", "is required"},
		{"region", strings.Replace(awsSite, "ap-northeast-2", "seoul", 1), "site.aws.region", "AWS region code"},
		{"no bucket name", strings.Replace(awsSite, "documentBucket: acme-docs, ", "", 1), "site.infra.objectStorage.documentBucket", "is required with aws.s3"},
		{"bucket name", strings.Replace(awsSite, "acme-files", "192.168.1.1", 1), "site.infra.objectStorage.fileStorageBucket", "not an S3 bucket name"},
		{"other endpoint", strings.Replace(awsSite, "objectStorage: {", "objectStorage: {endpoint: 'https://minio.example.com', ", 1), "site.infra.objectStorage.endpoint", "contradicts aws.s3"},
		{"credentials", strings.Replace(awsSite, "s3: {}", "s3: {credentials: keys}", 1), "site.aws.s3.credentials", "iamUser"},
		{"key generation", strings.Replace(awsSite, "s3: {}", "s3: {keyGeneration: -1}", 1), "site.aws.s3.keyGeneration", "1 or more"},
		{"adopted user unnamed", strings.Replace(awsSite, "s3: {}", "s3: {adoptUser: true}", 1), "site.aws.s3.userName", "is required with adoptUser"},
		{"adopted user without iamUser", strings.Replace(awsSite, "s3: {}", "s3: {adoptUser: true, userName: aww-minio, credentials: secrets}", 1), "site.aws.s3.adoptUser", "needs credentials: iamUser"},
		{"role", strings.Replace(awsSite, "region: ap-northeast-2", "region: ap-northeast-2\n  assumeRoleArn: deployer", 1), "site.aws.assumeRoleArn", "IAM role ARN"},
		{"empty", minimalSite + "aws: {region: ap-northeast-2}\n", "site.aws", "has nothing to do"},
		{"eks and cluster", clusterSite(oneServer) + "aws: {region: ap-northeast-2, eks: {clusterName: acme}}\n", "site.aws.eks", "keep one"},
		{"eks name", strings.Replace(awsSite, "clusterName: acme", "clusterName: 'acme cluster'", 1), "site.aws.eks.clusterName", "EKS cluster's name"},
	}
	checkBadConfigs(t, cases)
}

// An AWS key in stack config is refused unless it is a secret, and on a site without aws;
// its value is never echoed.
func TestAWSKeysInStackConfig(t *testing.T) {
	js, _ := yamlToJSON([]byte(awsSite))
	cfg, keys := requiredSecrets(string(js))
	cfg[SiteKey] = string(js)
	cfg["aws:accessKey"] = "AKIAPLAINTEXTKEY"
	_, err := Parse("acme", cfg, keys)
	if err == nil || !strings.Contains(err.Error(), "aws:accessKey: is stored in plain text") || strings.Contains(err.Error(), "AKIAPLAINTEXTKEY") {
		t.Errorf("a plain aws:accessKey: %v", err)
	}
	if _, err := Parse("acme", cfg, append(keys, "aws:accessKey")); err != nil {
		t.Errorf("a secret aws:accessKey is refused: %v", err)
	}
	js, _ = yamlToJSON([]byte(minimalSite))
	cfg, keys = requiredSecrets(string(js))
	cfg[SiteKey] = string(js)
	cfg["aws:secretKey"] = "x"
	if _, err := Parse("acme", cfg, append(keys, "aws:secretKey")); err == nil || !strings.Contains(err.Error(), "the site has no aws section") {
		t.Errorf("an AWS key on a site without aws: %v", err)
	}
}
