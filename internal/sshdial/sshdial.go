// Package sshdial connects to a host the way the program's remote commands do (the command
// provider's connection): the site's user and key, the host key pinned, one attempt bounded
// by a timeout, optionally through a bastion. Used by `site status` and by the test kit's
// engine; never linked into the Pulumi program.
package sshdial

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/crypto/ssh"
)

// Config is the client configuration: hostKey is the pinned OpenSSH public key line ("" is
// the provider's behaviour without one: any key is accepted); timeout bounds the connection
// and the handshake (0: none).
func Config(user string, signer ssh.Signer, hostKey string, timeout time.Duration) (*ssh.ClientConfig, error) {
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, Timeout: timeout}
	if hostKey == "" {
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // the provider's behaviour without hostKey
		return cfg, nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hostKey))
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	cfg.HostKeyCallback = func(_ string, _ net.Addr, key ssh.PublicKey) error {
		if !bytes.Equal(key.Marshal(), pub.Marshal()) {
			return errors.New("ssh: host key mismatch")
		}
		return nil
	}
	cfg.HostKeyAlgorithms = []string{pub.Type()}
	return cfg, nil
}

// Dial connects to addr ("host:port") directly, the handshake bounded by cfg.Timeout.
func Dial(ctx context.Context, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	d := net.Dialer{Timeout: cfg.Timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout > 0 {
		_ = c.SetDeadline(time.Now().Add(cfg.Timeout))
	}
	sc, chans, reqs, err := ssh.NewClientConn(c, addr, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// Via connects to addr through a connected bastion.
func Via(bastion *ssh.Client, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	c, err := bastion.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	sc, chans, reqs, err := ssh.NewClientConn(c, addr, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	return ssh.NewClient(sc, chans, reqs), nil
}
