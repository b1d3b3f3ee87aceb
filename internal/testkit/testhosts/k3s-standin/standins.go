package main

// Four parts of a real cluster that fake nodes cannot give, played by the first server so
// that the add-ons can finish under the real engine (TEST-ONLY, like the rest of the stand-in):
//
//   - local-path storage, as K3s ships it: the default StorageClass "local-path"
//     (WaitForFirstConsumer) and a provisioner that gives each claim the scheduler placed a
//     hostPath volume on that node, so the observability add-on's volumes bind.
//   - ServiceLB, as K3s runs it: a LoadBalancer Service gets the server's address as its
//     ingress (K3s publishes the ports on the nodes), unless `disable: [servicelb]`.
//   - K3s' packaged `runtimes` component: the RuntimeClasses of the runtimes K3s detects
//     (its manifests/runtimes.yaml), created at start unless `disable: [runtimes]`, which
//     deletes them, as K3s' deploy controller does.
//   - istiod's admission webhooks: no istiod process runs on fake nodes, and the sidecar
//     injector's failurePolicy is Fail, so the API server would refuse the gateway's pods. The
//     stand-in serves every webhook whose Service is named istiod: it puts that Service's
//     cluster IP on the host's loopback (the API server calls webhooks at the cluster IP), answers
//     on it over TLS with a certificate of its own CA, writes that CA into the webhook
//     configurations' caBundle (as istiod does) and allows every request unchanged. Pods are
//     therefore not injected; on fake nodes no container runs anyway.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// standInServiceCIDR is the stand-in cluster's Service range: a /24 of the benchmarking range
// (RFC 2544), so that a cluster IP put on a test host's loopback is not a private address.
const standInServiceCIDR = "198.19.255.0/24"

// serviceLB sets status.loadBalancer of every LoadBalancer Service to the server's address.
func serviceLB(ctx context.Context, client kubernetes.Interface, address string) {
	every(ctx, time.Second, func() {
		svcs, err := client.CoreV1().Services("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return
		}
		for _, svc := range svcs.Items {
			if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || len(svc.Status.LoadBalancer.Ingress) > 0 {
				continue
			}
			svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: address}}
			if _, err := client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, &svc, metav1.UpdateOptions{}); err != nil {
				fmt.Fprintf(os.Stderr, "servicelb (stand-in): %s/%s: %v\n", svc.Namespace, svc.Name, err)
			}
		}
	})
}

// localPathProvisioner is the name K3s' local-path provisioner registers its class under.
const localPathProvisioner = "rancher.io/local-path"

// localPath creates K3s' default StorageClass and then provisions, as K3s' local-path
// provisioner does, a hostPath PersistentVolume for every pending claim of that class that
// the scheduler has placed on a node (the volume.kubernetes.io/selected-node annotation).
func localPath(ctx context.Context, client kubernetes.Interface) {
	wait := storagev1.VolumeBindingWaitForFirstConsumer
	reclaim := corev1.PersistentVolumeReclaimDelete
	class := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: "local-path", Annotations: map[string]string{
			"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner: localPathProvisioner, VolumeBindingMode: &wait, ReclaimPolicy: &reclaim,
	}
	if _, err := client.StorageV1().StorageClasses().Create(ctx, class, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		logErr("local-path (stand-in): storage class", err)
	}
	every(ctx, time.Second, func() {
		claims, err := client.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return
		}
		for _, pvc := range claims.Items {
			node := pvc.Annotations["volume.kubernetes.io/selected-node"]
			if pvc.Status.Phase != corev1.ClaimPending || node == "" || pvc.Spec.VolumeName != "" ||
				pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != class.Name {
				continue
			}
			pv := &corev1.PersistentVolume{
				ObjectMeta: metav1.ObjectMeta{Name: "pvc-" + string(pvc.UID),
					Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": localPathProvisioner}},
				Spec: corev1.PersistentVolumeSpec{
					Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
					AccessModes:                   pvc.Spec.AccessModes,
					StorageClassName:              class.Name,
					PersistentVolumeReclaimPolicy: reclaim,
					ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
						Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
					PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
						Path: "/var/lib/rancher/k3s/storage/" + string(pvc.UID) + "_" + pvc.Namespace + "_" + pvc.Name}},
					NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
						MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname",
							Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}},
				},
			}
			if _, err := client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				logErr("local-path (stand-in): "+pvc.Namespace+"/"+pvc.Name, err)
			}
		}
	})
}

// istiodWebhooks serves istiod's admission webhooks (see the file comment).
type istiodWebhooks struct {
	client  kubernetes.Interface
	caPEM   []byte
	caKey   *ecdsa.PrivateKey
	caCert  *x509.Certificate
	mu      sync.Mutex
	serving map[string]bool // "ip:port"
}

func serveIstiodWebhooks(ctx context.Context, client kubernetes.Interface) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "istiod stand-in CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	w := &istiodWebhooks{client: client, caKey: key, caCert: cert, serving: map[string]bool{},
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	go every(ctx, time.Second, func() { w.reconcile(ctx) })
	return nil
}

