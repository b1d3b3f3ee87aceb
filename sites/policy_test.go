package sites

import "testing"

// TestPolicyDecisions: what the site decides for its network policies and images — who the
// ingress reaches, the CIDR of an endpoint outside the cluster, deploying by digest.
func TestPolicyDecisions(t *testing.T) {
	yes, no := true, false
	frontend := Service{Name: "xgen-frontend", Image: "r/x/main/xgen-frontend:v1", PullPolicy: "Always", Spec: ServiceSpec{Domain: &yes}}
	api := Service{Name: "xgen-backend-gateway", Spec: ServiceSpec{Domain: &no, Routes: []string{"/api/"}}}
	core := Service{Name: "xgen-core", Spec: ServiceSpec{Domain: &no}}
	for _, tc := range []struct {
		ingress, domain string
		want            [3]bool // frontend, api, core
	}{
		{"istio", "x.example.com", [3]bool{true, true, false}},
		{"traefik", "x.example.com", [3]bool{true, true, false}},
		{"istio", "", [3]bool{true, false, false}},
		{"none", "", [3]bool{false, false, false}},
	} {
		s := &Site{Domain: tc.domain, Config: Config{Ingress: IngressConfig{Type: tc.ingress}}}
		got := [3]bool{s.ExposedToIngress(frontend), s.ExposedToIngress(api), s.ExposedToIngress(core)}
		if got != tc.want {
			t.Errorf("ingress %s domain %q: exposed %v, want %v", tc.ingress, tc.domain, got, tc.want)
		}
	}

	s := &Site{Config: Config{Infra: InfraConfig{Namespace: "xgen-system",
		Postgres: PostgresConfig{Host: "10.0.0.7", Port: 5432}, Redis: EndpointConfig{Host: "2001:db8::7", Port: 6379},
		Qdrant:        QdrantConfig{Host: clusterHost("qdrant", "xgen-system"), Port: 6333, GRPCPort: 6334},
		ObjectStorage: ObjectStorageConfig{Endpoint: "https://s3.ap-northeast-2.amazonaws.com"}}}}
	want := map[string]string{"postgres": "10.0.0.7/32", "redis": "2001:db8::7/128", "qdrant": "", "objectStorage": "0.0.0.0/0"}
	for _, e := range s.InfraEndpoints() {
		if e.CIDR != want[e.Name] {
			t.Errorf("%s: CIDR %q, want %q", e.Name, e.CIDR, want[e.Name])
		}
	}

	if got := s.Pinned(frontend, "sha256:abc"); got.Image != frontend.Image+"@sha256:abc" || got.PullPolicy != "IfNotPresent" {
		t.Errorf("pinned: %s %s", got.Image, got.PullPolicy)
	}
	if got := s.Pinned(frontend, ""); got.Image != frontend.Image || got.PullPolicy != "Always" {
		t.Errorf("no digest: %s %s", got.Image, got.PullPolicy)
	}
	s.Config.Image.PullPolicy = "Always"
	if got := s.Pinned(frontend, "sha256:abc"); got.PullPolicy != "Always" {
		t.Errorf("image.pullPolicy set: %s", got.PullPolicy)
	}
}
