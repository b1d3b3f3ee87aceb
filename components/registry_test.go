package components

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/internal/inprocess"
)

func runRegistry(t *testing.T, args SiteRegistryArgs) (*inprocess.Recorder, error) {
	t.Helper()
	return inprocess.Run(func(ctx *pulumi.Context) error {
		_, err := NewSiteRegistry(ctx, "registry", args)
		return err
	}, "test", "test", nil, nil)
}

func registryArgs() SiteRegistryArgs {
	return SiteRegistryArgs{Image: "registry:2.8.3", NodePort: 30500, Storage: "50Gi", StorageClass: "local-path", Namespace: "xgen-registry"}
}

// The registry's data outlives `pulumi destroy` unless the operator opts in; one writer at a
// time on its volume; reached on the node port.
func TestSiteRegistryObjects(t *testing.T) {
	for _, removeData := range []bool{false, true} {
		args := registryArgs()
		args.RemoveDataOnDestroy = removeData
		rec, err := runRegistry(t, args)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{"kubernetes:core/v1:Namespace", "kubernetes:core/v1:PersistentVolumeClaim"} {
			res := byType(rec, typ)
			if len(res) != 1 || res[0].RetainOnDelete == removeData {
				t.Errorf("removeDataOnDestroy %v: %s retainOnDelete %v", removeData, typ, res[0].RetainOnDelete)
			}
		}
		for _, typ := range []string{"kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service"} {
			if res := byType(rec, typ); len(res) != 1 || res[0].RetainOnDelete {
				t.Errorf("%s: %d, retained", typ, len(res))
			}
		}
	}
	rec, _ := runRegistry(t, registryArgs())
	svc, _ := byType(rec, "kubernetes:core/v1:Service")[0].PlainInputs()
	if inprocess.Get(svc, "spec", "type") != "NodePort" || fmt.Sprint(inprocess.Get(svc, "spec", "ports", 0, "nodePort")) != "30500" {
		t.Errorf("service: %v", svc["spec"])
	}
	dep, _ := byType(rec, "kubernetes:apps/v1:Deployment")[0].PlainInputs()
	if inprocess.Get(dep, "spec", "strategy", "type") != "Recreate" ||
		inprocess.Get(dep, "spec", "template", "spec", "volumes", 0, "persistentVolumeClaim", "claimName") != "registry-data" ||
		inprocess.Get(dep, "spec", "template", "spec", "containers", 0, "image") != "registry:2.8.3" {
		t.Errorf("deployment: %v", dep["spec"])
	}
}

func TestSiteRegistryRefusesIncompleteArgs(t *testing.T) {
	for want, edit := range map[string]func(*SiteRegistryArgs){
		"are required":   func(a *SiteRegistryArgs) { a.Storage = "" },
		"30000 to 32767": func(a *SiteRegistryArgs) { a.NodePort = 5000 },
	} {
		args := registryArgs()
		edit(&args)
		if _, err := runRegistry(t, args); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}
