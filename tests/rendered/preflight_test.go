package rendered

import (
	"strings"
	"testing"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/testkit/sitetest"
	"xgen-infra/internal/testkit/testregistry"
	"xgen-infra/sites"
	"xgen-infra/stack"
)

// TestImagePreflight: a preview of xgen-jeju against a real registry (with authentication)
// asks for exactly the images of the services the site runs: it fails listing the missing
// ones (never xgen-model, which xgen-jeju does not run), then passes once they are pushed;
// the wrong password and image.preflight: false each do what they say.
func TestImagePreflight(t *testing.T) {
	t.Setenv(stack.ImagePreflightEnv, "")
	reg := testregistry.Start(t)
	var rec *inprocess.Recorder
	run := func(password string, edit func(site map[string]any)) error {
		config, secretKeys, err := inprocess.LoadStackFile("Pulumi.xgen-jeju.yaml")
		if err != nil {
			t.Fatal(err)
		}
		config[sites.ConfigNamespace+":registryPassword"] = password
		secretKeys = append(secretKeys, sites.ConfigNamespace+":registryPassword")
		rec, err = sitetest.RunStackConfig("Pulumi.xgen-jeju.yaml", config, secretKeys, func(site map[string]any) {
			site["image"] = map[string]any{"registry": reg.Host, "registryUsername": reg.Username, "registryPlainHTTP": true, "tag": "latest-amd64"}
			if edit != nil {
				edit(site)
			}
		})
		return err
	}
	err := run(reg.Password, nil)
	if err == nil {
		t.Fatal("preview passed with an empty registry")
	}
	for _, svc := range []string{"xgen-frontend", "xgen-backend-gateway", "xgen-core", "xgen-workflow", "xgen-documents", "xgen-mcp-station"} {
		if want := reg.Host + "/xgen/main/" + svc + ":latest-amd64"; !strings.Contains(err.Error(), want) {
			t.Errorf("missing image %s not listed:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "xgen-model") {
		t.Errorf("asks for xgen-model, which xgen-jeju does not run:\n%v", err)
	}
	if !strings.Contains(err.Error(), "6 of 6 images") || !strings.Contains(err.Error(), "site xgen-jeju") {
		t.Errorf("error does not count the images or name the site:\n%v", err)
	}

	for _, svc := range []string{"xgen-frontend", "xgen-backend-gateway", "xgen-core", "xgen-workflow", "xgen-documents", "xgen-mcp-station"} {
		reg.Push("xgen/main/"+svc, "latest-amd64", svc+" build 1")
	}
	if err := run(reg.Password, nil); err != nil {
		t.Fatalf("preview with every image pushed: %v", err)
	}
	// Deployed by digest: a new build pushed under the same tag changes exactly its service.
	first := deployedImages(t, rec)
	for svc, image := range first {
		if !strings.HasPrefix(image.ref, reg.Host+"/xgen/main/"+svc+":latest-amd64@sha256:") || image.pullPolicy != "IfNotPresent" {
			t.Errorf("%s deploys %s (%s), want its digest with IfNotPresent", svc, image.ref, image.pullPolicy)
		}
	}
	reg.Push("xgen/main/xgen-core", "latest-amd64", "xgen-core build 2")
	if err := run(reg.Password, nil); err != nil {
		t.Fatal(err)
	}
	for svc, image := range deployedImages(t, rec) {
		if changed := image != first[svc]; changed != (svc == "xgen-core") {
			t.Errorf("after a new xgen-core build, %s deploys %s (was %s)", svc, image.ref, first[svc].ref)
		}
	}
	err = run("wrong-password", nil)
	if err == nil || !strings.Contains(err.Error(), "refused the site's credentials") || strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("wrong password: %v", err)
	}
	if err := run("wrong-password", func(site map[string]any) {
		site["image"].(map[string]any)["preflight"] = false
	}); err != nil {
		t.Errorf("image.preflight: false still checks: %v", err)
	}
	// Offline, the tag is deployed, with the tag's pull policy (Always for a mutable tag).
	for svc, image := range deployedImages(t, rec) {
		if image.ref != reg.Host+"/xgen/main/"+svc+":latest-amd64" || image.pullPolicy != "Always" {
			t.Errorf("preflight off: %s deploys %s (%s)", svc, image.ref, image.pullPolicy)
		}
	}
}

type deployed struct{ ref, pullPolicy string }

// deployedImages are the image and pull policy of each Deployment the run registered.
func deployedImages(t *testing.T, rec *inprocess.Recorder) map[string]deployed {
	t.Helper()
	objs, err := rec.KubernetesObjects()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]deployed{}
	for _, o := range objs {
		// The site's services (an add-on's images are pinned tags, not preflighted).
		if o.Kind == "Deployment" && sitetest.AddonOf(rec, o.Resource) == "" {
			c := inprocess.Get(o.Body, "spec", "template", "spec", "containers", 0)
			ref, _ := inprocess.Get(c, "image").(string)
			policy, _ := inprocess.Get(c, "imagePullPolicy").(string)
			out[o.Name] = deployed{ref, policy}
		}
	}
	return out
}
