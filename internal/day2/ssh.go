package day2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"

	"xgen-infra/internal/sshdial"
	"xgen-infra/sites"
)

// hostAccess is how status reaches a host: as the program does (the site's SSH user, port,
// pinned host key, bastion), with the stack's key.
type hostAccess struct {
	ssh        *sites.SSHConfig
	privateKey []byte
}

// run runs a read-only host script (built by the components' pure builders) on address and
// returns its standard output.
func (a hostAccess) run(ctx context.Context, address, hostKey, script string) (string, error) {
	timeout, err := time.ParseDuration(a.ssh.ConnectTimeout)
	if err != nil || timeout <= 0 {
		timeout = 10 * time.Second
	}
	signer, err := ssh.ParsePrivateKey(a.privateKey)
	if err != nil {
		return "", fmt.Errorf("sshPrivateKey: %w", err)
	}
	cfg, err := sshdial.Config(a.ssh.User, signer, hostKey, timeout)
	if err != nil {
		return "", err
	}
	target := net.JoinHostPort(address, strconv.Itoa(a.ssh.Port))
	var client *ssh.Client
	if b := a.ssh.Bastion; b != nil {
		bcfg, err := sshdial.Config(b.User, signer, b.HostKey, timeout)
		if err != nil {
			return "", fmt.Errorf("bastion: %w", err)
		}
		bastion, err := sshdial.Dial(ctx, net.JoinHostPort(b.Address, strconv.Itoa(b.Port)), bcfg)
		if err != nil {
			return "", fmt.Errorf("bastion %s: %w", b.Address, err)
		}
		defer bastion.Close()
		if client, err = sshdial.Via(bastion, target, cfg); err != nil {
			return "", err
		}
	} else if client, err = sshdial.Dial(ctx, target, cfg); err != nil {
		return "", err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return "", err
	}
	defer session.Close()
	var stdout, stderr bytes.Buffer
	session.Stdout, session.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	go func() { done <- session.Run(script) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(time.Minute):
		return "", errors.New("the status script did not finish in a minute")
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}
