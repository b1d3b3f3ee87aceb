package stack

// The image preflight: every service image is asked of the site's registry before
// anything is registered, and deployed by digest.

import (
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/images"
	"xgen-infra/sites"
)

// ImagePreflightEnv set to "off" skips the image preflight for an offline preview.
const ImagePreflightEnv = "XGEN_IMAGE_PREFLIGHT"

// imagePreflight asks the site's registry for every image of the services the site runs,
// and only those (a service the site does not run must never be asked for), and returns the
// digest each tag points at.
func imagePreflight(ctx *pulumi.Context, site *sites.Site) (map[string]string, error) {
	img := site.Config.Image
	reg := &images.Registry{Host: img.Registry, Username: img.RegistryUsername, PlainHTTP: img.RegistryPlainHTTP}
	if reg.Username != "" {
		// The plain value, for the registry's token service only; never logged.
		reg.Password, _ = ctx.GetConfig(sites.ConfigNamespace + ":registryPassword")
	}
	var refs []string
	for _, svc := range site.Services {
		refs = append(refs, svc.Image)
	}
	return images.Preflight(ctx.Context(), reg, refs)
}

// pinned deploys a service by the digest its tag points at now ("name:tag@sha256:..."): a
// new image pushed under the same tag then rolls exactly the service it belongs to, and a
// node never runs something else than what was deployed. A digest never changes, so the
// pull policy is IfNotPresent unless image.pullPolicy says otherwise. Without a digest (the
// preflight off: offline) the tag is deployed, with the tag's pull policy.
func pinned(site *sites.Site, svc sites.Service, digests map[string]string) sites.Service {
	digest := digests[svc.Image]
	if digest == "" || strings.Contains(svc.Image, "@") {
		return svc
	}
	svc.Image += "@" + digest
	if site.Config.Image.PullPolicy == "" {
		svc.PullPolicy = "IfNotPresent"
	}
	return svc
}
