package components

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// S3StorageArgs are the site's object storage buckets in S3 and, optionally, the IAM user
// the applications use them as.
type S3StorageArgs struct {
	// Region of the buckets (for their ARNs' partition). Required.
	Region string
	// Buckets by name (duplicates are one bucket). Required.
	Buckets []string
	// Versioning keeps old object versions. Default false (the site model defaults it on).
	Versioning bool
	// DeleteOnDestroy lets destroy delete the buckets and their settings. Default false:
	// every bucket resource is retained on delete.
	DeleteOnDestroy bool
	// Adopt imports existing buckets by name instead of creating them. Default false.
	Adopt bool
	// IAMUser, when set, is made with a policy allowing exactly the buckets' object
	// operations, and an access key named by KeyGeneration (raise it to rotate).
	IAMUser       string
	KeyGeneration int
	// AdoptIAMUser imports the existing user IAMUser by name instead of creating it, and
	// keeps it on delete (it was not ours to remove). Default false.
	AdoptIAMUser bool
}

// S3Storage is the buckets and their principal.
type S3Storage struct {
	pulumi.ResourceState

	// BucketNames and BucketArns, in Buckets' order.
	BucketNames pulumi.StringArrayOutput `pulumi:"bucketNames"`
	BucketArns  pulumi.StringArrayOutput `pulumi:"bucketArns"`
	// PrincipalArn is the IAM user's ARN ("" without IAMUser).
	PrincipalArn pulumi.StringOutput `pulumi:"principalArn"`
	// AccessKeyID and SecretAccessKey are the user's key (Pulumi secrets; "" without IAMUser).
	AccessKeyID     pulumi.StringOutput
	SecretAccessKey pulumi.StringOutput
}

// ObjectActions are what the applications do with objects: read, write, delete, list and
// multipart uploads; nothing on bucket settings, policies or other buckets.
var ObjectActions = []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}

// BucketActions are the bucket-level reads the applications need (listing).
var BucketActions = []string{"s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:GetBucketLocation"}

