package components

import (
	"fmt"
	"path"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"

	"xgen-infra/components/hostscript"
)

// sshConnection is how every host command connects: the pinned host key, one dial attempt
// bounded by the connect timeout (an unreachable host fails fast), the optional bastion.
func sshConnection(s SSHAccess, address, hostKey string) remote.ConnectionArgs {
	conn := remote.ConnectionArgs{
		Host: pulumi.String(address), Port: pulumi.Float64(float64(s.Port)), User: pulumi.String(s.User),
		PrivateKey: pulumi.ToSecret(s.PrivateKey).(pulumi.StringOutput), HostKey: pulumi.String(hostKey),
		PerDialTimeout: pulumi.Int(s.ConnectTimeoutSeconds), DialErrorLimit: pulumi.Int(1),
	}
	if bh := s.Bastion; bh != nil {
		conn.Proxy = remote.ProxyConnectionArgs{
			Host: pulumi.String(bh.Address), Port: pulumi.Float64(float64(bh.Port)), User: pulumi.String(bh.User),
			PrivateKey: pulumi.ToSecret(s.PrivateKey).(pulumi.StringOutput), HostKey: pulumi.String(bh.HostKey),
			PerDialTimeout: pulumi.Int(s.ConnectTimeoutSeconds), DialErrorLimit: pulumi.Int(1),
		}
	}
	return conn
}

// hostCommand registers a remote command parented to parent. Previous output is never put
// in the environment: that needs AcceptEnv on every sshd and nothing here reads it.
func hostCommand(ctx *pulumi.Context, parent pulumi.Resource, name string, conn remote.ConnectionArgs, args remote.CommandArgs, opts ...pulumi.ResourceOption) (*remote.Command, error) {
	args.Connection = conn
	args.AddPreviousOutputInEnv = pulumi.Bool(false)
	cmd, err := remote.NewCommand(ctx, name, &args, append(opts, pulumi.Parent(parent))...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return cmd, nil
}

// SSHAccess is the login to the hosts.
type SSHAccess struct {
	// User with passwordless sudo. Required.
	User string
	// Port of sshd. Required.
	Port int
	// PrivateKey (secret) of User. Required.
	PrivateKey pulumi.StringInput
	// PrivateKeyFingerprint is the SHA256 fingerprint of PrivateKey's public key (not
	// secret): part of each host's generation, so a new key never reruns an uninstall.
	PrivateKeyFingerprint string
	// ConnectTimeoutSeconds bounds the one connection attempt. Default 10.
	ConnectTimeoutSeconds int
	// Bastion is an optional jump host.
	Bastion *SSHBastion
}

// SSHBastion is a jump host reached with the same key.
type SSHBastion struct {
	Address, User, HostKey string
	Port                   int
}

// PublicKeyFingerprint is the SHA256 fingerprint of a private key's public half ("" when
// the key cannot be parsed: validation reports that before the component is built).
func PublicKeyFingerprint(privateKey string) string {
	signer, err := ssh.ParsePrivateKey([]byte(privateKey))
	if err != nil {
		return ""
	}
	return ssh.FingerprintSHA256(signer.PublicKey())
}

// BundleImage is one local image tarball of a site's bundle, already checked against its
// digest (a closed network's images: K3s nodes import them, the compose host loads them).
type BundleImage struct {
	Path, SHA256 string
}

// uploadSource is what an upload sends: at `pulumi up`, the local file; in a preview, a
// stand-in whose change is ignored. The file's digest is in the upload's remote path (its
// trigger), so a preview still shows every changed file, and it needs no file: a closed
// site's folders are only on the machine that runs `up` (sites.Site.AbsentInputs), and the
// preview is the same on every machine.
func uploadSource(ctx *pulumi.Context, local, sha string) (pulumi.AssetOrArchiveInput, []pulumi.ResourceOption) {
	if !ctx.DryRun() {
		return pulumi.NewFileAsset(local), nil
	}
	return pulumi.NewStringAsset(fmt.Sprintf("%s (sha256 %s): not on this machine", path.Base(local), sha)),
		[]pulumi.ResourceOption{pulumi.IgnoreChanges([]string{"source"})}
}

// uploadLanes bounds the uploads of one bundle to one host that run at once.
const uploadLanes = 4

// uploadBundle uploads each image to its host (CopyToRemote, after dep) at a path named by
// its digest, so that only a changed file goes again; resources are named prefix+<file
// without .tar>. It returns the uploads and what the host script then reads (each image
// under nameOf(path)).
func uploadBundle(ctx *pulumi.Context, parent pulumi.Resource, conn remote.ConnectionArgs, prefix string, images []BundleImage,
	nameOf func(string) string, stagingPrefix string, dep pulumi.Resource) ([]pulumi.Resource, []hostscript.StagedFile, error) {
	var uploads []pulumi.Resource
	var staged []hostscript.StagedFile
	for i, im := range images {
		// At most uploadLanes at once per host: each upload is its own SSH connection with
		// one dial attempt, and sshd drops handshakes at random beyond MaxStartups (10).
		deps := []pulumi.Resource{dep}
		if i >= uploadLanes {
			deps = append(deps, uploads[i-uploadLanes])
		}
		name := nameOf(im.Path)
		to := hostscript.StagedPath(stagingPrefix, name, im.SHA256)
		source, keep := uploadSource(ctx, im.Path, im.SHA256)
		cp, err := remote.NewCopyToRemote(ctx, prefix+strings.TrimSuffix(path.Base(im.Path), ".tar"), &remote.CopyToRemoteArgs{
			Connection: conn,
			Source:     source,
			RemotePath: pulumi.String(to),
			Triggers:   pulumi.Array{pulumi.String(to)},
		}, append([]pulumi.ResourceOption{pulumi.Parent(parent), pulumi.DependsOn(deps)}, keep...)...)
		if err != nil {
			return nil, nil, err
		}
		uploads = append(uploads, cp)
		staged = append(staged, hostscript.StagedFile{Name: name, SHA256: im.SHA256, Staged: to})
	}
	return uploads, staged, nil
}
