package components

import (
	"fmt"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
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
