// Package testregistry runs a real container registry for tests.
package testregistry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"
)

// Registry is a real registry (distribution, the reference implementation) in memory,
// behind htpasswd authentication for user "puller", stopped with the test.
type Registry struct {
	// Host is "127.0.0.1:<port>" (plain HTTP).
	Host string
	// Username and Password are the credentials it accepts.
	Username, Password string
	t                  testing.TB
}

// Start starts the registry on a free loopback port.
func Start(t testing.TB) *Registry {
	t.Helper()
	password := "s3cret-pull-password"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("puller:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := &configuration.Configuration{
		Storage: configuration.Storage{
			"inmemory":    configuration.Parameters{},
			"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		},
		Auth: configuration.Auth{"htpasswd": configuration.Parameters{"realm": "test", "path": htpasswd}},
	}
	// The registry logs every request through logrus' standard logger; a test reads the
	// answers, not the log.
	logrus.SetOutput(io.Discard)
	app := handlers.NewApp(context.Background(), config)
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return &Registry{Host: u.Host, Username: "puller", Password: password, t: t}
}

// Push stores a one-layer OCI image under repository:tag through the registry's API; its
// layer holds content (a new content is a new image, with a new digest).
func (r *Registry) Push(repository, tag, content string) {
	r.t.Helper()
	blob := func(data []byte) string {
		sum := sha256.Sum256(data)
		digest := "sha256:" + hex.EncodeToString(sum[:])
		resp := r.do(http.MethodPost, "/v2/"+repository+"/blobs/uploads/", "", nil)
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusAccepted {
			r.t.Fatalf("start upload: %s", resp.Status)
		}
		q := loc.Query()
		q.Set("digest", digest)
		loc.RawQuery = q.Encode()
		if resp := r.do(http.MethodPut, loc.RequestURI(), "application/octet-stream", data); resp.StatusCode != http.StatusCreated {
			r.t.Fatalf("upload %s: %s", digest, resp.Status)
		}
		return digest
	}
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := []byte(content)
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(config), "size": len(config)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob(layer), "size": len(layer)}},
	})
	if resp := r.do(http.MethodPut, "/v2/"+repository+"/manifests/"+tag, "application/vnd.oci.image.manifest.v1+json", manifest); resp.StatusCode != http.StatusCreated {
		r.t.Fatalf("push %s:%s: %s", repository, tag, resp.Status)
	}
}

func (r *Registry) do(method, path, contentType string, body []byte) *http.Response {
	r.t.Helper()
	req, err := http.NewRequest(method, "http://"+r.Host+path, bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.SetBasicAuth(r.Username, r.Password)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}
