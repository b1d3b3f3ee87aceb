package images

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"xgen-infra/internal/testkit/testregistry"
)

func TestPreflightAgainstARealRegistry(t *testing.T) {
	reg := testregistry.Start(t)
	reg.Push("xgen/main/xgen-core", "latest-amd64", "v1")
	reg.Push("xgen/main/xgen-frontend", "1.4.2", "v1")
	present := []string{reg.Host + "/xgen/main/xgen-core:latest-amd64", reg.Host + "/xgen/main/xgen-frontend:1.4.2"}
	missingTag := reg.Host + "/xgen/main/xgen-core:1.4.2"
	missingRepo := reg.Host + "/xgen/main/xgen-model:latest-amd64"
	ok := &Registry{Host: reg.Host, Username: "puller", Password: reg.Password, PlainHTTP: true}

	cases := []struct {
		name     string
		registry *Registry
		images   []string
		want     []string // substrings of the error; nil: no error
		not      []string // must not appear in it
	}{
		{"present", ok, present, nil, nil},
		{"missing", ok, append(present, missingTag, missingRepo),
			[]string{"2 of 4 images are not in registry " + reg.Host, missingTag, missingRepo, "docker push", "skopeo copy"},
			[]string{present[0], reg.Password}},
		{"wrong password", &Registry{Host: reg.Host, Username: "puller", Password: "wrong", PlainHTTP: true}, present,
			[]string{"refused the site's credentials", "image.registryUsername", "registryPassword"}, []string{"wrong"}},
		{"no credentials", &Registry{Host: reg.Host, PlainHTTP: true}, present,
			[]string{"needs credentials and the site has none", "image.registryUsername"}, nil},
		{"unreachable", &Registry{Host: "127.0.0.1:1", PlainHTTP: true}, []string{"127.0.0.1:1/x/y:1"},
			[]string{"cannot reach registry 127.0.0.1:1", "image.preflight: false", "XGEN_IMAGE_PREFLIGHT=off"}, nil},
		{"another registry", ok, []string{"docker.example.com/xgen/main/xgen-core:1"},
			[]string{"not in the site registry " + reg.Host}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Preflight(context.Background(), tc.registry, tc.images)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("error names %q:\n%v", n, err)
				}
			}
		})
	}
}

// TestBearerTokenFlow: a registry that answers with a Bearer challenge (Harbor, Docker Hub)
// gets a pull-scoped token from the realm with the credentials, then the manifest with it.
func TestBearerTokenFlow(t *testing.T) {
	var tokenRequest *http.Request
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		tokenRequest = r
		if u, p, _ := r.BasicAuth(); u != "robot" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"token":"T0K3N"}`)
	})
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer T0K3N" {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="harbor-registry",scope="repository:xgen/core:pull"`, srv.URL))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/v2/xgen/core/manifests/1.0" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	reg := &Registry{Host: host, Username: "robot", Password: "pw", PlainHTTP: true}
	for ref, want := range map[string]bool{"1.0": true, "2.0": false} {
		got, err := reg.Exists(context.Background(), "xgen/core", ref)
		if err != nil || got != want {
			t.Errorf("%s: exists %v (err %v), want %v", ref, got, err, want)
		}
	}
	if q := tokenRequest.URL.Query(); q.Get("service") != "harbor-registry" || q.Get("scope") != "repository:xgen/core:pull" {
		t.Errorf("token request %s", tokenRequest.URL)
	}
	reg.Password = "bad"
	if _, err := reg.Exists(context.Background(), "xgen/core", "1.0"); err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("bad password: %v", err)
	}
}

func TestParseRef(t *testing.T) {
	cases := map[string]Ref{
		"docker.x2bee.com/xgen/main/xgen-core:latest-amd64": {Host: "docker.x2bee.com", Repository: "xgen/main/xgen-core", Reference: "latest-amd64"},
		"10.0.0.5:30500/xgen/lotteimall/xgen-core:1.2":      {Host: "10.0.0.5:30500", Repository: "xgen/lotteimall/xgen-core", Reference: "1.2"},
		"r.example/a/b@sha256:abc":                          {Host: "r.example", Repository: "a/b", Reference: "sha256:abc"},
		"10.0.0.5:30500/a/b:1.2@sha256:abc":                 {Host: "10.0.0.5:30500", Repository: "a/b", Reference: "sha256:abc"}, // a pinned tag
	}
	for image, want := range cases {
		got, err := ParseRef(image)
		want.Image = image
		if err != nil || got != want {
			t.Errorf("%s: %+v (err %v), want %+v", image, got, err, want)
		}
	}
	for _, bad := range []string{"xgen-core:1", "r.example/a/b", "r.example/"} {
		if _, err := ParseRef(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// A service pinned by digest (tag@digest): the registry is asked for that build; one the
// registry no longer has is missing, whatever its tag points at.
func TestPreflightOfAPinnedBuild(t *testing.T) {
	reg := testregistry.Start(t)
	reg.Push("xgen/main/xgen-core", "latest-amd64", "v1")
	r := &Registry{Host: reg.Host, Username: "puller", Password: reg.Password, PlainHTTP: true}
	tagged := reg.Host + "/xgen/main/xgen-core:latest-amd64"
	digests, err := Preflight(context.Background(), r, []string{tagged})
	if err != nil || digests[tagged] == "" {
		t.Fatalf("the tag's digest: %v %v", digests, err)
	}
	pinned := tagged + "@" + digests[tagged]
	if _, err := Preflight(context.Background(), r, []string{pinned}); err != nil {
		t.Errorf("the pinned build is there: %v", err)
	}
	gone := tagged + "@sha256:" + strings.Repeat("0", 64)
	if _, err := Preflight(context.Background(), r, []string{gone}); err == nil || !strings.Contains(err.Error(), gone) {
		t.Errorf("a build the registry does not have: %v", err)
	}
}
