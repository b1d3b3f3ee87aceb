package realengine

// Faults an operator lives through, each on a whole site (xgen-jeju's, a server and an agent)
// deployed from bare test hosts by the real engine with the real providers (wholesite_test.go),
// and the recovery docs/operations.md ("When things go wrong") tells operators.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"xgen-infra/internal/pulumiout"
	"xgen-infra/internal/testkit/livetest"
	"xgen-infra/internal/testkit/testhosts"
)

// jejuSite is xgen-jeju's whole site on two fresh test hosts, <prefix>-1 (server) and
// <prefix>-2 (agent), not deployed yet.
func jejuSite(t *testing.T, prefix string) *wholeSite {
	t.Helper()
	server, agent := prefix+"-1", prefix+"-2"
	return newWholeSite(t, wholeSiteSpec{stackFile: "Pulumi.xgen-jeju.yaml",
		hosts: []testhosts.Spec{{Name: server}, {Name: agent}}, servers: []string{server}, agents: []string{agent}})
}

// jejuComposeServices are the services of xgen-jeju's compose project (with the
// observability add-on's exporters).
var jejuComposeServices = []string{"minio", "postgres", "postgres-exporter", "qdrant", "redis", "redis-exporter"}

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
	livetest.CheckNodes(ctx, t, cluster, map[string]string{"f-1": livetest.HostsVersion, "f-2": livetest.HostsVersion})
	// The engine started again at boot and brought the project's containers back
	// (restart: unless-stopped), every one healthy.
	livetest.WaitComposeHealthy(ctx, t, s.hosts, "f-1", "xgen-infra", jejuComposeServices)
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

// upKilledAt runs `pulumi up` and kills the CLI (SIGKILL, as a laptop that dies would; the
// engine package then ends its plugins) the moment the engine starts the step of the
// resource of that type and name. It returns the steps seen before.
func (s *wholeSite) upKilledAt(ctx context.Context, typ, name string) upRun {
	s.t.Helper()
	upCtx, kill := context.WithCancel(ctx) // exec.CommandContext kills with SIGKILL
	defer kill()
	killed := false
	s.onStepStart(typ, name, func() { killed = true; kill() })
	defer func() { s.watch = nil }()
	run, err := s.up(upCtx)
	if err == nil || !killed {
		s.t.Fatalf("up was not killed at %s (killed %v): %v", name, killed, err)
	}
	// Nothing of that run goes on: no plugin of the workspace outlives its CLI.
	home := filepath.Join(filepath.Dir(s.ws.Dir), "pulumi-home")
	deadline := time.Now().Add(10 * time.Second)
	for left := processesUnder(home); len(left) > 0; left = processesUnder(home) {
		if time.Now().After(deadline) {
			s.t.Errorf("processes of the killed run still running: %v", left)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return run
}

// processesUnder lists the command lines of the running processes whose program is under dir.
func processesUnder(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err == nil && strings.HasPrefix(string(data), dir+"/") {
			out = append(out, strings.ReplaceAll(string(data), "\x00", " "))
		}
	}
	return out
}

// TestFaultKilledUp: `pulumi up` killed mid-host-layer (the agent's install running) and,
// after recovery, mid-apps (a Deployment being created). Each time the stack is locked and
// has pending operations; the documented recovery (`pulumi cancel`, then `pulumi refresh
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
		// The recovery docs/operations.md gives.
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

	// No secret anywhere a host's scripts write (its disk, its /run, mktemp files in /tmp)
	// outside files only root can read (its own, or behind a directory closed to others): the
	// stack's secrets, the K3s join token and the kubeconfig's client key, read back.
	secrets := map[string]string{}
	for key, secret := range s.secrets {
		if key != "sshPrivateKey" { // the operator's key: never on a host
			secrets[key] = secret
		}
	}
	token, err := s.hosts.Run(ctx, "k-1", "sudo -n cat /var/lib/rancher/k3s/server/token")
	if err != nil {
		t.Fatal(err)
	}
	secrets["join token"] = strings.TrimSpace(token)
	kubeconfig, err := s.hosts.Run(ctx, "k-1", "sudo -n cat /etc/rancher/k3s/k3s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(kubeconfig, "client-key-data: ") {
		t.Fatalf("the server's kubeconfig has no client key to look for:\n%.200s", kubeconfig)
	}
	secrets["kubeconfig client key"] = livetest.ClientKey([]byte(kubeconfig))
	for key, secret := range secrets {
		if len(secret) < 8 {
			t.Fatalf("the %s read back is %q: nothing to look for", key, secret)
		}
		for _, h := range []string{"k-1", "k-2"} {
			files, err := s.hosts.FilesContaining(h, secret)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if !f.Private {
					t.Errorf("%s: %s (mode %o, owner uid %d) holds the %s", h, f.Path, f.Mode, f.UID, key)
				}
			}
		}
	}
}

