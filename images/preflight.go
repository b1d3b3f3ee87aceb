package images

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Preflight checks that every image is in the registry, one request per image, and returns
// the digest each one points at now (image → digest, when the registry names it), or one
// error that lists every missing image and how to fix it. An unreachable registry or refused
// credentials stop it at the first image with what to do about it.
func Preflight(ctx context.Context, r *Registry, images []string) (map[string]string, error) {
	var missing []string
	digests := map[string]string{}
	for _, image := range images {
		ref, err := ParseRef(image)
		if err != nil {
			return nil, err
		}
		if ref.Host != r.Host {
			return nil, fmt.Errorf("image %s is not in the site registry %s", image, r.Host)
		}
		digest, ok, err := r.Digest(ctx, ref.Repository, ref.Reference)
		switch {
		case errors.Is(err, ErrUnauthorized):
			return nil, fmt.Errorf("image preflight: registry %s refused the site's credentials (%v): check image.registryUsername and the secret registryPassword (`pulumi config set --secret registryPassword`)", r.Host, err)
		case err != nil:
			return nil, fmt.Errorf("image preflight: cannot reach registry %s (%v); for a preview without the registry, set image.preflight: false or XGEN_IMAGE_PREFLIGHT=off", r.Host, err)
		case !ok:
			missing = append(missing, image)
		case digest != "":
			digests[image] = digest
		}
	}
	if len(missing) == 0 {
		return digests, nil
	}
	return nil, fmt.Errorf("image preflight: %d of %d images are not in registry %s:\n  %s\npush each one (`docker push <image>`, or `skopeo copy docker-archive:<file>.tar docker://<image>`), or point the site at tags that exist (image.tag, services.<name>.tag)",
		len(missing), len(images), r.Host, strings.Join(missing, "\n  "))
}
