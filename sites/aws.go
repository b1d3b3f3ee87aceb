package sites

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
)

// AWSConfig puts a site's cloud resources in AWS (`site.aws`): the object storage buckets
// and their IAM principal, and the EKS cluster's kubeconfig. Credentials come the AWS way:
// a named profile or the ambient chain (environment, SSO, instance role), optionally with a
// role to assume; never a key in plain stack config.
type AWSConfig struct {
	// Region, e.g. "ap-northeast-2". Required.
	Region string `json:"region,omitempty"`
	// Profile is a named profile of the operator's AWS config. Default: the ambient chain.
	Profile string `json:"profile,omitempty"`
	// AssumeRoleArn is a role the program assumes for every AWS call. Default none.
	AssumeRoleArn string `json:"assumeRoleArn,omitempty"`
	// S3 makes infra.objectStorage S3: buckets created (or adopted) by the program.
	S3 *S3Config `json:"s3,omitempty"`
	// EKS builds the Kubernetes provider's kubeconfig from the EKS cluster (no kubeconfig
	// secret).
	EKS *EKSConfig `json:"eks,omitempty"`
}

// S3Config is the object storage in S3. The bucket names are infra.objectStorage's
// documentBucket and fileStorageBucket (required with S3: bucket names are global).
type S3Config struct {
	// Adopt takes over buckets that already exist (import by name) instead of creating them.
	Adopt bool `json:"adopt,omitempty"`
	// Versioning keeps old object versions. Default true.
	Versioning *bool `json:"versioning,omitempty"`
	// DeleteOnDestroy lets `pulumi destroy` delete the buckets (and their data). Default
	// false: they are retained.
	DeleteOnDestroy bool `json:"deleteOnDestroy,omitempty"`
	// Credentials says where the apps' keys come from: "iamUser" (the program makes an IAM
	// user allowed exactly the buckets' object operations, and its access key) or
	// "secrets" (the objectStorageAccessKey/SecretKey secrets). Default "iamUser".
	Credentials string `json:"credentials,omitempty"`
	// UserName of the IAM user. Default "<stack>-objects" (set when the site is loaded).
	UserName string `json:"userName,omitempty"`
	// AdoptUser takes over the IAM user userName, which already exists (import by name),
	// instead of creating it; an adopted user is kept on destroy. Needs credentials iamUser
	// and the user's name in userName.
	AdoptUser bool `json:"adoptUser,omitempty"`
	// KeyGeneration names the access key; raising it rotates the key (a new key, the pods
	// roll, the old key is deleted). Default 1.
	KeyGeneration int `json:"keyGeneration,omitempty"`
}

// EKSConfig names the EKS cluster the site runs on.
type EKSConfig struct {
	// ClusterName of the EKS cluster. Required.
	ClusterName string `json:"clusterName,omitempty"`
}

var (
	awsRegion  = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`)
	awsRoleArn = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	iamName    = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	eksName    = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$`)
)

// S3Endpoint is the regional S3 endpoint the apps use.
func S3Endpoint(region string) string { return "https://s3." + region + ".amazonaws.com" }

// usesS3IAMUser: the program makes the apps' object storage keys.
func usesS3IAMUser(c *Config) bool {
	return c.AWS != nil && c.AWS.S3 != nil && c.AWS.S3.Credentials == "iamUser"
}

// setAWSDefaults fills site.aws; part of SetDefaults, before the infra defaults (the object
// storage endpoint and buckets follow S3).
func setAWSDefaults(c *Config, stack string) {
	a := c.AWS
	if a == nil || a.S3 == nil {
		return
	}
	s3 := a.S3
	if !s3.AdoptUser { // an adopted user is named, never defaulted (validateAWS)
		setString(&s3.UserName, stack+"-objects")
	}
	if s3.Versioning == nil {
		on := true
		s3.Versioning = &on
	}
	setString(&s3.Credentials, "iamUser")
	setInt(&s3.KeyGeneration, 1)
	if a.Region != "" {
		setString(&c.Infra.ObjectStorage.Endpoint, S3Endpoint(a.Region))
	}
}