// TestFaultBadHostStopsEverything: one host (the agent) of a bare site cannot sudo, then has
// a full disk. Each time `up` fails naming that host and the reason, and nothing has changed
// on any host: only preflights ran, no K3s unit, no compose project directory on the server.
// Repaired, the next `up` converges.
func TestFaultBadHostStopsEverything(t *testing.T) {
	engineTools(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	s := jejuSite(t, "p")
	user := s.hosts.User
	for _, fault := range []struct {
		name, breakIt, repair, want string
	}{
		{"no passwordless sudo", "rm /etc/sudoers.d/" + user, fmt.Sprintf("printf '%%s ALL=(ALL) NOPASSWD:ALL\\n' %s >/etc/sudoers.d/%s && chmod 0440 /etc/sudoers.d/%s", user, user, user),
			"user " + user + " cannot run sudo without a password"},
		{"disk full", "mount -t tmpfs -o size=8m tmpfs /var/lib && fallocate -l 7m /var/lib/filler", "umount /var/lib",
			"only 1 MB free under /var/lib; K3s and its images need at least 10240 MB"},
	} {
		if _, err := s.hosts.AsRoot(ctx, "p-2", fault.breakIt); err != nil {
			t.Fatal(err)
		}
		run, err := s.up(ctx)
		if err == nil || len(run.failed) != 1 || !strings.Contains(run.failed["preflight-p-2"], "xgen-k3s[p-2]: error: "+fault.want) {
			t.Errorf("%s: up failed with %v (%v), want preflight-p-2 alone to fail with %q", fault.name, run.failed, err, fault.want)
		}
		for _, op := range run.hostOps {
			if !strings.Contains(op, "preflight") {
				t.Errorf("%s: %s ran on a host before every preflight passed", fault.name, op)
			}
		}
		if out, err := s.hosts.Run(ctx, "p-1", "ls /etc/systemd/system /srv"); err != nil || strings.Contains(out, "k3s") || strings.Contains(out, "xgen-infra") {
			t.Errorf("%s: the server changed: %v\n%s", fault.name, err, out)
		}
		if _, err := s.hosts.AsRoot(ctx, "p-2", fault.repair); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.up(ctx); err != nil {
		t.Fatalf("up after the repairs: %v", err)
	}
	if _, err := s.ws.Run(ctx, nil, "preview", "--expect-no-changes"); err != nil {
		t.Errorf("no-op preview: %v", err)
	}
}

// dropSSHWhileRunning ends every SSH session on a host the moment a host script whose text
// holds marker (e.g. "# up.sh:") runs there, once the engine has started resource name. The
// channel gets how many sessions were ended (0: the script was never seen running).
func (s *wholeSite) dropSSHWhileRunning(ctx context.Context, name, host, marker string) <-chan int {
	dropped := make(chan int, 1)
	s.onStepStart("", name, func() {
		go func() {
			for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(10 * time.Millisecond) {
				for _, cmdline := range s.hosts.Processes(host) {
					if strings.Contains(cmdline, marker) {
						dropped <- s.hosts.DropSSH(host)
						return
					}
				}
			}
			dropped <- 0
		}()
	})
	return dropped
}

// onStepStart calls f once, when the engine starts the step (not the plan) of the resource
// of that name and, unless typ is "", that type.
func (s *wholeSite) onStepStart(typ, name string, f func()) {
	done := false
	s.watch = func(e apitype.EngineEvent) {
		if e.ResourcePreEvent == nil || e.ResourcePreEvent.Planning || done {
			return
		}
		if m := e.ResourcePreEvent.Metadata; (typ == "" || m.Type == typ) && pulumiout.URNName(m.URN) == name {
			done = true
			f()
		}
	}
}

// TestFaultSSHDrop: the SSH connection drops in the middle of a host command, twice: the
// compose project's `up --wait` (after a compose change) and a K3s upgrade's install on the
// agent, after its drain. Each `up` fails naming the command; the rerun runs it again and
// converges: the compose project is up, no node is left cordoned, the nodes run the new
// release.
func TestFaultSSHDrop(t *testing.T) {
	engineTools(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	s := jejuSite(t, "d")
	if _, err := s.up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	cluster := s.cluster(ctx)

	s.setPath(ctx, "infra.compose.services.redis.maxMemory", "768mb")
	dropped := s.dropSSHWhileRunning(ctx, "infra-up", "d-1", "# up.sh:")
	run, err := s.up(ctx)
	s.watch = nil
	if n := <-dropped; n == 0 {
		t.Fatal("infra-up was never seen running on d-1")
	}
	if err == nil || !strings.Contains(run.failed["infra-up"], "remote command exited without exit status") {
		t.Errorf("up with the compose session dropped: %v; failures %v", err, run.failed)
	}
	if _, err := s.up(ctx); err != nil {
		t.Fatalf("up after the drop: %v", err)
	}
	livetest.WaitComposeHealthy(ctx, t, s.hosts, "d-1", "xgen-infra", jejuComposeServices)
	if got, err := s.hosts.Run(ctx, "d-1", "sudo -n docker compose -p xgen-infra exec -T redis redis-cli CONFIG GET maxmemory"); err != nil || !strings.Contains(got, "805306368") {
		t.Errorf("redis' maxmemory after the rerun: %q (%v), want 768mb", got, err)
	}

	s.setPath(ctx, "cluster.k3s.version", livetest.UpgradeVersion)
	s.setPath(ctx, "cluster.k3s.artifacts", livetest.StandInArtifacts(t, livetest.UpgradeVersion))
	dropped = s.dropSSHWhileRunning(ctx, "install-d-2", "d-2", "# install.sh:")
	run, err = s.up(ctx)
	s.watch = nil
	if n := <-dropped; n == 0 {
		t.Fatal("install-d-2 was never seen running on d-2")
	}
	if err == nil || !strings.Contains(run.failed["install-d-2"], "remote command exited without exit status") {
		t.Errorf("up with the install session dropped: %v; failures %v", err, run.failed)
	}
	if node, err := cluster.Client.CoreV1().Nodes().Get(ctx, "d-2", metav1.GetOptions{}); err != nil || !node.Spec.Unschedulable {
		t.Errorf("d-2 after the failed install: %v, want it still cordoned by the drain", err)
	}
	run, err = s.up(ctx)
	if err != nil {
		t.Fatalf("up after the drop: %v", err)
	}
	ran := func(name string) bool {
		return slices.ContainsFunc(run.hostOps, func(op string) bool { return !strings.HasPrefix(op, "delete") && strings.HasSuffix(op, " "+name) })
	}
	if !ran("install-d-2") || !ran("uncordon-d-2") {
		t.Errorf("the rerun ran %v, want install-d-2 and uncordon-d-2", run.hostOps)
	}
	livetest.CheckNodes(ctx, t, cluster, map[string]string{"d-1": livetest.UpgradeVersion, "d-2": livetest.UpgradeVersion})
	if _, err := s.ws.Run(ctx, nil, "preview", "--expect-no-changes"); err != nil {
		t.Errorf("no-op preview: %v", err)
	}
}

// TestFaultAPIServerRestart: the K3s server restarts (its API server with it) while the
// kubernetes provider applies a service change and waits for its rollout. `up` finishes or
// fails naming the resource; the rerun converges; nothing is created twice: every
// Deployment keeps its uid, and no resource is created in both runs.
func TestFaultAPIServerRestart(t *testing.T) {
	engineTools(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	s := jejuSite(t, "r")
	if _, err := s.up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	cluster := s.cluster(ctx)
	uids := func() map[string]string {
		list, err := cluster.Client.AppsV1().Deployments("xgen").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, d := range list.Items {
			out[d.Name] = string(d.UID)
		}
		return out
	}
	before := uids()

	svc := changedService(t, s.ws.StackPath())
	s.setPath(ctx, "services."+svc+".config.XGEN_TEST_CHANGE", "during-restart")
	restarted := make(chan error, 1)
	// When the host began the restart (its clock is this machine's: the test hosts share the
	// kernel) and when the engine finished (or failed) the Deployment's step: the restart must
	// begin inside the apply, or this test proves nothing.
	var mu sync.Mutex
	var restartBegan, applyEnded time.Time
	started := false
	isDeployment := func(m apitype.StepEventMetadata) bool {
		return m.Type == "kubernetes:apps/v1:Deployment" && pulumiout.URNName(m.URN) == svc
	}
	s.watch = func(e apitype.EngineEvent) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case e.ResourcePreEvent != nil && !e.ResourcePreEvent.Planning && !started && isDeployment(e.ResourcePreEvent.Metadata):
			started = true
			go func() {
				out, err := s.hosts.Run(ctx, "r-1", "date +%s%N && sudo -n systemctl restart k3s")
				if err == nil {
					var ns int64
					if _, err = fmt.Sscan(out, &ns); err == nil {
						mu.Lock()
						restartBegan = time.Unix(0, ns)
						mu.Unlock()
					}
				}
				restarted <- err
			}()
		case e.ResOutputsEvent != nil && !e.ResOutputsEvent.Planning && isDeployment(e.ResOutputsEvent.Metadata),
			e.ResOpFailedEvent != nil && isDeployment(e.ResOpFailedEvent.Metadata):
			if applyEnded.IsZero() {
				applyEnded = time.Now()
			}
		}
	}
	first, err := s.up(ctx)
	s.watch = nil
	upEnded := time.Now()
	if !started {
		t.Fatalf("the Deployment %s was never applied", svc)
	}
	if err := <-restarted; err != nil {
		t.Fatalf("restart of K3s: %v", err)
	}
	mu.Lock()
	if applyEnded.IsZero() {
		applyEnded = upEnded // the engine stopped before it reported the step's end
	}
	if !restartBegan.Before(applyEnded) {
		t.Errorf("the restart (began %s) did not overlap the Deployment's apply (ended %s)",
			restartBegan.Format(time.StampMilli), applyEnded.Format(time.StampMilli))
	}
	mu.Unlock()
	if err != nil {
		// The update failed: the engine must say which resource (a failure of its own, with
		// no resource named, or a host command's, is not what a restart of the API server does).
		if len(first.failed) == 0 {
			t.Errorf("up failed without naming any resource: %v", err)
		}
		for name := range first.failed {
			if name == "" || strings.HasPrefix(name, "xgen-infra-") {
				t.Errorf("up failed without naming the resource: %v", first.failed)
			}
		}
		t.Logf("up during the restart failed at %v", first.failed)
	} else {
		t.Log("up finished through the restart")
	}
	second, err := s.up(ctx)
	if err != nil {
		t.Fatalf("up after the restart: %v", err)
	}
	created := map[string]bool{}
	for _, st := range first.steps {
		if st.Finished && !st.Failed && st.Op == apitype.OpCreate {
			created[st.URN] = true
		}
	}
	for _, st := range second.steps {
		if st.Finished && (st.Op == apitype.OpCreate || st.Op == apitype.OpCreateReplacement) && created[st.URN] {
			t.Errorf("%s %s was created in both runs", st.Type, st.Name)
		}
	}
	if len(second.hostOps) > 0 {
		t.Errorf("the rerun ran host commands %v", second.hostOps)
	}
	if after := uids(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("Deployments before %v, after %v", before, after)
	}
	if err := cluster.WaitAvailable(ctx, "xgen", []string{svc}, 2*time.Minute); err != nil {
		t.Error(err)
	}
	if _, err := s.ws.Run(ctx, nil, "preview", "--expect-no-changes"); err != nil {
		t.Errorf("no-op preview: %v", err)
	}
}

// docBlock is the n-th (from 1) ```sh block after heading in a documentation page, verbatim.
func docBlock(t *testing.T, page, heading string, n int) string {
	t.Helper()
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s has no %q", page, heading)
	}
	var block string
	for i := 0; i < n; i++ {
		if _, after, ok = strings.Cut(after, "```sh\n"); !ok {
			break
		}
		block, after, ok = strings.Cut(after, "```")
	}
	if !ok {
		t.Fatalf("%s %q has no sh block %d", page, heading, n)
	}
	return block
}

// TestDataBackupRestore: the compose project on the real Docker engine (PostgreSQL 15 and
// Redis from Debian's packages in the test images) on xgen-jeju with the nightly backup. The app's
// role writes rows and a Qdrant collection gets points; Redis keeps a key through a compose
// restart (append-only file); the nightly job's pg_dump and Qdrant snapshot are restored with
// the documented steps after the database's and Qdrant's data directories were lost, and the
// rows (owned by the app's role) and the points are back. The site converges afterwards with
// no change.
func TestDataBackupRestore(t *testing.T) {
	engineTools(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	s := jejuSite(t, "b")
	s.setPath(ctx, "infra.compose.backup.time", "03:00")
	if _, err := s.up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	sh := func(script string) string {
		t.Helper()
		out, err := s.hosts.Run(ctx, "b-1", "sudo -n sh -euc "+shellQuote(script))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return strings.TrimSpace(out)
	}
	const dc = "docker compose --project-name xgen-infra --project-directory /srv/xgen-infra --file /srv/xgen-infra/compose.yaml --env-file /srv/xgen-infra/.env "
	const rows = dc + `exec -T postgres psql -X -tA -U xgen -d plateerag -c "SELECT count(*), min(tableowner) FROM runs, pg_tables WHERE tablename = 'runs'"`
	sh(dc + `exec -T postgres psql -X -q -v ON_ERROR_STOP=1 -U xgen -d plateerag -c "CREATE TABLE runs (id int PRIMARY KEY, note text)" ` +
		`-c "INSERT INTO runs SELECT g, 'run ' || g FROM generate_series(1, 500) g"`)
	if got := sh(rows); got != "500|xgen" {
		t.Fatalf("rows written: %q", got)
	}

	// Redis: a key survives a restart of the project.
	if got := sh(dc + "exec -T redis redis-cli SET xgen:probe kept"); got != "OK" {
		t.Fatalf("redis SET: %q", got)
	}
	sh(dc + "down && " + dc + "up --detach --wait")
	if got := sh(dc + "exec -T redis redis-cli GET xgen:probe"); got != "kept" {
		t.Errorf("redis after a compose restart: GET = %q, want kept", got)
	}

	// Qdrant: a collection with three points.
	qdrant := "http://" + s.hosts.Host("b-1").Address + ":6333"
	sh("curl -fsS -X PUT " + qdrant + `/collections/docs -H 'Content-Type: application/json' -d '{"vectors":{"size":2,"distance":"Cosine"}}' >/dev/null && ` +
		"curl -fsS -X PUT " + qdrant + `/collections/docs/points -H 'Content-Type: application/json' -d '{"points":[{"id":1,"vector":[1,0]},{"id":2,"vector":[0,1]},{"id":3,"vector":[1,1]}]}' >/dev/null`)
	points := "curl -fsS -X POST " + qdrant + "/collections/docs/points/count -H 'Content-Type: application/json' -d '{}' | sed -n 's/.*\"count\":\\([0-9]*\\).*/\\1/p'"
	if got := sh(points); got != "3" {
		t.Fatalf("points written: %q", got)
	}

	// The nightly job, then the database's and Qdrant's data directories are lost.
	sh("/usr/local/sbin/xgen-infra-backup-xgen-infra")
	if got := sh("head -c 5 /srv/xgen-infra/backups/postgres-plateerag-*.dump"); got != "PGDMP" {
		t.Fatalf("the dump starts with %q, want a pg_dump custom archive", got)
	}
	snapshot := sh("ls /srv/xgen-infra/backups/ | grep '^qdrant-.*\\.snapshot$'")
	sh(dc + "down && rm -rf /srv/xgen-infra/volumes/postgres /srv/xgen-infra/volumes/qdrant && " +
		"mkdir /srv/xgen-infra/volumes/postgres /srv/xgen-infra/volumes/qdrant && " + dc + "up --detach --wait")
	if out, err := s.hosts.Run(ctx, "b-1", "sudo -n sh -euc "+shellQuote(rows)); err == nil {
		t.Fatalf("the new database already has the rows: %s", out)
	}
	if out, _ := s.hosts.Run(ctx, "b-1", points); strings.TrimSpace(out) != "" {
		t.Fatalf("the new Qdrant already has the collection: %s points", out)
	}
	sh(docBlock(t, "docs/infra.md", "## Restoring a backup", 1))
	if got := sh(rows); got != "500|xgen" {
		t.Errorf("after the documented restore: %q, want 500 rows owned by xgen", got)
	}
	// The documented Qdrant step, its placeholders filled in as the operator would.
	qdrantStep := strings.NewReplacer("<bindAddress>", s.hosts.Host("b-1").Address, "qdrant-<time>.snapshot", snapshot).
		Replace(docBlock(t, "docs/infra.md", "## Restoring a backup", 2))
	sh(qdrantStep)
	if got := sh(points); got != "3" {
		t.Errorf("points after the documented restore: %q, want 3", got)
	}
	if _, err := s.ws.Run(ctx, nil, "preview", "--expect-no-changes"); err != nil {
		t.Errorf("no-op preview after the restore: %v", err)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestFaultComposeMove: the compose project's place changes. A new dataDir is refused
// (naming the keys) before anything on a host runs; with allowMove it moves: the new place
// is up, the old one keeps its data and loses its .env. A move to another host stops the
// old host's project only after the new one is up, and the in-cluster Services follow. A
// move away from a place deployed with removeDataOnDestroy is refused.
func TestFaultComposeMove(t *testing.T) {
	engineTools(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	// Both hosts run Docker: the project moves from m-1 to m-2.
	s := newWholeSite(t, wholeSiteSpec{stackFile: "Pulumi.xgen-jeju.yaml", hosts: []testhosts.Spec{{Name: "m-1"}, {Name: "m-2"}},
		servers: []string{"m-1"}, agents: []string{"m-2"}, docker: []string{"m-1", "m-2"}})
	if _, err := s.up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	ls := func(host, paths string) string {
		out, _ := s.hosts.Run(ctx, host, "sudo -n sh -c 'for p in "+paths+"; do [ -e $p ] && echo $p; done; true'")
		return out
	}
	// running: the project's containers run on host with their data in dir (the volumes'
	// devices: a volume keeps the options it was made with).
	running := func(host, dir string) bool {
		services, err := s.hosts.Run(ctx, host, "sudo -n docker compose -p xgen-infra ps --status running --format '{{.Service}}'")
		if err != nil || !strings.Contains(services, "postgres") || !strings.Contains(services, "redis") {
			return false
		}
		device, err := s.hosts.Run(ctx, host, "sudo -n docker volume inspect xgen-infra_postgres --format '{{.Options.device}}'")
		if strings.TrimSpace(device) != dir+"/volumes/postgres" {
			t.Logf("%s: the project runs with its postgres volume at %q (%v), not in %s", host, device, err, dir)
			return false
		}
		return true
	}

	s.setPath(ctx, "infra.compose.dataDir", "/srv/xgen-data")
	run, err := s.up(ctx)
	if err == nil || !strings.Contains(run.failed["infra-placement"], "would move from 198.18.") ||
		!strings.Contains(run.failed["infra-placement"], "site.infra.compose.allowMove") {
		t.Fatalf("a new dataDir: %v, failures %v; want infra-placement to refuse", err, run.failed)
	}
	if len(run.hostOps) > 0 {
		t.Errorf("the refused move ran %v", run.hostOps)
	}
	if got := ls("m-1", "/srv/xgen-data /srv/xgen-infra/.env"); got != "/srv/xgen-infra/.env\n" {
		t.Errorf("after the refusal m-1 has %q", got)
	}

	s.setPath(ctx, "infra.compose.allowMove", "true")
	if _, err := s.up(ctx); err != nil {
		t.Fatalf("move to /srv/xgen-data: %v", err)
	}
	if got := ls("m-1", "/srv/xgen-data/.env /srv/xgen-infra/.env /srv/xgen-infra/volumes/postgres"); got != "/srv/xgen-data/.env\n/srv/xgen-infra/volumes/postgres\n" {
		t.Errorf("after the move in place m-1 has %q, want the new .env and the old data", got)
	}
	if !running("m-1", "/srv/xgen-data") {
		t.Error("the project is not running from /srv/xgen-data")
	}

	s.setPath(ctx, "infra.compose.host", "m-2")
	run, err = s.up(ctx)
	if err != nil {
		t.Fatalf("move to m-2: %v", err)
	}
	if up, stop := stepIndex(run.steps, "infra-up", true), stepIndex(run.steps, "infra-project", true); up < 0 || stop < 0 || func() bool {
		for i := len(run.steps) - 1; i >= 0; i-- {
			if st := run.steps[i]; st.Name == "infra-project" && st.Op == apitype.OpDeleteReplaced && st.Finished {
				return i < up
			}
		}
		return true
	}() {
		t.Errorf("the old host's project was not stopped after the new one was up: %v", changed(run.steps))
	}
	if running("m-1", "/srv/xgen-data") || !running("m-2", "/srv/xgen-data") {
		t.Error("after the move to m-2 the project should run on m-2 only")
	}
	if got := ls("m-1", "/srv/xgen-data/.env /srv/xgen-data/volumes/postgres"); got != "/srv/xgen-data/volumes/postgres\n" {
		t.Errorf("m-1 after the move: %q, want its data kept and its .env gone", got)
	}
	m2 := s.hosts.Host("m-2").Address
	eps, err := s.cluster(ctx).Client.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=postgresql"})
	if err != nil || len(eps.Items) != 1 || eps.Items[0].Endpoints[0].Addresses[0] != m2 {
		t.Errorf("postgresql's EndpointSlice after the move: %v %+v, want %s", err, eps, m2)
	}
	if _, err := s.ws.Run(ctx, nil, "preview", "--expect-no-changes"); err != nil {
		t.Errorf("no-op preview after the moves: %v", err)
	}

	s.setPath(ctx, "infra.compose.removeDataOnDestroy", "true")
	if _, err := s.up(ctx); err != nil {
		t.Fatalf("removeDataOnDestroy: %v", err)
	}
	s.setPath(ctx, "infra.compose.dataDir", "/srv/xgen-infra")
	run, err = s.up(ctx)
	if err == nil || !strings.Contains(run.failed["infra-placement"], "was deployed with removeDataOnDestroy: true") {
		t.Errorf("a move away from a place with removeDataOnDestroy: %v, failures %v", err, run.failed)
	}
}
