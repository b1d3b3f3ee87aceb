package day2

// The switch-over from the seeds' system (docs/migration.md): what must be true before the
// first `pulumi up` of a site that runs the Helm chart under ArgoCD, with the old compose
// project's data. Read-only.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"xgen-infra/components/compose"
	"xgen-infra/sites"
)

// ArgoApplications is the resource of ArgoCD's Applications.
var ArgoApplications = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// MigrateReport is what stands between the running old system and our first `up`.
type MigrateReport struct {
	Site string `json:"site"`
	// Applications are ArgoCD's that deploy into the site's namespaces, or manage other
	// Applications (the App-of-Apps root, deploying into its own namespace).
	Applications []ArgoApplication `json:"applications,omitempty"`
	// DataDir is infra.compose.dataDir and its state on the compose host: absent, empty, or
	// "N entries".
	DataDir      string `json:"dataDir,omitempty"`
	DataDirState string `json:"dataDirState,omitempty"`
	// OldVolumes are the Docker volumes of the old compose project (the data to move).
	OldVolumes []string `json:"oldVolumes,omitempty"`
	// Problems each say what to do; none: ready for the switch-over.
	Problems []string `json:"problems,omitempty"`
}

// ArgoApplication is one of ArgoCD's Applications.
type ArgoApplication struct {
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	Destination string `json:"destination"`
	AutoSync    bool   `json:"autoSync"`
}

// MigrateCheck checks, before the switch-over of the site st from the seeds' system: no
// ArgoCD Application still syncs the site by itself (it would undo what `up` does), and the
// compose project's data directory is free on its host (the old volumes' data goes into it).
func MigrateCheck(ctx context.Context, st Stack, kube dynamic.Interface, oldProject string) (*MigrateReport, error) {
	site, err := loadSite(st)
	if err != nil {
		return nil, err
	}
	r := &MigrateReport{Site: st.Name()}
	apps, err := argoApplications(ctx, kube, siteNamespaces(site))
	if err != nil {
		return nil, fmt.Errorf("the cluster: %w", err)
	}
	r.Applications = apps
	address := ""
	if cc := site.Config.Infra.Compose; cc != nil {
		key, err := sshKey(ctx, st, "the check reaches the compose host")
		if err != nil {
			return nil, err
		}
		var hostKey string
		var ssh *sites.SSHConfig
		address, hostKey, ssh = sites.ComposeHost(&site.Config)
		out, err := hostAccess{ssh, []byte(key)}.run(ctx, address, hostKey, compose.Spec{DataDir: cc.DataDir}.MigrateCheck(address, oldProject))
		if err != nil {
			return nil, fmt.Errorf("compose host %s: %w", address, err)
		}
		r.DataDir = cc.DataDir
		readMigrateHost(r, out)
	}
	r.judge(address)
	return r, nil
}

// judge says what stops the switch-over, each with what to do.
func (r *MigrateReport) judge(composeHost string) {
	for _, a := range r.Applications {
		if a.AutoSync {
			r.Problems = append(r.Problems, fmt.Sprintf(
				"ArgoCD Application %s/%s syncs %s by itself and would undo the switch-over: turn its auto-sync off first (kubectl -n %s patch application %s --type merge -p '{\"spec\":{\"syncPolicy\":{\"automated\":null}}}'); keep it until the site is verified, then delete it without its resources (docs/migration.md)",
				a.Namespace, a.Name, a.Destination, a.Namespace, a.Name))
		}
	}
	if n, ok := strings.CutPrefix(r.DataDirState, "entries "); ok {
		r.Problems = append(r.Problems, fmt.Sprintf(
			"the compose project's data directory %s on %s is not empty (%s entries): the old volumes' data goes into an empty one; move it aside (mv %s %s.before-migration) or set infra.compose.dataDir to an empty directory",
			r.DataDir, composeHost, n, r.DataDir, r.DataDir))
	} else if r.DataDirState == "unknown" {
		r.Problems = append(r.Problems, fmt.Sprintf("the compose project's data directory %s on %s: its state could not be read", r.DataDir, composeHost))
	}
}

// readMigrateHost reads migrate-check.sh's lines.
func readMigrateHost(r *MigrateReport, out string) {
	for _, line := range strings.Split(out, "\n") {
		switch f := strings.Fields(line); {
		case len(f) >= 2 && f[0] == "data_dir":
			r.DataDirState = strings.Join(f[1:], " ")
			if len(f) == 3 {
				if _, err := strconv.Atoi(f[2]); err != nil {
					r.DataDirState = "unknown"
				}
			}
		case len(f) == 2 && f[0] == "volume":
			r.OldVolumes = append(r.OldVolumes, f[1])
		}
	}
}

// siteNamespaces are the namespaces the site's objects are in: each environment's and the
// infra's.
func siteNamespaces(site *sites.Site) []string {
	out := []string{site.Config.Infra.Namespace}
	for _, env := range site.Environments() {
		out = append(out, env.Config.Namespace)
	}
	return out
}

// argoApplications lists ArgoCD's Applications that deploy into namespaces, or into their
// own namespace (an App-of-Apps root makes Applications: its auto-sync brings the others'
// back). None on a cluster without ArgoCD.
func argoApplications(ctx context.Context, kube dynamic.Interface, namespaces []string) ([]ArgoApplication, error) {
	list, err := kube.Resource(ArgoApplications).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("ArgoCD Applications: %w", err)
	}
	var out []ArgoApplication
	for _, item := range list.Items {
		dest, _, _ := unstructured.NestedString(item.Object, "spec", "destination", "namespace")
		if !slices.Contains(namespaces, dest) && dest != item.GetNamespace() {
			continue
		}
		automated, found, _ := unstructured.NestedFieldNoCopy(item.Object, "spec", "syncPolicy", "automated")
		out = append(out, ArgoApplication{Namespace: item.GetNamespace(), Name: item.GetName(), Destination: dest,
			AutoSync: found && automated != nil})
	}
	slices.SortFunc(out, func(a, b ArgoApplication) int { return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name) })
	return out, nil
}
