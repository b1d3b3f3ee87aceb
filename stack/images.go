package stack

// The image preflight: every service image is asked of the site's registry before
// anything is registered, and deployed by digest.

import (
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/images"
	"xgen-infra/sites"
)

// ImagePreflightEnv set to "off" skips the image preflight for an offline preview.
const ImagePreflightEnv = "XGEN_IMAGE_PREFLIGHT"

// imagePreflight asks the site's registry once for every image of the services the site
// runs in any of its environments, and only those (a service the site does not run must never
// be asked for), and returns the digest each tag points at, by image.
func imagePreflight(ctx *pulumi.Context, site *sites.Site) (map[string]string, error) {
	img := site.Config.Image
	reg := &images.Registry{Host: img.Registry, Username: img.RegistryUsername, PlainHTTP: img.RegistryPlainHTTP}
	if reg.Username != "" {
		reg.Password = plainSecret(ctx, sites.SecretRegistryPassword) // for its token service only
	}
	var refs []string
	for _, env := range site.Environments() {
		for _, svc := range env.Services {
			if !slices.Contains(refs, svc.Image) { // prd on dev's tag: one question each
				refs = append(refs, svc.Image)
			}
		}
	}
	return images.Preflight(ctx.Context(), reg, refs)
}
