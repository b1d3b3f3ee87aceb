package components

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Hardening is the least privilege a workload's pod runs with, the one place every workload
// the program renders (the services, the registry, the observability add-on) takes its
// security contexts from: the image's user (never root unless Root), the runtime's default
// seccomp profile, no privilege escalation, no privileged container, every capability
// dropped and a read-only root filesystem (writable paths are volumes). What a workload needs
// beyond that (Root, WritableRoot, AddCapabilities) is said, with why, beside the workload.
type Hardening struct {
	// UID the containers run as. Required unless Root; an add-on's is 10000 or above (above
	// the hosts' own users, so that a breakout does not land on one of them).
	UID int
	// GID the containers run as, also the pod's fsGroup (owner of its volumes). Default UID.
	GID int
	// Root runs the pod as UID 0 (with every capability still dropped unless added back).
	// Default false.
	Root bool
	// WritableRoot leaves the root filesystem writable. Default false.
	WritableRoot bool
	// AddCapabilities are given back after dropping ALL. Default none.
	AddCapabilities []string
}

// Pod is the pod's security context.
func (h Hardening) Pod() *corev1.PodSecurityContextArgs {
	sc := &corev1.PodSecurityContextArgs{SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")}}
	if h.Root {
		sc.RunAsUser, sc.RunAsGroup, sc.RunAsNonRoot = pulumi.Int(0), pulumi.Int(0), pulumi.Bool(false)
		return sc
	}
	gid := h.GID
	if gid == 0 {
		gid = h.UID
	}
	sc.RunAsNonRoot, sc.RunAsUser, sc.RunAsGroup, sc.FsGroup = pulumi.Bool(true), pulumi.Int(h.UID), pulumi.Int(gid), pulumi.Int(gid)
	return sc
}

// Container is each container's security context.
func (h Hardening) Container() *corev1.SecurityContextArgs {
	caps := &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}}
	if len(h.AddCapabilities) > 0 {
		caps.Add = pulumi.ToStringArray(h.AddCapabilities)
	}
	return &corev1.SecurityContextArgs{
		AllowPrivilegeEscalation: pulumi.Bool(false),
		Privileged:               pulumi.Bool(false),
		ReadOnlyRootFilesystem:   pulumi.Bool(!h.WritableRoot),
		Capabilities:             caps,
	}
}