// reconcile serves and trusts every istiod webhook that exists now.
func (w *istiodWebhooks) reconcile(ctx context.Context) {
	api := w.client.AdmissionregistrationV1()
	if mwcs, err := api.MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{}); err == nil {
		for i := range mwcs.Items {
			m := &mwcs.Items[i]
			var configs []*admissionregistrationv1.WebhookClientConfig
			for j := range m.Webhooks {
				configs = append(configs, &m.Webhooks[j].ClientConfig)
			}
			if w.trust(ctx, configs) {
				_, err = api.MutatingWebhookConfigurations().Update(ctx, m, metav1.UpdateOptions{})
				logErr("mutating webhook "+m.Name, err)
			}
		}
	}
	if vwcs, err := api.ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{}); err == nil {
		for i := range vwcs.Items {
			v := &vwcs.Items[i]
			var configs []*admissionregistrationv1.WebhookClientConfig
			for j := range v.Webhooks {
				configs = append(configs, &v.Webhooks[j].ClientConfig)
			}
			if w.trust(ctx, configs) {
				_, err = api.ValidatingWebhookConfigurations().Update(ctx, v, metav1.UpdateOptions{})
				logErr("validating webhook "+v.Name, err)
			}
		}
	}
}

// trust serves each istiod webhook among configs and writes the stand-in's CA into its
// caBundle; it reports whether any caBundle changed (the configuration needs an update).
func (w *istiodWebhooks) trust(ctx context.Context, configs []*admissionregistrationv1.WebhookClientConfig) bool {
	changed := false
	for _, c := range configs {
		if w.serve(ctx, c.Service) && string(c.CABundle) != string(w.caPEM) {
			c.CABundle, changed = w.caPEM, true
		}
	}
	return changed
}

// serve answers on the cluster IP and port of an istiod Service; false for any other
// webhook, or while that Service does not exist yet.
func (w *istiodWebhooks) serve(ctx context.Context, ref *admissionregistrationv1.ServiceReference) bool {
	if ref == nil || ref.Name != "istiod" {
		return false
	}
	svc, err := w.client.CoreV1().Services(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return false
	}
	port := int32(443)
	if ref.Port != nil {
		port = *ref.Port
	}
	addr := net.JoinHostPort(svc.Spec.ClusterIP, fmt.Sprint(port))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.serving[addr] {
		return true
	}
	if out, err := exec.Command("ip", "addr", "replace", svc.Spec.ClusterIP+"/32", "dev", "lo").CombinedOutput(); err != nil {
		logErr("ip addr "+svc.Spec.ClusterIP, fmt.Errorf("%v: %s", err, out))
		return false
	}
	cert, err := w.leaf(ref.Name + "." + ref.Namespace + ".svc")
	if err != nil {
		logErr("certificate", err)
		return false
	}
	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		logErr("listen "+addr, err)
		return false
	}
	srv := &http.Server{Handler: http.HandlerFunc(allowAll), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	w.serving[addr] = true
	fmt.Fprintf(os.Stderr, "istiod webhooks (stand-in): serving %s for %s/%s\n", addr, ref.Namespace, ref.Name)
	return true
}

func (w *istiodWebhooks) leaf(dnsName string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: dnsName},
		DNSNames: []string{dnsName}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, w.caCert, &key.PublicKey, w.caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// allowAll answers an AdmissionReview with allowed and no patch.
func allowAll(rw http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(rw, "not an AdmissionReview", http.StatusBadRequest)
		return
	}
	review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	review.Request = nil
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(&review)
}

func every(ctx context.Context, d time.Duration, f func()) {
	for {
		f()
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

func logErr(what string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "k3s (stand-in): %s: %v\n", what, err)
	}
}

// k3sRuntimeClasses are the RuntimeClasses K3s' `runtimes` component creates (the NVIDIA
// ones and crun of its manifests/runtimes.yaml; the WebAssembly ones are left out).
var k3sRuntimeClasses = []string{"nvidia", "nvidia-experimental", "crun"}

// k3sRuntimesOwner marks the objects of K3s' `runtimes` component (as its deploy controller
// names the owner of an addon's objects).
const k3sRuntimesOwner = "objectset.rio.cattle.io/owner-name"

// k3sRuntimes plays K3s' `runtimes` component: creates its RuntimeClasses, or with the
// component disabled deletes the ones it created.
func k3sRuntimes(ctx context.Context, client kubernetes.Interface, disabled bool) {
	rcs := client.NodeV1().RuntimeClasses()
	for _, name := range k3sRuntimeClasses {
		if disabled {
			rc, err := rcs.Get(ctx, name, metav1.GetOptions{})
			if err == nil && rc.Annotations[k3sRuntimesOwner] == "runtimes" {
				logErr("runtimes: delete "+name, rcs.Delete(ctx, name, metav1.DeleteOptions{}))
			}
			continue
		}
		_, err := rcs.Create(ctx, &nodev1.RuntimeClass{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{k3sRuntimesOwner: "runtimes"}},
			Handler:    name,
		}, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			logErr("runtimes: create "+name, err)
		}
	}
}