// validateAWS reports every problem of site.aws.
func validateAWS(p *problemList, c *Config) {
	a := c.AWS
	if a == nil {
		return
	}
	switch {
	case a.Region == "":
		p.add("aws.region", nil, "is required: the AWS region of the site, e.g. \"ap-northeast-2\"")
	case !awsRegion.MatchString(a.Region):
		p.add("aws.region", a.Region, "must be an AWS region code, e.g. \"ap-northeast-2\"")
	}
	if a.Profile != "" && strings.ContainsAny(a.Profile, " \t\n[]") {
		p.add("aws.profile", a.Profile, "must be a profile name of the AWS config (no spaces or brackets)")
	}
	if a.AssumeRoleArn != "" && !awsRoleArn.MatchString(a.AssumeRoleArn) {
		p.add("aws.assumeRoleArn", a.AssumeRoleArn, "must be an IAM role ARN, e.g. \"arn:aws:iam::123456789012:role/xgen-deploy\"")
	}
	if a.S3 == nil && a.EKS == nil {
		p.add("aws", nil, "has nothing to do: add s3 (object storage buckets) and/or eks (the cluster's kubeconfig), or remove it")
	}
	if s3 := a.S3; s3 != nil {
		if !slices.Contains([]string{"iamUser", "secrets"}, s3.Credentials) {
			p.add("aws.s3.credentials", s3.Credentials, "use iamUser (the program makes the keys) or secrets (objectStorageAccessKey/SecretKey)")
		}
		if s3.UserName != "" && !iamName.MatchString(s3.UserName) {
			p.add("aws.s3.userName", s3.UserName, "must be an IAM user name (letters, digits, +=,.@_-; at most 64)")
		}
		if s3.AdoptUser && s3.UserName == "" {
			p.add("aws.s3.userName", nil, "is required with adoptUser: the name of the existing IAM user to take over")
		}
		if s3.AdoptUser && s3.Credentials != "iamUser" {
			p.add("aws.s3.adoptUser", true, "needs credentials: iamUser (with secrets the program makes no user to adopt); remove adoptUser or use iamUser")
		}
		if s3.KeyGeneration < 1 {
			p.add("aws.s3.keyGeneration", s3.KeyGeneration, "must be 1 or more (raise it to rotate the access key)")
		}
		if a.Region != "" && c.Infra.ObjectStorage.Endpoint != S3Endpoint(a.Region) {
			p.add("infra.objectStorage.endpoint", c.Infra.ObjectStorage.Endpoint, "contradicts aws.s3: the buckets are in %s (%s); remove the endpoint", a.Region, S3Endpoint(a.Region))
		}
		os := c.Infra.ObjectStorage
		for key, b := range map[string]string{"documentBucket": os.DocumentBucket, "fileStorageBucket": os.FileStorageBucket} {
			switch {
			case b == "":
				p.add("infra.objectStorage."+key, nil, "is required with aws.s3: S3 bucket names are global, so the on-prem default %q cannot be assumed; name the site's bucket", map[string]string{"documentBucket": "documents", "fileStorageBucket": "files"}[key])
			case !validS3Bucket(b):
				p.add("infra.objectStorage."+key, b, "is not an S3 bucket name: 3-63 lowercase letters, digits, '.', '-', starting and ending with a letter or digit, not an IP address, no \"xn--\" prefix or \"-s3alias\" suffix")
			}
		}
		if cc := c.Infra.Compose; cc != nil && cc.Services != nil && cc.Services.MinIO != nil {
			p.add("infra.compose.services.minio", nil, "the object storage is S3 (aws.s3); remove minio from the compose project")
		}
	}
	if e := a.EKS; e != nil {
		if !eksName.MatchString(e.ClusterName) {
			p.add("aws.eks.clusterName", e.ClusterName, "must be the EKS cluster's name (letters, digits, '-', '_'; at most 100)")
		}
		if c.Cluster != nil {
			p.add("aws.eks", nil, "and site.cluster both say where the cluster is; keep one")
		}
	}
}

// validS3Bucket follows S3's bucket naming rules.
func validS3Bucket(b string) bool {
	return bucketName.MatchString(b) && !strings.Contains(b, "..") && net.ParseIP(b) == nil &&
		!strings.HasPrefix(b, "xn--") && !strings.HasPrefix(b, "sthree-") && !strings.HasSuffix(b, "-s3alias") && !strings.HasSuffix(b, "--ol-s3")
}

// checkAWSCredentials: an AWS key in this stack's config must be a secret, and only on a site
// that uses AWS. Values are never printed.
func checkAWSCredentials(stack string, c *Config, config map[string]string, secretKeys []string) Problems {
	var probs Problems
	for _, name := range []string{"accessKey", "secretKey", "token"} {
		key := "aws:" + name
		if _, set := config[key]; !set {
			continue
		}
		switch {
		case c.AWS == nil:
			probs = append(probs, Problem{Key: key, Fix: fmt.Sprintf("is set, but the site has no aws section; remove it (pulumi config rm %s --stack %s)", key, stack)})
		case !slices.Contains(secretKeys, key):
			probs = append(probs, Problem{Key: key, Fix: fmt.Sprintf(
				"is stored in plain text; remove it and use a profile (site.aws.profile) or the ambient credentials, or at least: pulumi config set --secret %s --stack %s", key, stack)})
		}
	}
	return probs
}
