package day2

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"xgen-infra/sites"
)

func siteOf(t *testing.T, stack string) *sites.Site {
	t.Helper()
	file, err := sites.ReadStackFile(filepath.Join("..", "..", "Pulumi."+stack+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	site, err := sites.ParseWithoutSecrets(stack, file)
	if err != nil {
		t.Fatal(err)
	}
	return site
}

// deployment is a site service's Deployment with ready pods on node-1.
func deployment(ns, name string, scaled, ready int32) []runtime.Object {
	labels := map[string]string{"app.kubernetes.io/name": name}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: &scaled, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "registry/" + name + ":1"}}}}},
		Status: appsv1.DeploymentStatus{ReadyReplicas: ready, AvailableReplicas: ready}}
	out := []runtime.Object{d}
	for i := range ready {
		out = append(out, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-" + string(rune('a'+i)), Labels: labels},
			Spec:   corev1.PodSpec{NodeName: "node-1"},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: name, ImageID: "registry/" + name + "@sha256:0123456789abcdef"}}}})
	}
	return out
}

func certificate(t *testing.T, notAfter time.Time) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "agent.lotteimall.com"},
		NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestClusterChecks: what the cluster says becomes the report's problems, each naming its
// object — on a site without a domain (its frontend's node port) and on a site with TLS.
func TestClusterChecks(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}, NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.31.4+k3s1"}}}
	cordoned := node.DeepCopy()
	cordoned.Name, cordoned.Spec.Unschedulable = "node-2", true

	jeju := siteOf(t, "xgen-jeju")
	var objs []runtime.Object
	objs = append(objs, node, cordoned)
	for _, svc := range jeju.Services {
		want := int32(*svc.Spec.Replicas)
		if a := svc.Spec.Autoscaling; a != nil && *a.Enabled {
			want = int32(*a.MinReplicas)
		}
		switch svc.Name {
		case "xgen-workflow": // left out: no Deployment
		case "xgen-core":
			objs = append(objs, deployment("xgen", svc.Name, want, want-1)...)
		default:
			objs = append(objs, deployment("xgen", svc.Name, want, want)...)
		}
	}
	// A container of xgen-documents restarted 3 times, last 10 minutes ago.
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok && strings.HasPrefix(p.Name, "xgen-documents-") {
			p.Status.ContainerStatuses[0].RestartCount = 3
			p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(now.Add(-10 * time.Minute))}
			break
		}
	}
	objs = append(objs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "xgen", Name: "xgen-frontend-external"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 3000, NodePort: 30080}}}})
	r := &Report{Site: "xgen-jeju"}
	checkCluster(context.Background(), r, jeju, fake.NewClientset(objs...), now)
	problems := strings.Join(r.Problems, "\n")
	for _, want := range []string{
		"node node-2: cordoned",
		"service xgen-core: 1/2 ready",
		"service xgen-workflow: no Deployment in xgen",
		"service xgen-documents: 3 restarts in the last hour",
	} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems lack %q:\n%s", want, problems)
		}
	}
	if len(r.Problems) != 4 {
		t.Errorf("%d problems, want 4:\n%s", len(r.Problems), problems)
	}
	if r.Ingress == nil || r.Ingress.Ready == nil || !*r.Ingress.Ready || r.Ingress.Address != "every node, port 30080" {
		t.Errorf("ingress %+v", r.Ingress)
	}
	for _, s := range r.Services {
		if s.Name == "xgen-frontend" && (s.Digest != "sha256:0123456789abcdef" || len(s.Nodes) != 1 || s.Image != "registry/xgen-frontend:1") {
			t.Errorf("frontend: %+v", s)
		}
	}

	// lotteimall: Istio on a domain with TLS; a certificate ending in 10 days is a problem,
	// in 60 days is not.
	lotte := siteOf(t, "lotteimall")
	istioNS := lotte.Config.Cluster.Addons.Istio.Namespace
	// As if the site served HTTPS (no stack of ours has a certificate yet).
	const cred = "lotteimall-tls"
	env := lotte.Config.Environments[lotte.Config.Environment]
	env.TLSCredentialName = cred
	lotte.Config.Environments[lotte.Config.Environment] = env
	for _, tc := range []struct {
		left time.Duration
		want bool
	}{{10 * 24 * time.Hour, true}, {60 * 24 * time.Hour, false}} {
		gw := deployment(istioNS, "istio-ingressgateway", 1, 1)
		gw = append(gw, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: istioNS, Name: "istio-ingressgateway"},
			Spec:   corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "10.0.0.11"}}}}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: istioNS, Name: cred}, Type: corev1.SecretTypeTLS,
				Data: map[string][]byte{corev1.TLSCertKey: certificate(t, now.Add(tc.left)), corev1.TLSPrivateKeyKey: []byte("not read")}})
		r := &Report{}
		checkIngress(context.Background(), r, lotte, fake.NewClientset(gw...), now)
		got := strings.Contains(strings.Join(r.Problems, "\n"), "the certificate for agent.lotteimall.com ends")
		if got != tc.want || r.Ingress == nil || r.Ingress.Address != "10.0.0.11" || r.Ingress.CertificateExpires == nil {
			t.Errorf("certificate %s left: problem %v, want %v; %+v %v", tc.left, got, tc.want, r.Ingress, r.Problems)
		}
	}
}

func TestVerdictsAndExitCodes(t *testing.T) {
	for verdict, code := range map[string]int{Healthy: 0, Degraded: 2, Unreachable: 1, "": 1} {
		if got := ExitCode(verdict); got != code {
			t.Errorf("%q: exit %d, want %d", verdict, got, code)
		}
	}
	r := &Report{Site: "xgen", Verdict: Degraded, Problems: []string{"a", "b"}}
	if got := r.VerdictLine(); got != "xgen: DEGRADED — a; b" {
		t.Errorf("verdict line %q", got)
	}
}

