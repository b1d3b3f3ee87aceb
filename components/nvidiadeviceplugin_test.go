package components

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"xgen-infra/internal/inprocess"
)

func runDevicePlugin(t *testing.T, args NvidiaDevicePluginArgs) (*inprocess.Recorder, error) {
	t.Helper()
	return inprocess.Run(func(ctx *pulumi.Context) error {
		_, err := NewNvidiaDevicePlugin(ctx, "gpu", args)
		return err
	}, "test", "test", nil, nil)
}

func devicePluginArgs() NvidiaDevicePluginArgs {
	return NvidiaDevicePluginArgs{Image: "nvcr.io/nvidia/k8s-device-plugin:v0.17.1", Namespace: "kube-system", RuntimeClass: "nvidia",
		NodeSelector: map[string]string{"nvidia.com/gpu.present": "true"}}
}

// The RuntimeClass selects K3s' nvidia runtime and sends its pods to the GPU nodes; the
// plugin runs there only, with that runtime (it finds the GPUs through it), registering in
// the kubelet's directory; time-slicing is its configuration file, and a change rolls it.
func TestNvidiaDevicePluginObjects(t *testing.T) {
	for _, replicas := range []int{0, 4} {
		t.Run(fmt.Sprint("time-slicing ", replicas), func(t *testing.T) {
			args := devicePluginArgs()
			args.TimeSlicingReplicas = replicas
			rec, err := runDevicePlugin(t, args)
			if err != nil {
				t.Fatal(err)
			}
			rcs := byType(rec, "kubernetes:node.k8s.io/v1:RuntimeClass")
			if len(rcs) != 1 {
				t.Fatalf("%d RuntimeClasses", len(rcs))
			}
			rc, _ := rcs[0].PlainInputs()
			if inprocess.Get(rc, "metadata", "name") != "nvidia" || inprocess.Get(rc, "handler") != "nvidia" ||
				inprocess.Get(rc, "scheduling", "nodeSelector", "nvidia.com/gpu.present") != "true" ||
				inprocess.Get(rc, "scheduling", "tolerations", 0, "key") != "nvidia.com/gpu" {
				t.Errorf("RuntimeClass: %v", rc)
			}
			ds, _ := byType(rec, "kubernetes:apps/v1:DaemonSet")[0].PlainInputs()
			pod := func(path ...any) any { return inprocess.Get(ds, append([]any{"spec", "template", "spec"}, path...)...) }
			if pod("runtimeClassName") != "nvidia" || pod("nodeSelector", "nvidia.com/gpu.present") != "true" ||
				pod("tolerations", 0, "key") != "nvidia.com/gpu" || pod("priorityClassName") != "system-node-critical" ||
				pod("volumes", 0, "hostPath", "path") != "/var/lib/kubelet/device-plugins" ||
				pod("containers", 0, "volumeMounts", 0, "mountPath") != "/var/lib/kubelet/device-plugins" ||
				pod("containers", 0, "securityContext", "allowPrivilegeEscalation") != false ||
				inprocess.Get(ds, "metadata", "namespace") != "kube-system" {
				t.Errorf("DaemonSet: %v", ds["spec"])
			}
			cms := byType(rec, "kubernetes:core/v1:ConfigMap")
			env := fmt.Sprint(pod("containers", 0, "env"))
			annotations := fmt.Sprint(inprocess.Get(ds, "spec", "template", "metadata", "annotations"))
			if replicas == 0 {
				if len(cms) != 0 || strings.Contains(env, "CONFIG_FILE") || strings.Contains(annotations, "checksum") {
					t.Errorf("time-slicing off: %d ConfigMaps, env %s, annotations %s", len(cms), env, annotations)
				}
				return
			}
			cm, _ := cms[0].PlainInputs()
			if config := fmt.Sprint(inprocess.Get(cm, "data", "config.yaml")); !strings.Contains(config, "replicas: 4") || !strings.Contains(config, "name: nvidia.com/gpu") {
				t.Errorf("config: %s", config)
			}
			if !strings.Contains(env, devicePluginConfigPath) || !strings.Contains(annotations, "xgen.ai/config-checksum") {
				t.Errorf("time-slicing on: env %s, annotations %s", env, annotations)
			}
		})
	}
}

func TestNvidiaDevicePluginRefusesIncompleteArgs(t *testing.T) {
	for name, edit := range map[string]func(*NvidiaDevicePluginArgs){
		"no image":          func(a *NvidiaDevicePluginArgs) { a.Image = "" },
		"no runtime class":  func(a *NvidiaDevicePluginArgs) { a.RuntimeClass = "" },
		"no node selector":  func(a *NvidiaDevicePluginArgs) { a.NodeSelector = nil },
		"one pod per slice": func(a *NvidiaDevicePluginArgs) { a.TimeSlicingReplicas = 1 },
	} {
		args := devicePluginArgs()
		edit(&args)
		if rec, err := runDevicePlugin(t, args); err == nil || len(rec.Resources) > 0 {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
}
