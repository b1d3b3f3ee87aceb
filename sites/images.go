package sites

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Where an image is loaded on the site's hosts.
const (
	// RuntimeCluster images run in the cluster: on a K3s site containerd on every node
	// imports them from /var/lib/rancher/k3s/agent/images/.
	RuntimeCluster = "cluster"
	// RuntimeDocker images run in the compose project: `docker load` on the compose host.
	RuntimeDocker = "docker"
)

// SiteImage is one image a site needs.
type SiteImage struct {
	// Ref is the image reference as deployed (registry/path:tag).
	Ref string
	// For names what runs it: a service, an add-on release, an infra service, or "k3s".
	For string
	// Runtime is RuntimeCluster or RuntimeDocker.
	Runtime string
}

// K3sImagesList is the K3s release file that lists the images of its air-gap tarball.
const K3sImagesList = "k3s-images.txt"

// ForK3s is the For of K3s' own images: the release's air-gap tarball carries them, so a
// bundle need not.
const ForK3s = "k3s"

// Images lists every image the site runs, and only those: the services the site runs (a
// service it does not run is never listed: the xgen-jeju incident), the cluster add-ons, the
// compose project's services, and K3s' own images when the air-gapped artifacts carry the
// release's k3s-images.txt. Order: services, add-ons, K3s, infra.
func (s *Site) Images() ([]SiteImage, error) {
	var out []SiteImage
	for _, svc := range s.Services {
		out = append(out, SiteImage{Ref: svc.Image, For: svc.Name, Runtime: RuntimeCluster})
	}
	c := &s.Config
	if c.IstioEnabled() {
		is := c.Cluster.Addons.Istio
		out = append(out,
			SiteImage{Ref: is.Hub + "/pilot:" + is.Version, For: "istiod", Runtime: RuntimeCluster},
			SiteImage{Ref: is.Hub + "/proxyv2:" + is.Version, For: "istio-ingressgateway", Runtime: RuntimeCluster})
	}
	if c.RegistryAddonEnabled() {
		out = append(out, SiteImage{Ref: c.Cluster.Addons.Registry.Image, For: "registry", Runtime: RuntimeCluster})
	}
	if c.GPUAddonEnabled() {
		out = append(out, SiteImage{Ref: c.Cluster.Addons.GPU.DevicePluginImage, For: "nvidia-device-plugin", Runtime: RuntimeCluster})
	}
	if c.ObservabilityEnabled() {
		out = append(out, c.Cluster.Addons.Observability.RunImages(c.HasGPUHosts())...)
	}
	if a := s.Artifacts; a != nil {
		for _, ref := range a.ImageList {
			out = append(out, SiteImage{Ref: ref, For: ForK3s, Runtime: RuntimeCluster})
		}
	}
	if cc := c.Infra.Compose; cc != nil && cc.Services != nil {
		sv := cc.Services
		if sv.Postgres != nil {
			out = append(out, SiteImage{Ref: sv.Postgres.Image, For: "postgres", Runtime: RuntimeDocker})
		}
		if sv.Redis != nil {
			out = append(out, SiteImage{Ref: sv.Redis.Image, For: "redis", Runtime: RuntimeDocker})
		}
		if sv.Qdrant != nil {
			out = append(out, SiteImage{Ref: sv.Qdrant.Image, For: "qdrant", Runtime: RuntimeDocker})
		}
		if sv.MinIO != nil {
			out = append(out,
				SiteImage{Ref: sv.MinIO.Image, For: "minio", Runtime: RuntimeDocker},
				SiteImage{Ref: sv.MinIO.InitImage, For: "minio-init", Runtime: RuntimeDocker})
		}
		postgres, redis := c.ComposeExporters()
		if postgres {
			out = append(out, SiteImage{Ref: c.Cluster.Addons.Observability.Images.PostgresExporter, For: "postgres-exporter", Runtime: RuntimeDocker})
		}
		if redis {
			out = append(out, SiteImage{Ref: c.Cluster.Addons.Observability.Images.RedisExporter, For: "redis-exporter", Runtime: RuntimeDocker})
		}
	}
	return out, nil
}

// readImageList reads one image reference per line (blank lines and # comments skipped).
func readImageList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

// checkBundleCoverage: the image bundle (read, or from the lock) holds every image of the
// site, the compose project's too: in a closed network nothing can be pulled.
func checkBundleCoverage(s *Site) Problems {
	m := s.ImageBundle
	if m == nil {
		return nil
	}
	p := &problemList{prefix: SiteKey}
	dir := s.Config.Cluster.K3s.ImageBundle
	have := map[string]bool{}
	for _, im := range m.Images {
		have[im.Runtime+" "+im.Ref] = true
	}
	want, err := s.Images()
	if err != nil {
		p.add("cluster.k3s.imageBundle", dir, "%v", err)
		return p.list
	}
	var missing []string
	for _, im := range want {
		if im.For != ForK3s && !have[im.Runtime+" "+im.Ref] {
			missing = append(missing, fmt.Sprintf("%s (for %s)", im.Ref, im.For))
		}
	}
	if len(missing) > 0 {
		p.add("cluster.k3s.imageBundle", dir, "lacks %s; write it again with `go run ./cmd/images bundle --stack %s --out %s`",
			strings.Join(missing, ", "), s.Name, dir)
	}
	return p.list
}
