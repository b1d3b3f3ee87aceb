// Package images checks a site's images against its registry (Docker Registry HTTP API v2,
// as Harbor, distribution and every cloud registry speak it) before anything is deployed.
package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Registry is one registry and the site's pull credentials.
type Registry struct {
	// Host is the registry host and port, e.g. "docker.x2bee.com" or "10.0.0.5:30500".
	Host string
	// Username and Password are the pull credentials; empty for an anonymous registry.
	Username, Password string
	// PlainHTTP talks http:// instead of https:// (a site registry without TLS).
	PlainHTTP bool
	// Client defaults to one with a 20 s timeout.
	Client *http.Client
}

// Manifest media types a tag may point at: single images and multi-platform indexes.
var manifestTypes = strings.Join([]string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}, ", ")

// ErrUnauthorized: the registry refused the credentials (or needs some and has none).
var ErrUnauthorized = errors.New("unauthorized")

// Exists says whether repository:reference (a tag or a digest) has a manifest.
func (r *Registry) Exists(ctx context.Context, repository, reference string) (bool, error) {
	_, found, err := r.Digest(ctx, repository, reference)
	return found, err
}

// Digest returns the digest of repository:reference's manifest, as the registry names it
// (Docker-Content-Digest; "" if it does not say), and found false when there is none.
func (r *Registry) Digest(ctx context.Context, repository, reference string) (digest string, found bool, err error) {
	scheme := "https"
	if r.PlainHTTP {
		scheme = "http"
	}
	u := fmt.Sprintf("%s://%s/v2/%s/manifests/%s", scheme, r.Host, repository, reference)
	resp, err := r.head(ctx, u, "")
	if err != nil {
		return "", false, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		auth, err := r.authorize(ctx, resp.Header.Get("WWW-Authenticate"), repository)
		if err != nil {
			return "", false, err
		}
		if resp, err = r.head(ctx, u, auth); err != nil {
			return "", false, err
		}
	}
	switch resp.StatusCode {
	case http.StatusOK:
		digest = resp.Header.Get("Docker-Content-Digest")
		if !strings.HasPrefix(digest, "sha256:") || len(digest) != len("sha256:")+64 {
			digest = ""
		}
		return digest, true, nil
	case http.StatusNotFound:
		return "", false, nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return "", false, fmt.Errorf("%s: %w: %s", r.Host, ErrUnauthorized, resp.Status)
	}
	return "", false, fmt.Errorf("%s: manifest %s:%s: unexpected %s", r.Host, repository, reference, resp.Status)
}

func (r *Registry) head(ctx context.Context, u, auth string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", manifestTypes)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := r.client().Do(req)
	if err != nil {
		return nil, err // the URL has no credentials in it
	}
	resp.Body.Close()
	return resp, nil
}

func (r *Registry) client() *http.Client {
	if r.Client != nil {
		return r.Client
	}
	return &http.Client{Timeout: 20 * time.Second}
}

// authorize answers a challenge: Basic with the credentials, or Bearer with a token the
// realm hands out for the credentials (the flow of Harbor and Docker Hub).
func (r *Registry) authorize(ctx context.Context, challenge, repository string) (string, error) {
	scheme, params := parseChallenge(challenge)
	if r.Username == "" {
		return "", fmt.Errorf("%s: %w: the registry needs credentials and the site has none", r.Host, ErrUnauthorized)
	}
	switch scheme {
	case "basic":
		req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
		req.SetBasicAuth(r.Username, r.Password)
		return req.Header.Get("Authorization"), nil
	case "bearer":
		realm, err := url.Parse(params["realm"])
		if err != nil || params["realm"] == "" {
			return "", fmt.Errorf("%s: bad token realm %q", r.Host, params["realm"])
		}
		q := realm.Query()
		if s := params["service"]; s != "" {
			q.Set("service", s)
		}
		q.Set("scope", "repository:"+repository+":pull")
		realm.RawQuery = q.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
		if err != nil {
			return "", err
		}
		req.SetBasicAuth(r.Username, r.Password)
		resp, err := r.client().Do(req)
		if err != nil {
			return "", fmt.Errorf("%s: token: %w", r.Host, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s: %w: the token service answered %s", r.Host, ErrUnauthorized, resp.Status)
		}
		var tok struct {
			Token       string `json:"token"`
			AccessToken string `json:"access_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
			return "", fmt.Errorf("%s: token: %w", r.Host, err)
		}
		if tok.Token == "" {
			tok.Token = tok.AccessToken
		}
		return "Bearer " + tok.Token, nil
	}
	return "", fmt.Errorf("%s: unsupported authentication challenge %q", r.Host, challenge)
}

// parseChallenge splits `Bearer realm="...",service="..."` into its scheme and parameters.
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest != "" {
		var kv string
		// a quoted value may hold commas
		key, after, ok := strings.Cut(strings.TrimLeft(rest, " ,"), "=")
		if !ok {
			break
		}
		if strings.HasPrefix(after, `"`) {
			end := strings.Index(after[1:], `"`)
			if end < 0 {
				break
			}
			kv, rest = after[1:end+1], after[end+2:]
		} else {
			kv, rest, _ = strings.Cut(after, ",")
		}
		params[strings.ToLower(strings.TrimSpace(key))] = kv
	}
	return strings.ToLower(scheme), params
}

// Ref is an image reference split for the registry: Host/Repository and a tag or digest.
type Ref struct {
	Image, Host, Repository, Reference string
}

// ParseRef splits "host[:port]/path/name:tag" or "host/path/name@sha256:...".
func ParseRef(image string) (Ref, error) {
	host, path, ok := strings.Cut(image, "/")
	if !ok || path == "" {
		return Ref{}, fmt.Errorf("image %q names no registry host", image)
	}
	ref := Ref{Image: image, Host: host}
	if repo, digest, ok := strings.Cut(path, "@"); ok {
		// repo:tag@digest: the digest is what is pulled; the tag only says which build it was.
		if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo = repo[:i]
		}
		ref.Repository, ref.Reference = repo, digest
	} else if i := strings.LastIndex(path, ":"); i > 0 {
		ref.Repository, ref.Reference = path[:i], path[i+1:]
	}
	if ref.Repository == "" || ref.Reference == "" {
		return Ref{}, fmt.Errorf("image %q has no tag or digest", image)
	}
	return ref, nil
}
