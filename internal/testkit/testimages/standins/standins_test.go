package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMinIOChecksSignatures: the MinIO stand-in serves the root user only, with a valid
// Signature V4 over the request; mc's bucket creation is idempotent only when asked to be.
func TestMinIOChecksSignatures(t *testing.T) {
	dir := t.TempDir()
	srv := httptest.NewServer(&s3{dir: dir, key: "xgen-root", secret: `pa"ss' $x\word`})
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	for _, tc := range []struct {
		name, alias, want string
		args              []string
	}{
		{"creates", "http://xgen-root:pa%22ss%27%20$x%5Cword@" + host, "", []string{"mb", "local/documents", "local/files"}},
		{"exists, ignored", "http://xgen-root:pa%22ss%27%20$x%5Cword@" + host, "", []string{"mb", "--ignore-existing", "local/documents"}},
		{"exists", "http://xgen-root:pa%22ss%27%20$x%5Cword@" + host, "409 Conflict", []string{"mb", "local/documents"}},
		{"wrong secret", "http://xgen-root:other@" + host, "SignatureDoesNotMatch", []string{"mb", "local/other"}},
		{"another user", "http://someone:pa%22ss%27%20$x%5Cword@" + host, "InvalidAccessKeyId", []string{"mb", "local/other"}},
		{"ready without credentials", "http://" + host, "", []string{"ready", "local"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("MC_HOST_local", tc.alias)
			err := mc(tc.args)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("mc %v: %v, want %q", tc.args, err, tc.want)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	var buckets []string
	for _, e := range entries {
		buckets = append(buckets, e.Name())
	}
	if strings.Join(buckets, " ") != "documents files" {
		t.Errorf("buckets %v", buckets)
	}

	// An object: signed payload hash checked, stored as a file, read back.
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/documents/a/b.txt", strings.NewReader("hello"))
	sign(req, "xgen-root", `pa"ss' $x\word`, []byte("hello"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("put object: %v %v", err, resp)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "documents", "a", "b.txt")); err != nil || string(data) != "hello" {
		t.Errorf("the object's file: %q %v", data, err)
	}
	req, _ = http.NewRequest(http.MethodPut, srv.URL+"/documents/c.txt", strings.NewReader("tampered"))
	sign(req, "xgen-root", `pa"ss' $x\word`, []byte("hello"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a body that is not the signed one: %v %v", err, resp)
	}
}
