package testimages

import (
	"context"
	"io"
	"os"

	"xgen-infra/images/bundle"
	"xgen-infra/sites"
)

// BundleCopier writes a site's images into an image bundle without a registry
// (bundle.Copier): the compose images as their test images (Docker runs them), every other
// one as a MinimalArchive whose layer is "build " + Builds[ref] (a new build is new content, a
// new digest; the K3s stand-in's containerd only imports them).
type BundleCopier struct {
	Builds  map[string]string
	Compose map[string]string // reference → test image archive (Build)
}

// Copy writes ref's archive to file.
func (c BundleCopier) Copy(_ context.Context, ref, file string, _ io.Writer) error {
	if src, ok := c.Compose[ref]; ok {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		return os.WriteFile(file, data, 0o644)
	}
	data, err := MinimalArchive(ref, "build "+c.Builds[ref])
	if err != nil {
		return err
	}
	return os.WriteFile(file, data, 0o644)
}

// WriteBundle writes the image bundle of a site into dir, as `images bundle` would: what a
// closed network's stack names in cluster.k3s.imageBundle. compose are the compose images'
// test images (Build).
func WriteBundle(ctx context.Context, dir string, site *sites.Site, compose map[string]string) error {
	list, err := site.Images()
	if err != nil {
		return err
	}
	var images []bundle.Image
	for _, im := range list {
		if im.For != sites.ForK3s { // K3s' own images come with its release files
			images = append(images, bundle.Image{Ref: im.Ref, For: im.For, Runtime: im.Runtime})
		}
	}
	_, err = bundle.Write(ctx, dir, site.Name, images, BundleCopier{Compose: compose}, io.Discard)
	return err
}
