package components

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/internal/inprocess"
)

func runStorage(t *testing.T, args S3StorageArgs) (*inprocess.Recorder, *S3Storage) {
	t.Helper()
	var s *S3Storage
	rec, err := inprocess.Run(func(ctx *pulumi.Context) error {
		var err error
		s, err = NewS3Storage(ctx, "objects", args)
		return err
	}, "test", "test", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rec, s
}

func storageArgs() S3StorageArgs {
	return S3StorageArgs{Region: "ap-northeast-2", Buckets: []string{"acme-files", "acme-docs", "acme-files"},
		Versioning: true, IAMUser: "acme-objects", KeyGeneration: 1}
}

func byType(rec *inprocess.Recorder, typ string) []inprocess.Resource {
	var out []inprocess.Resource
	for _, r := range rec.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// TestBucketPolicyIsExactlyTheBuckets: only the site's buckets, only the listed actions,
// object actions only on objects.
func TestBucketPolicyIsExactlyTheBuckets(t *testing.T) {
	rec, _ := runStorage(t, storageArgs())
	policies := byType(rec, "aws:iam/userPolicy:UserPolicy")
	if len(policies) != 1 {
		t.Fatalf("%d user policies", len(policies))
	}
	plain, _ := policies[0].PlainInputs()
	var doc struct {
		Statement []struct {
			Effect   string
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal([]byte(plain["policy"].(string)), &doc); err != nil {
		t.Fatal(err)
	}
	allowed := append(slices.Clone(ObjectActions), BucketActions...)
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			t.Errorf("statement effect %s", st.Effect)
		}
		objects := strings.HasSuffix(st.Resource[0], "/*")
		for _, a := range st.Action {
			if !slices.Contains(allowed, a) || strings.Contains(a, "*") {
				t.Errorf("action %s is not one the apps need", a)
			}
			if slices.Contains(ObjectActions, a) != objects {
				t.Errorf("action %s on %v", a, st.Resource)
			}
		}
		for _, r := range st.Resource {
			b := strings.TrimSuffix(strings.TrimPrefix(r, "arn:aws:s3:::"), "/*")
			if b != "acme-docs" && b != "acme-files" {
				t.Errorf("resource %s is not one of the site's buckets", r)
			}
		}
	}
	if len(doc.Statement) != 2 {
		t.Errorf("%d statements", len(doc.Statement))
	}
}

func TestBucketsAreRetainedPrivateEncryptedVersioned(t *testing.T) {
	rec, s := runStorage(t, storageArgs())
	if n := len(byType(rec, "aws:s3/bucketV2:BucketV2")); n != 2 {
		t.Errorf("%d buckets for two names (one listed twice)", n)
	}
	for _, r := range rec.Resources {
		if strings.HasPrefix(r.Type, "aws:s3/") && !r.RetainOnDelete {
			t.Errorf("%s %s is not retained on delete", r.Type, r.Name)
		}
		plain, _ := r.PlainInputs()
		switch r.Type {
		case "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
			for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
				if plain[k] != true {
					t.Errorf("%s: %s is %v", r.Name, k, plain[k])
				}
			}
		case "aws:s3/bucketVersioningV2:BucketVersioningV2":
			if inprocess.Get(plain, "versioningConfiguration", "status") != "Enabled" {
				t.Errorf("%s: %v", r.Name, plain)
			}
		case "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2":
			if inprocess.Get(plain, "rules", 0, "applyServerSideEncryptionByDefault", "sseAlgorithm") != "AES256" {
				t.Errorf("%s: %v", r.Name, plain)
			}
		case "aws:s3/bucketOwnershipControls:BucketOwnershipControls":
			if inprocess.Get(plain, "rule", "objectOwnership") != "BucketOwnerEnforced" {
				t.Errorf("%s: %v", r.Name, plain)
			}
		}
	}
	_ = s
	a := storageArgs()
	a.DeleteOnDestroy, a.Versioning = true, false
	rec, _ = runStorage(t, a)
	for _, r := range rec.Resources {
		if strings.HasPrefix(r.Type, "aws:s3/") && r.RetainOnDelete {
			t.Errorf("%s retained with deleteOnDestroy", r.Name)
		}
		if r.Type == "aws:s3/bucketVersioningV2:BucketVersioningV2" {
			plain, _ := r.PlainInputs()
			if inprocess.Get(plain, "versioningConfiguration", "status") != "Suspended" {
				t.Errorf("versioning off: %v", plain)
			}
		}
	}
}

// TestAccessKeyIsSecretAndRotates: the key's id and secret are Pulumi secrets; a new key
// generation is a new key resource, the user and policy unchanged.
func TestAccessKeyIsSecretAndRotates(t *testing.T) {
	_, s := runStorage(t, storageArgs())
	for name, out := range map[string]pulumi.StringOutput{"id": s.AccessKeyID, "secret": s.SecretAccessKey} {
		if !pulumi.IsSecret(out) {
			t.Errorf("access key %s is not a secret", name)
		}
	}
	first, _ := runStorage(t, storageArgs())
	a := storageArgs()
	a.KeyGeneration = 2
	second, _ := runStorage(t, a)
	names := func(rec *inprocess.Recorder, typ string) []string {
		var out []string
		for _, r := range byType(rec, typ) {
			out = append(out, r.Name)
		}
		return out
	}
	if got := names(second, "aws:iam/accessKey:AccessKey"); !slices.Equal(got, []string{"acme-objects-key-2"}) {
		t.Errorf("keys after rotation: %v", got)
	}
	for _, typ := range []string{"aws:iam/user:User", "aws:iam/userPolicy:UserPolicy"} {
		if !slices.Equal(names(first, typ), names(second, typ)) {
			t.Errorf("%s changed with a key rotation", typ)
		}
	}
}

func TestAdoptImportsBucketsByName(t *testing.T) {
	a := storageArgs()
	a.Adopt = true
	rec, _ := runStorage(t, a)
	for _, r := range byType(rec, "aws:s3/bucketV2:BucketV2") {
		plain, _ := r.PlainInputs()
		if r.ImportID != plain["bucket"] {
			t.Errorf("%s imports %q, want the bucket name", r.Name, r.ImportID)
		}
	}
}

// TestAdoptUserImportsAndKeepsIt: an adopted IAM user is imported by its name and kept on
// delete; a user the program makes is neither.
func TestAdoptUserImportsAndKeepsIt(t *testing.T) {
	for _, adopt := range []bool{false, true} {
		a := storageArgs()
		a.AdoptIAMUser = adopt
		rec, _ := runStorage(t, a)
		users := byType(rec, "aws:iam/user:User")
		if len(users) != 1 {
			t.Fatalf("%d IAM users", len(users))
		}
		u := users[0]
		if wantID := map[bool]string{true: a.IAMUser}[adopt]; u.ImportID != wantID || u.RetainOnDelete != adopt {
			t.Errorf("adopt %v: import %q retain %v", adopt, u.ImportID, u.RetainOnDelete)
		}
	}
}

func TestEKSKubeconfigHasNoCredential(t *testing.T) {
	kc, err := EKSKubeconfig(EKSAccess{ClusterName: "acme", Region: "ap-northeast-2", Profile: "ops", RoleArn: "arn:aws:iam::123456789012:role/deploy"},
		"https://ABC.gr7.ap-northeast-2.eks.amazonaws.com", "Q0E=")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server: https://ABC.gr7.ap-northeast-2.eks.amazonaws.com", "certificate-authority-data: Q0E=", "command: aws",
		"- get-token", "- acme", "- ap-northeast-2", "- arn:aws:iam::123456789012:role/deploy", "value: ops"} {
		if !strings.Contains(kc, want) {
			t.Errorf("kubeconfig lacks %q:\n%s", want, kc)
		}
	}
	for _, bad := range []string{"token:", "client-key", "password"} {
		if strings.Contains(kc, bad) {
			t.Errorf("kubeconfig carries %s", bad)
		}
	}
}
