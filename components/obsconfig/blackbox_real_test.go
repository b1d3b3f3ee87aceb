package obsconfig

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// selfSigned is a certificate for 127.0.0.1 that expires at notAfter, as a private CA's (the
// K3s API server's) would look to a client without that CA.
func selfSigned(t *testing.T, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "k3s"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestRealBlackboxReadsCertificateExpiry: the real blackbox exporter (the add-on's release)
// runs our generated modules: tls_connect reads the expiry of a certificate no CA it knows
// signed, which is what CertificateExpiring compares with now; a port that speaks no TLS fails
// the probe (no expiry: no false alert); tcp_connect still only connects.
func TestRealBlackboxReadsCertificateExpiry(t *testing.T) {
	bin := toolBinary(t, "blackbox_exporter")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	notAfter := time.Now().Add(10 * 24 * time.Hour).Truncate(time.Second)
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	server.TLS = &tls.Config{Certificates: []tls.Certificate{selfSigned(t, notAfter)}}
	server.StartTLS()
	defer server.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer plain.Close()

	config, err := BlackboxConfig()
	if err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(dir, "blackbox.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddress(t)
	start(t, ctx, dir, "blackbox", bin, "--config.file="+configFile, "--web.listen-address="+addr)

	probe := func(module, target string) map[string]float64 {
		t.Helper()
		var body []byte
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			resp, err := http.Get("http://" + addr + "/probe?module=" + module + "&target=" + url.QueryEscape(target))
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && err == nil {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("probe %s %s: %v %s", module, target, err, body)
			}
		}
		out := map[string]float64{}
		for _, line := range strings.Split(string(body), "\n") {
			if name, value, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") && !strings.Contains(name, "{") {
				out[name], _ = strconv.ParseFloat(value, 64)
			}
		}
		return out
	}

	target := strings.TrimPrefix(server.URL, "https://")
	got := probe("tls_connect", target)
	if got["probe_success"] != 1 {
		t.Fatalf("tls_connect to a TLS server: %v", got)
	}
	if expiry, ok := got["probe_ssl_earliest_cert_expiry"]; !ok || int64(expiry) != notAfter.Unix() {
		t.Errorf("probe_ssl_earliest_cert_expiry = %v (present %v), want %d (the certificate's NotAfter)", int64(expiry), ok, notAfter.Unix())
	}
	got = probe("tls_connect", strings.TrimPrefix(plain.URL, "http://"))
	if _, ok := got["probe_ssl_earliest_cert_expiry"]; got["probe_success"] != 0 || ok {
		t.Errorf("tls_connect to a plain HTTP port: %v", got)
	}
	if got := probe("tcp_connect", target); got["probe_success"] != 1 {
		t.Errorf("tcp_connect: %v", got)
	}
}
