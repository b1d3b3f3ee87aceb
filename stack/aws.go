package stack

// The AWS layer: the site's own provider, its EKS cluster's kubeconfig and the S3 buckets.

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/components"
	"xgen-infra/sites"
)

// awsResources is what the AWS layer gives the rest of the program.
type awsResources struct {
	kubeconfig pulumi.StringInput // nil without aws.eks
	storage    *components.S3Storage
	outputs    pulumi.Map
}

// awsLayer registers the site's AWS provider, looks up its EKS cluster and makes its S3
// buckets (and their IAM user) as site.aws says.
func awsLayer(ctx *pulumi.Context, site *sites.Site) (*awsResources, error) {
	a := site.Config.AWS
	args := &aws.ProviderArgs{
		Region: pulumi.String(a.Region),
		DefaultTags: &aws.ProviderDefaultTagsArgs{Tags: pulumi.StringMap{
			"xgen.ai/site": pulumi.String(site.Name), "managed-by": pulumi.String("xgen-infra"),
		}},
	}
	if a.Profile != "" {
		args.Profile = pulumi.String(a.Profile)
	}
	if a.AssumeRoleArn != "" {
		args.AssumeRole = &aws.ProviderAssumeRoleArgs{RoleArn: pulumi.String(a.AssumeRoleArn), SessionName: pulumi.String("xgen-infra-" + site.Name)}
	}
	provider, err := aws.NewProvider(ctx, "aws", args)
	if err != nil {
		return nil, fmt.Errorf("aws provider: %w", err)
	}
	out := &awsResources{outputs: pulumi.Map{}}
	if e := a.EKS; e != nil {
		cl, err := components.LookupEKS(ctx, components.EKSAccess{ClusterName: e.ClusterName, Region: a.Region, Profile: a.Profile, RoleArn: a.AssumeRoleArn},
			pulumi.Provider(provider))
		if err != nil {
			return nil, err
		}
		out.kubeconfig = pulumi.ToSecret(pulumi.String(cl.Kubeconfig)).(pulumi.StringOutput)
		out.outputs["clusterEndpoint"] = pulumi.String(cl.Endpoint)
	}
	if s3 := a.S3; s3 != nil {
		store := site.Config.Infra.ObjectStorage
		args := components.S3StorageArgs{Region: a.Region, Buckets: []string{store.DocumentBucket, store.FileStorageBucket},
			Versioning: *s3.Versioning, DeleteOnDestroy: s3.DeleteOnDestroy, Adopt: s3.Adopt}
		if s3.Credentials == "iamUser" {
			args.IAMUser, args.KeyGeneration, args.AdoptIAMUser = s3.UserName, s3.KeyGeneration, s3.AdoptUser
		}
		storage, err := components.NewS3Storage(ctx, "objects", args, pulumi.Provider(provider))
		if err != nil {
			return nil, err
		}
		out.storage = storage
		out.outputs["buckets"], out.outputs["bucketArns"], out.outputs["principalArn"] = storage.BucketNames, storage.BucketArns, storage.PrincipalArn
	}
	return out, nil
}
