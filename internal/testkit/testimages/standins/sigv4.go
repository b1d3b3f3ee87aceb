package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// AWS Signature Version 4 in headers (what S3 clients send), for signing (mc) and checking
// (minio). Region us-east-1, service s3, the payload's hash in X-Amz-Content-Sha256.

const sigAlgorithm = "AWS4-HMAC-SHA256"

var errAccessKey = errors.New("the access key ID you provided does not exist in our records")

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// uriEncode is S3's encoding of a path segment or query part.
func uriEncode(s string, path bool) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && path:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// canonicalRequest of r over the signed headers.
func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var query []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			query = append(query, uriEncode(k, false)+"="+uriEncode(v, false))
		}
	}
	var headers strings.Builder
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		headers.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	path := r.URL.EscapedPath()
	if p, err := url.PathUnescape(path); err == nil {
		path = uriEncode(p, true)
	}
	if path == "" {
		path = "/"
	}
	return strings.Join([]string{r.Method, path, strings.Join(query, "&"), headers.String(), strings.Join(signed, ";"), payloadHash}, "\n")
}

func signature(secret, date, region, toSign string) string {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, "s3")
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, toSign))
}

func stringToSign(amzDate, scope, canonical string) string {
	return strings.Join([]string{sigAlgorithm, amzDate, scope, sha256Hex([]byte(canonical))}, "\n")
}

// sign adds the headers of a signed request (payload: the body's bytes).
func sign(r *http.Request, key, secret string, payload []byte) {
	now := time.Now().UTC()
	amzDate, date := now.Format("20060102T150405Z"), now.Format("20060102")
	hash := sha256Hex(payload)
	r.Header.Set("X-Amz-Date", amzDate)
	r.Header.Set("X-Amz-Content-Sha256", hash)
	signed := []string{"host", "x-amz-content-sha256", "x-amz-date"}
	scope := date + "/us-east-1/s3/aws4_request"
	sig := signature(secret, date, "us-east-1", stringToSign(amzDate, scope, canonicalRequest(r, signed, hash)))
	r.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s", sigAlgorithm, key, scope, strings.Join(signed, ";"), sig))
}

// verify checks r's signature against the one user's key and secret.
func verify(r *http.Request, key, secret string) error {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, sigAlgorithm+" ")
	if !ok {
		return fmt.Errorf("not signed with %s", sigAlgorithm)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok {
			fields[k] = v
		}
	}
	cred := strings.SplitN(fields["Credential"], "/", 2)
	if len(cred) != 2 || cred[0] != key {
		return errAccessKey
	}
	scope := cred[1]
	parts := strings.Split(scope, "/")
	if len(parts) != 4 {
		return fmt.Errorf("bad credential scope %q", scope)
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	hash := r.Header.Get("X-Amz-Content-Sha256")
	want := signature(secret, parts[0], parts[1], stringToSign(r.Header.Get("X-Amz-Date"), scope, canonicalRequest(r, signed, hash)))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return fmt.Errorf("the request signature we calculated does not match the signature you provided")
	}
	return nil
}
