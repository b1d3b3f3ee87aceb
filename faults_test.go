package main

// Faults an operator lives through, each on a whole site (xgen-jeju's, a server and an agent)
// deployed from bare test hosts by the real engine with the real providers (wholesite_test.go),
// and the recovery the README ("When things go wrong") tells operators.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"xgen-infra/internal/engine"
	"xgen-infra/internal/testhosts"
)

// jejuSite is xgen-jeju's whole site on two fresh test hosts, <prefix>-1 (server) and
// <prefix>-2 (agent), not deployed yet.
func jejuSite(t *testing.T, prefix string) *wholeSite {
	t.Helper()
	server, agent := prefix+"-1", prefix+"-2"
	return newWholeSite(t, wholeSiteSpec{stackFile: "Pulumi.xgen-jeju.yaml",
		hosts: []testhosts.Spec{{Name: server}, {Name: agent}}, servers: []string{server}, agents: []string{agent}})
}

// convergedJeju is jejuSite("f"), up and converged.
func convergedJeju(t *testing.T, ctx context.Context) *wholeSite {
	t.Helper()
	s := jejuSite(t, "f")
	if _, err := s.up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	return s
}

// TestFaultConcurrentUp: two `pulumi up` of one stack at once (two colleagues, one file
// backend): the second is refused by the backend's lock, naming it, before it changes anything;
// the first completes, and the site converges.
func TestFaultConcurrentUp(t *testing.T) {
	engineTools(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	s := convergedJeju(t, ctx)

	svc := changedService(t, s.ws.StackPath())
	s.setPath(ctx, "services."+svc+".config.XGEN_TEST_CHANGE", "first")
	started := make(chan struct{})
	first := make(chan error, 1)
	s.watch = func(e apitype.EngineEvent) {
		if e.ResourcePreEvent != nil {
			select {
			case <-started:
			default:
				close(started)
			}
		}
	}
	go func() { _, err := s.up(ctx); first <- err }()
	select {
	case <-started: // the first update holds the lock and is changing things
	case err := <-first:
		t.Fatalf("the first up ended before it started a step: %v", err)
	}
	_, err := s.ws.Up(ctx)
	if err == nil || !strings.Contains(err.Error(), "the stack is currently locked by 1 lock(s)") {
		t.Errorf("the second up was not refused by the lock: %v", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("the first up: %v", err)
	}
	s.watch = nil
	if _, err := s.ws.Run(ctx, nil, "preview", "--expect-no-changes"); err != nil {
		t.Errorf("no-op preview after the first up: %v", err)
	}
}

// TestFaultHostReboot: every host reboots (all processes stopped, files kept, the enabled
// units started again at boot: K3s, the compose project's engine): the nodes come back Ready,
// the next preview shows no change and the next `up` runs no host command.
func TestFaultHostReboot(t *testing.T) {
	engineTools(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	s := convergedJeju(t, ctx)
	for _, h := range []string{"f-1", "f-2"} {
		if err := s.hosts.Reboot(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	cluster := s.cluster(ctx)
	checkNodes(ctx, t, cluster, map[string]string{"f-1": hostsVersion, "f-2": hostsVersion})
	if out, err := s.hosts.Run(ctx, "f-1", "sudo -n docker compose --project-name xgen-infra --project-directory /srv/xgen-infra "+
		"--file /srv/xgen-infra/compose.yaml --env-file /srv/xgen-infra/.env ps"); err != nil || strings.Count(out, "running") < 4 {
		t.Errorf("the compose project after the reboot: %v\n%s", err, out)
	}
	if _, err := s.ws.Run(ctx, nil, "preview", "--expect-no-changes"); err != nil {
		t.Fatalf("preview after the reboot: %v", err)
	}
	run, err := s.up(ctx)
	if err != nil {
		t.Fatalf("up after the reboot: %v", err)
	}
	if len(run.hostOps) > 0 || len(changed(run.steps)) > 0 {
		t.Errorf("up after the reboot ran %v, changed %v", run.hostOps, changed(run.steps))
	}
	if err := cluster.WaitAvailable(ctx, "xgen", []string{"xgen-core", "xgen-frontend"}, 2*time.Minute); err != nil {
		t.Errorf("apps after the reboot: %v", err)
	}
}

// upKilledAt runs `pulumi up` and kills the CLI (SIGKILL, as a laptop that dies would) the
// moment the engine starts the step of the resource of that type and name. It returns the
// steps seen before.
func (s *wholeSite) upKilledAt(ctx context.Context, typ, name string) upRun {
	s.t.Helper()
	upCtx, kill := context.WithCancel(ctx) // exec.CommandContext kills with SIGKILL
	defer kill()
	killed := false
	s.watch = func(e apitype.EngineEvent) {
		if e.ResourcePreEvent == nil || e.ResourcePreEvent.Planning || killed {
			return
		}
		if m := e.ResourcePreEvent.Metadata; m.Type == typ && engine.URNName(m.URN) == name {
			killed = true
			kill()
		}
	}
	defer func() { s.watch = nil }()
	run, err := s.up(upCtx)
	if err == nil || !killed {
		s.t.Fatalf("up was not killed at %s (killed %v): %v", name, killed, err)
	}
	return run
}

// TestFaultKilledUp: `pulumi up` killed mid-host-layer (the agent's install running) and,
// after recovery, mid-apps (a Deployment being created). Each time the stack is locked and
// has pending operations; the README's recovery (`pulumi cancel`, then `pulumi refresh
// --clear-pending-creates`, then `pulumi up`) converges it; the cluster is the same one (no
// second cluster-init); no secret is left on a host outside 0600 files.
func TestFaultKilledUp(t *testing.T) {
	engineTools(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	s := jejuSite(t, "k")
	clusterUID := func() string {
		out, err := s.hosts.Run(ctx, "k-1", "sudo -n /usr/local/bin/k3s kubectl get namespace kube-system -o jsonpath={.metadata.uid}")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	for i, at := range [][2]string{{"command:remote:Command", "install-k-2"}, {"kubernetes:apps/v1:Deployment", "xgen-core"}} {
		first := s.upKilledAt(ctx, at[0], at[1])
		uid := ""
		if i == 0 {
			uid = clusterUID()
		}
		t.Logf("killed at %s after %v", at, first.hostOps)

		// What the operator sees next: the stack is locked by the dead update.
		_, err := s.ws.Up(ctx)
		if err == nil || !strings.Contains(err.Error(), "the stack is currently locked") {
			t.Fatalf("up after the kill: %v, want the lock named", err)
		}
		// The recovery the README gives.
		for _, step := range [][]string{{"cancel", "--yes"}, {"refresh", "--clear-pending-creates", "--yes", "--skip-preview"}} {
			if _, err := s.ws.Run(ctx, nil, step...); err != nil {
				t.Fatalf("pulumi %s: %v", strings.Join(step, " "), err)
			}
		}
		run, err := s.up(ctx)
		if err != nil {
			t.Fatalf("up after the recovery (killed at %s): %v", at, err)
		}
		t.Logf("recovery up ran %v", run.hostOps)
		for _, op := range run.hostOps {
			if strings.HasPrefix(op, "delete") {
				t.Errorf("the recovery ran %s", op)
			}
		}
		if i == 0 && clusterUID() != uid {
			t.Error("the cluster was initialised again: kube-system has a new uid")
		}
		if _, err := s.ws.Run(ctx, nil, "preview", "--expect-no-changes"); err != nil {
			t.Fatalf("no-op preview after the recovery: %v", err)
		}
	}

	// No secret on a host's disk outside files only root reads.
	for key, secret := range s.secrets {
		if key == "sshPrivateKey" {
			continue
		}
		for _, h := range []string{"k-1", "k-2"} {
			files, err := s.hosts.FilesContaining(h, secret)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if f.Mode&0o077 != 0 {
					t.Errorf("%s: %s (mode %o) holds the %s", h, f.Path, f.Mode, key)
				}
			}
		}
	}
}
