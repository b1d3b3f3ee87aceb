package testhosts

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestHostsAreIsolatedReachableAndStopped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hosts, err := Start(ctx, t.TempDir(), []Spec{{Name: "one"}, {Name: "two", GPU: true}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = hosts.Stop()
		}
	}()
	t.Logf("started %s", time.Now().Format("15:04:05.000"))
	// Non-root login, passwordless sudo, own host name.
	out, err := hosts.Run(ctx, "one", "id -un; hostname; sudo -n id -u")
	if err != nil {
		t.Fatal(err)
	}
	if out != "xgen\none\n0\n" {
		t.Errorf("id/hostname/sudo = %q", out)
	}
	// A file written as root on one host is on neither the other host nor this machine, in
	// every place the host scripts write (the compose project and its backups live in /srv).
	for _, dir := range []string{"/etc/rancher/k3s", "/var/lib/rancher/xgen", "/srv/xgen-infra", "/usr/local/sbin"} {
		probe := dir + "/testhosts-probe"
		if _, err := hosts.Run(ctx, "one", "sudo -n mkdir -p "+dir+" && echo x | sudo -n tee "+probe+" >/dev/null"); err != nil {
			t.Fatal(err)
		}
		if out, _ := hosts.Run(ctx, "two", "cat "+probe+" 2>&1 || true"); strings.Contains(out, "x\n") && !strings.Contains(out, "No such") {
			t.Errorf("host two sees host one's %s: %q", probe, out)
		}
		if _, err := os.Stat(probe); err == nil {
			t.Errorf("the machine sees a test host's %s", probe)
			_ = os.Remove(probe)
		}
	}
	if out, _ := hosts.Run(ctx, "two", "nvidia-smi -L; sudo -n systemctl is-active k3s || true"); !strings.Contains(out, "GPU 0") || !strings.Contains(out, "inactive") {
		t.Errorf("GPU host stand-ins: %q", out)
	}
	// The wrong host key is refused.
	bad := map[string]any{"host": hosts.Host("one").Address, "user": hosts.User, "privateKey": hosts.PrivateKey, "hostKey": hosts.Host("two").HostKey, "perDialTimeout": int64(5)}
	if _, err := Dial(ctx, bad); err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Errorf("wrong host key: %v", err)
	}
	// A cut link fails within the connect timeout; restored, the host answers again.
	if err := hosts.CutLink("one"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cut := map[string]any{"host": hosts.Host("one").Address, "user": hosts.User, "privateKey": hosts.PrivateKey, "hostKey": hosts.Host("one").HostKey, "perDialTimeout": int64(2)}
	if _, err := Dial(ctx, cut); err == nil {
		t.Error("a cut host answered")
	} else if time.Since(start) > 5*time.Second {
		t.Errorf("a cut host failed after %s, want within the 2 s connect timeout", time.Since(start))
	}
	if err := hosts.RestoreLink("one"); err != nil {
		t.Fatal(err)
	}
	if _, err := hosts.Run(ctx, "one", "true"); err != nil {
		t.Errorf("after restore: %v", err)
	}
	stopped = true
	t.Logf("before stop %s", time.Now().Format("15:04:05.000"))
	if err := hosts.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped %s", time.Now().Format("15:04:05.000"))
	if left := hosts.Alive(); len(left) > 0 {
		t.Errorf("processes left after Stop: %v", left)
	}
}
