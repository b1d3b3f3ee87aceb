package hosts

// The image bundle over real SSH (layer 4): K3sCluster uploads a closed network's images to
// a node and has containerd import them (the TEST-ONLY k3s stand-in's `ctr` checks each
// file is a docker-archive and logs what it imported); the compose host's real Docker engine
// loads the compose images from the same bundle and runs the project from them.

import (
	"context"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"xgen-infra/images/bundle"
	"xgen-infra/internal/testkit/debian"
	"xgen-infra/internal/testkit/livetest"
	"xgen-infra/internal/testkit/testhosts"
	"xgen-infra/internal/testkit/testimages"
	"xgen-infra/sites"
)

func TestImageBundleOverSSH(t *testing.T) {
	if err := debian.Ensure(map[string]string{"/usr/bin/curl": "curl"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// A closed network's compose host: its engine has no image but the bundle's.
	hosts := livetest.StartHosts(t, []testhosts.Spec{{Name: "jeju-1", Docker: livetest.ClosedDocker(t)}})
	s := &hostStack{t: t, hosts: hosts, engine: testhosts.NewEngine(), stackFile: "Pulumi.xgen-jeju.yaml",
		artifacts: livetest.StandInArtifacts(t, livetest.HostsVersion), servers: []string{"jeju-1"}, hostKeyFor: map[string]string{}}
	run := func(cmd string) string {
		t.Helper()
		out, err := hosts.Run(ctx, "jeju-1", cmd)
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		return strings.TrimSpace(out)
	}

	// The site's images, as `images bundle` would write them, plus one extra image.
	config, secretKeys := s.config()
	site, err := sites.Parse("xgen-jeju", config, secretKeys)
	if err != nil {
		t.Fatal(err)
	}
	list, err := site.Images()
	if err != nil {
		t.Fatal(err)
	}
	builds := map[string]string{}
	var wanted []bundle.Image
	var composeImages []bundle.Image
	for _, im := range list {
		builds[im.Ref] = "1"
		b := bundle.Image{Ref: im.Ref, For: im.For, Runtime: im.Runtime}
		if im.Runtime == sites.RuntimeCluster {
			wanted = append(wanted, b)
		} else {
			composeImages = append(composeImages, b)
		}
	}
	if len(composeImages) != 7 {
		t.Fatalf("%d compose images, want postgres, redis, qdrant, minio and minio's init, and the PostgreSQL and Redis exporters (observability)", len(composeImages))
	}
	extra := bundle.Image{Ref: "registry.example.com/tools/debug:1", For: "debug", Runtime: sites.RuntimeCluster}
	builds[extra.Ref] = "1"
	// Rewritten in place, as an operator rewrites the bundle directory the stack names.
	dir := t.TempDir()
	writeBundle := func(images []bundle.Image) string {
		if _, err := bundle.Write(ctx, dir, "xgen-jeju", images, testimages.BundleCopier{Builds: builds, Compose: livetest.ComposeImages(t)}, io.Discard); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	s.imageBundle = writeBundle(slices.Concat(wanted, composeImages, []bundle.Image{extra}))

	// 1. Bare host → K3s → every image imported before the node takes pods.
	res, err := s.up(ctx)
	if err != nil {
		t.Fatalf("first up: %v", err)
	}
	var uploads int
	for _, op := range res.Ops {
		if strings.HasPrefix(op.Name, "image-jeju-1-") {
			uploads++
		}
	}
	if uploads != len(wanted)+1 || !slices.Contains(opNames(res.Ops), "create images-jeju-1") {
		t.Fatalf("first up: %d image uploads, want %d; ops %v", uploads, len(wanted)+1, opNames(res.Ops))
	}
	imported := run("sudo -n cat /var/log/k3s-ctr.log")
	for _, im := range append(slices.Clone(wanted), extra) {
		if !strings.Contains(imported, " "+im.Ref+"\n") && !strings.HasSuffix(imported, " "+im.Ref) {
			t.Errorf("containerd did not import %s:\n%s", im.Ref, imported)
		}
	}
	if files, want := run("ls /var/lib/rancher/k3s/agent/images/ | grep -c '^xgen-.*\\.tar$'"), strconv.Itoa(len(wanted)+1); files != want {
		t.Errorf("%s bundle files in the images directory, want %s (the site's cluster images and the extra one)", files, want)
	}
	if left := run("ls /var/tmp | grep -c 'xgen-k3s-.*-xgen-' || true"); left != "0" {
		t.Errorf("%s staged uploads left in /var/tmp", left)
	}
	// The compose host's engine loaded every compose image from the bundle (it had none and
	// can pull none) and runs the project from them.
	for _, im := range composeImages {
		if _, err := hosts.Run(ctx, "jeju-1", "sudo -n docker image inspect --format '{{.Id}}' "+im.Ref); err != nil {
			t.Errorf("docker has no %s: %v", im.Ref, err)
		}
	}
	livetest.WaitComposeHealthy(ctx, t, hosts, "jeju-1", "xgen-infra", []string{"minio", "postgres", "postgres-exporter", "qdrant", "redis", "redis-exporter"})
	// The exporters (observability) reach their services with the passwords from the .env.
	address := hosts.Host("jeju-1").Address
	for port, metric := range map[string]string{"9187": "pg_up", "9121": "redis_up"} {
		got := run("curl -fsS http://" + address + ":" + port + "/metrics | grep '^" + metric + " ' || true")
		if got != metric+" 1" {
			t.Errorf("%s on :%s: %q, want %s 1", metric, port, got, metric)
		}
	}
	if left := run("ls /var/tmp | grep -c 'xgen-infra-' || true"); left != "0" {
		t.Errorf("%s staged compose uploads left in /var/tmp", left)
	}
	// The images step runs between the install and the uncordon.
	names := opNames(res.Ops)
	if i, j, k := slices.Index(names, "create install-jeju-1"), slices.Index(names, "create images-jeju-1"), slices.Index(names, "create uncordon-jeju-1"); !(i < j && j < k) {
		t.Errorf("install %d, images %d, uncordon %d: want that order", i, j, k)
	}

	// 2. Converged: nothing runs, nothing is uploaded again.
	res, err = s.up(ctx)
	if err != nil || len(res.Ops) != 0 {
		t.Fatalf("second up: %v, ran %v", err, opNames(res.Ops))
	}

	// 3. A new build of one image, the extra image gone: only that upload and the import
	// step run; the one image is imported, the extra file removed.
	core := wanted[slices.IndexFunc(wanted, func(im bundle.Image) bool { return im.For == "xgen-core" })]
	builds[core.Ref] = "2"
	s.imageBundle = writeBundle(slices.Concat(wanted, composeImages))
	before := strings.Count(run("sudo -n cat /var/log/k3s-ctr.log"), "\n")
	res, err = s.up(ctx)
	if err != nil {
		t.Fatalf("new build: %v", err)
	}
	for _, op := range res.Ops {
		switch {
		case op.Name == "images-jeju-1", strings.HasPrefix(op.Name, "image-jeju-1-") && strings.Contains(op.Name, "xgen-core"):
		case strings.HasPrefix(op.Name, "image-jeju-1-") && strings.Contains(op.Name, "debug") && op.Verb == "delete":
		default:
			t.Errorf("a new build of xgen-core ran %s %s", op.Verb, op.Name)
		}
	}
	log := strings.Split(run("sudo -n cat /var/log/k3s-ctr.log"), "\n")
	if got := log[before+1:]; len(got) != 1 || !strings.HasSuffix(got[0], " "+core.Ref) {
		t.Errorf("after the new build containerd imported %v, want only %s", got, core.Ref)
	}
	if files := run("ls /var/lib/rancher/k3s/agent/images/"); strings.Contains(files, "debug") {
		t.Errorf("the image that left the bundle is still in the images directory:\n%s", files)
	}
}
