package components

import (
	"fmt"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"
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