// NewS3Storage registers per bucket: the bucket, versioning, default encryption (SSE-S3 with
// a bucket key), a public access block (all four on) and BucketOwnerEnforced ownership,
// every one retained on delete unless DeleteOnDestroy; then the IAM user, its inline policy
// (built here, so it is known at preview) and its access key.
func NewS3Storage(ctx *pulumi.Context, name string, args S3StorageArgs, opts ...pulumi.ResourceOption) (*S3Storage, error) {
	buckets := slices.Clone(args.Buckets)
	slices.Sort(buckets)
	buckets = slices.Compact(buckets)
	if len(buckets) == 0 || args.Region == "" {
		return nil, fmt.Errorf("s3 storage %s: Region and Buckets are required", name)
	}
	c := &S3Storage{}
	if err := ctx.RegisterComponentResource("xgen:index:S3Storage", name, c, opts...); err != nil {
		return nil, err
	}
	child := []pulumi.ResourceOption{pulumi.Parent(c), pulumi.RetainOnDelete(!args.DeleteOnDestroy)}
	var arns []string
	for _, b := range buckets {
		bucketOpts := child
		if args.Adopt {
			bucketOpts = append(slices.Clone(child), pulumi.Import(pulumi.ID(b)))
		}
		bucket, err := s3.NewBucketV2(ctx, "bucket-"+b, &s3.BucketV2Args{Bucket: pulumi.String(b)}, bucketOpts...)
		if err != nil {
			return nil, fmt.Errorf("s3 storage %s: bucket %s: %w", name, b, err)
		}
		status := "Suspended"
		if args.Versioning {
			status = "Enabled"
		}
		if _, err := s3.NewBucketVersioningV2(ctx, "versioning-"+b, &s3.BucketVersioningV2Args{
			Bucket:                  bucket.ID(),
			VersioningConfiguration: &s3.BucketVersioningV2VersioningConfigurationArgs{Status: pulumi.String(status)},
		}, child...); err != nil {
			return nil, err
		}
		if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, "encryption-"+b, &s3.BucketServerSideEncryptionConfigurationV2Args{
			Bucket: bucket.ID(),
			Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{&s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
				ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
					SseAlgorithm: pulumi.String("AES256"),
				},
				BucketKeyEnabled: pulumi.Bool(true),
			}},
		}, child...); err != nil {
			return nil, err
		}
		if _, err := s3.NewBucketPublicAccessBlock(ctx, "public-access-"+b, &s3.BucketPublicAccessBlockArgs{
			Bucket: bucket.ID(), BlockPublicAcls: pulumi.Bool(true), BlockPublicPolicy: pulumi.Bool(true),
			IgnorePublicAcls: pulumi.Bool(true), RestrictPublicBuckets: pulumi.Bool(true),
		}, child...); err != nil {
			return nil, err
		}
		if _, err := s3.NewBucketOwnershipControls(ctx, "ownership-"+b, &s3.BucketOwnershipControlsArgs{
			Bucket: bucket.ID(),
			Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
		}, child...); err != nil {
			return nil, err
		}
		arns = append(arns, BucketARN(args.Region, b))
	}
	c.BucketNames = pulumi.ToStringArray(buckets).ToStringArrayOutput()
	c.BucketArns = pulumi.ToStringArray(arns).ToStringArrayOutput()
	c.PrincipalArn = pulumi.String("").ToStringOutput()
	c.AccessKeyID = pulumi.ToSecret(pulumi.String("")).(pulumi.StringOutput)
	c.SecretAccessKey = c.AccessKeyID

	if args.IAMUser != "" {
		userOpts := []pulumi.ResourceOption{pulumi.Parent(c)}
		if args.AdoptIAMUser {
			userOpts = append(userOpts, pulumi.Import(pulumi.ID(args.IAMUser)), pulumi.RetainOnDelete(true))
		}
		user, err := iam.NewUser(ctx, args.IAMUser, &iam.UserArgs{Name: pulumi.String(args.IAMUser)}, userOpts...)
		if err != nil {
			return nil, fmt.Errorf("s3 storage %s: iam user: %w", name, err)
		}
		if _, err := iam.NewUserPolicy(ctx, args.IAMUser+"-buckets", &iam.UserPolicyArgs{
			User: user.Name, Name: pulumi.String("xgen-buckets"), Policy: pulumi.String(BucketPolicy(args.Region, buckets)),
		}, pulumi.Parent(c)); err != nil {
			return nil, err
		}
		gen := args.KeyGeneration
		if gen < 1 {
			gen = 1
		}
		// A new generation is a new key resource: created first, the pods roll onto it, then
		// the old key is deleted.
		key, err := iam.NewAccessKey(ctx, args.IAMUser+"-key-"+strconv.Itoa(gen), &iam.AccessKeyArgs{User: user.Name},
			pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		c.PrincipalArn = user.Arn
		c.AccessKeyID = pulumi.ToSecret(key.ID().ToStringOutput()).(pulumi.StringOutput)
		c.SecretAccessKey = pulumi.ToSecret(key.Secret).(pulumi.StringOutput)
	}
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"bucketNames": c.BucketNames, "bucketArns": c.BucketArns, "principalArn": c.PrincipalArn,
	})
}

// BucketARN is a bucket's ARN in the region's partition.
func BucketARN(region, bucket string) string {
	partition := "aws"
	switch {
	case strings.HasPrefix(region, "cn-"):
		partition = "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		partition = "aws-us-gov"
	}
	return "arn:" + partition + ":s3:::" + bucket
}

// BucketPolicy is the IAM policy of the applications' user: the bucket-level reads on the
// buckets, the object actions on their objects, nothing else.
func BucketPolicy(region string, buckets []string) string {
	var bucketArns, objectArns []string
	for _, b := range buckets {
		bucketArns = append(bucketArns, BucketARN(region, b))
		objectArns = append(objectArns, BucketARN(region, b)+"/*")
	}
	type statement struct {
		Sid      string   `json:"Sid"`
		Effect   string   `json:"Effect"`
		Action   []string `json:"Action"`
		Resource []string `json:"Resource"`
	}
	doc := struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}{Version: "2012-10-17", Statement: []statement{
		{Sid: "Buckets", Effect: "Allow", Action: BucketActions, Resource: bucketArns},
		{Sid: "Objects", Effect: "Allow", Action: ObjectActions, Resource: objectArns},
	}}
	out, err := json.Marshal(doc)
	if err != nil {
		panic(err) // plain strings: cannot fail
	}
	return string(out)
}