// TestIngressProbe: the site's entry is probed with one request to each of its targets until
// one answers (any HTTP status shows it serving), with the site's domain as Host; no answer
// at all is a problem naming the entry; a shared gateway is not the site's to judge, nor to
// probe. Real local servers on loopback, no other address.
func TestIngressProbe(t *testing.T) {
	var host string
	answering := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		host = req.Host
		http.NotFound(w, req) // Istio's answer to a path no route has
	}))
	defer answering.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL + "/"
	closed.Close() // nothing listens there any more

	for _, tc := range []struct {
		name    string
		targets []string
		probe   string // prefix of IngressCheck.Probe
		problem string // "" none
	}{
		{"answers", []string{answering.URL + "/"}, "HTTP 404 from " + answering.URL, ""},
		{"the second target answers", []string{closedURL, answering.URL + "/"}, "HTTP 404 from " + answering.URL, ""},
		{"nothing answers", []string{closedURL}, "no answer from " + closedURL, "ingress: istio gateway does not answer"},
		{"no address", nil, "not probed: no address", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host = ""
			r := &Report{Ingress: &IngressCheck{Kind: "istio gateway", targets: tc.targets}}
			probeIngress(context.Background(), r, "agent.lotteimall.com", http.DefaultTransport)
			if !strings.HasPrefix(r.Ingress.Probe, tc.probe) {
				t.Errorf("probe %q, want %q...", r.Ingress.Probe, tc.probe)
			}
			problems := strings.Join(r.Problems, "\n")
			if (tc.problem == "") != (problems == "") || !strings.Contains(problems, tc.problem) {
				t.Errorf("problems %q, want %q", problems, tc.problem)
			}
			if strings.HasPrefix(tc.probe, "HTTP") && host != "agent.lotteimall.com" {
				t.Errorf("the request's Host was %q, want the site's domain", host)
			}
		})
	}

	// The targets: a load balancer's address and the Service's ports; a node port on a Ready
	// node's internal address.
	lb := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "istio-ingressgateway"},
		Spec:   corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}, {Port: 443}}},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.7"}}}}}
	np := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "xgen", Name: "xgen-frontend-external"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 3000, NodePort: 30080}}}}
	node := func(name, address string, ready corev1.ConditionStatus) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: address}}}}
	}
	kube := fake.NewClientset(lb, np, node("down", "192.0.2.1", corev1.ConditionFalse), node("up", "192.0.2.2", corev1.ConditionTrue))
	for _, tc := range []struct {
		ns, name string
		want     []string
	}{
		{"istio-system", "istio-ingressgateway", []string{"http://192.0.2.7:80/", "https://192.0.2.7:443/"}},
		{"xgen", "xgen-frontend-external", []string{"http://192.0.2.2:30080/"}},
	} {
		ic := &IngressCheck{}
		checkEntryAddress(context.Background(), &Report{}, kube, tc.ns, tc.name, "entry", ic)
		if fmt.Sprint(ic.targets) != fmt.Sprint(tc.want) {
			t.Errorf("%s targets %v, want %v", tc.name, ic.targets, tc.want)
		}
	}

	// A shared gateway: neither judged nor probed.
	aww := siteOf(t, "xgen-aww")
	r := &Report{}
	checkIngress(context.Background(), r, aww, fake.NewClientset(), time.Now())
	if r.Ingress == nil || r.Ingress.Ready != nil || !strings.HasPrefix(r.Ingress.Probe, "not probed") || len(r.Problems) > 0 {
		t.Errorf("shared gateway: %+v %v", r.Ingress, r.Problems)
	}
}

// TestStatusShowsEveryEnvironment: the head office's prd (beside dev) is read in its own
// namespace, and what is wrong with it is reported as prd's.
func TestStatusShowsEveryEnvironment(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	site := siteOf(t, "xgen")
	if len(site.Others) != 1 {
		t.Fatalf("xgen runs %d environments beside dev, want prd", len(site.Others))
	}
	var objs []runtime.Object
	for _, env := range site.Environments() {
		for _, svc := range env.Services {
			want := int32(*svc.Spec.Replicas)
			if a := svc.Spec.Autoscaling; a != nil && *a.Enabled {
				want = int32(*a.MinReplicas)
			}
			if env.Beside() && svc.Name == "xgen-core" {
				continue // prd's xgen-core is missing; dev's is there
			}
			objs = append(objs, deployment(env.Config.Namespace, svc.Name, want, want)...)
		}
	}
	objs = append(objs, deployment(site.Config.Cluster.Addons.Istio.Namespace, "istio-ingressgateway", 1, 1)...)
	r := &Report{Site: "xgen"}
	checkCluster(context.Background(), r, site, fake.NewClientset(objs...), now)
	if got := strings.Join(r.Problems, "\n"); !strings.Contains(got, "prd: service xgen-core: no Deployment in xgen-prd") || strings.Count(got, "service ") != 1 {
		t.Errorf("problems:\n%s", got)
	}
	if len(r.Environments) != 1 || r.Environments[0].Name != "prd" || r.Environments[0].Namespace != "xgen-prd" ||
		r.Environments[0].Domain != "jeju-xgen.x2bee.com" || len(r.Environments[0].Services) != 6 || len(r.Services) != 7 {
		t.Errorf("services %d, environments %+v", len(r.Services), r.Environments)
	}
	var out strings.Builder
	r.Write(&out)
	if !strings.Contains(out.String(), "SERVICES OF PRD (xgen-prd, jeju-xgen.x2bee.com)") {
		t.Errorf("the report lacks prd's services:\n%s", out.String())
	}
}
