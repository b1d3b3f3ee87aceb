package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"xgen-infra/internal/engine"
	"xgen-infra/internal/pulumiout"
	"xgen-infra/internal/testkit/harness"
	"xgen-infra/internal/testkit/testhosts"
)

func toolsDir() string {
	if dir := os.Getenv("XGEN_TOOLS_DIR"); dir != "" {
		return dir
	}
	return ".tools"
}

// startLocal starts the harness in .harness/cluster, recording this process's PID for
// `down`. The returned stop function stops everything it started.
func startLocal(ctx context.Context) (*harness.Cluster, func(), error) {
	pidFile := filepath.Join(demoDir, "demo.pid")
	if pid, alive := runningPID(pidFile); alive {
		return nil, nil, fmt.Errorf("a local cluster is already running (pid %d); stop it with `make demo-down`", pid)
	}
	if err := os.MkdirAll(demoDir, 0o755); err != nil {
		return nil, nil, err
	}
	start := time.Now()
	cluster, err := harness.Start(ctx, harness.Options{
		ToolsDir: toolsDir(), Dir: filepath.Join(demoDir, "cluster"), InstallIstioCRDs: true, Progress: os.Stdout,
	})
	if err != nil {
		return nil, nil, err
	}
	stop := func() {
		fmt.Println("stopping the local cluster...")
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "warning:", err)
		}
		os.Remove(pidFile)
		fmt.Println("stopped; nothing is left running.")
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		stop()
		return nil, nil, err
	}
	fmt.Printf("cluster up in %.1fs\n", time.Since(start).Seconds())
	return cluster, stop, nil
}

// emptyCluster runs the bare harness (nodes, Istio CRDs, nothing deployed) until stopped.
func emptyCluster() error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	cluster, stop, err := startLocal(ctx)
	if err != nil {
		return err
	}
	defer stop()
	printInspect(cluster)
	fmt.Println("\nPress Ctrl-C (or run `make demo-down` elsewhere) to stop.")
	<-ctx.Done()
	return nil
}

// demo is the whole chain on the embedded default (the xgen site), in one real `pulumi up`:
// bare test hosts → K3s (K3sCluster's commands over SSH, by the command provider) → the compose
// infra (InfraCompose) → Istio (the add-on, from local charts) → the apps, through the
// kubeconfig the program read back from the first server. Ctrl-C destroys the stack and stops
// the hosts.
func demo() error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	fmt.Println("Local rehearsal of the xgen site: bare hosts → K3s → infra → Istio → apps, on this machine, in one `pulumi up`.")
	begin := time.Now()

	lab, stopHosts, err := startHosts(ctx)
	if err != nil {
		return err
	}
	defer stopHosts()

	ws, logFile, err := newWorkspace(ctx, lab)
	if err != nil {
		return err
	}
	defer logFile.Close()
	// Whatever happens from here, the stack is destroyed before the hosts stop.
	defer func() {
		fmt.Println("pulumi destroy...")
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer dcancel()
		if _, err := ws.Destroy(dctx); err != nil {
			fmt.Fprintln(os.Stderr, "warning: destroy:", err)
		}
	}()
	keys, _, err := ws.SetSecrets(ctx, map[string]string{"sshPrivateKey": lab.hosts.PrivateKey})
	if err != nil {
		return err
	}
	for _, key := range keys {
		what := "(throwaway value)"
		if key == "sshPrivateKey" {
			what = "the test hosts' key"
		}
		fmt.Printf("pulumi config set --secret %s --stack %s < %s\n", key, ws.Stack, what)
	}

	fmt.Println("\n[2/2] pulumi up: hosts, K3s, infra, Istio and apps")
	start := time.Now()
	summary, err := upWithProgress(ctx, ws, "events.jsonl")
	if err != nil {
		return err
	}
	fmt.Printf("pulumi up: %s in %.1fs\n", summary, time.Since(start).Seconds())

	// A converged site: a second `up` changes nothing and runs no host command.
	start = time.Now()
	summary, err = upWithProgress(ctx, ws, "events-again.jsonl")
	if err != nil {
		return fmt.Errorf("second pulumi up: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(demoDir, "events-again.jsonl"))
	if err != nil {
		return err
	}
	events, err := pulumiout.ReadEvents(data)
	if err != nil {
		return err
	}
	fmt.Printf("second pulumi up: %s in %.1fs, %d host commands ran\n", summary, time.Since(start).Seconds(),
		len(pulumiout.HostOperations(events)))
	if err := converged(events); err != nil {
		return fmt.Errorf("second pulumi up: %w", err)
	}

	cluster, err := attach(ctx, ws)
	if err != nil {
		return err
	}
	printInfra(ctx, lab.hosts, "xgen-1")
	printNodes(ctx, cluster)
	if err := printSummary(ctx, ws, cluster, keys); err != nil {
		return err
	}
	fmt.Printf("\nbare hosts to apps Available in %.0fs\n", time.Since(begin).Seconds())
	printInspect(cluster)
	fmt.Println("\nPress Ctrl-C (or run `make demo-down` elsewhere) to destroy the stack and stop.")
	<-ctx.Done()
	return nil
}

// newWorkspace writes the xgen stack file pointed at the test hosts (Istio from the local
// charts of the istio.io/istio module: nothing is downloaded) and creates its stack in a
// throwaway workspace (local file backend, throwaway passphrase) in .harness/engine.
func newWorkspace(ctx context.Context, lab *lab) (*engine.Workspace, *os.File, error) {
	stackFile, err := filepath.Abs(filepath.Join(demoDir, filepath.Base(demoStack)))
	if err != nil {
		return nil, nil, err
	}
	if err := lab.writeStackFile(stackFile); err != nil {
		return nil, nil, err
	}
	engineDir := filepath.Join(demoDir, "engine")
	if err := os.RemoveAll(engineDir); err != nil {
		return nil, nil, err
	}
	logFile, err := os.Create(filepath.Join(demoDir, "engine.log"))
	if err != nil {
		return nil, nil, err
	}
	ws, err := engine.New(ctx, engine.Options{
		ToolsDir: toolsDir(), ProgramDir: ".", StackFile: stackFile, Dir: engineDir, Log: logFile,
	})
	if err != nil {
		logFile.Close()
		return nil, nil, err
	}
	fmt.Printf("stack %s in %s (local backend, throwaway passphrase; CLI log: %s)\n", ws.Stack, engineDir, logFile.Name())
	return ws, logFile, nil
}

// upWithProgress runs `pulumi up`, printing a line per finished step from the event log.
func upWithProgress(ctx context.Context, ws *engine.Workspace, eventLog string) (string, error) {
	events, _ := filepath.Abs(filepath.Join(demoDir, eventLog))
	os.Remove(events)
	progress := pulumiout.FollowEvents(events, func(line string) { fmt.Println("  " + line) })
	_, upErr := ws.Up(ctx, "--event-log", events)
	summary := progress()
	return summary, upErr
}

// converged is nil when an update's events show a converged site: no resource changed and no
// host command ran. Otherwise it names each (the demo fails: a second `up` that does work is a
// bug in the program, whatever the first one did).
func converged(events []apitype.EngineEvent) error {
	var problems []string
	for _, e := range events {
		if o := e.ResOutputsEvent; o != nil && !o.Planning && o.Metadata.Op != apitype.OpSame &&
			o.Metadata.Op != apitype.OpRead && o.Metadata.Type != "pulumi:pulumi:Stack" &&
			!strings.HasPrefix(o.Metadata.Type, "command:") { // those are HostOperations
			problems = append(problems, fmt.Sprintf("%s %s", o.Metadata.Op, pulumiout.URNName(o.Metadata.URN)))
		}
	}
	if ops := pulumiout.HostOperations(events); len(ops) > 0 {
		problems = append(problems, fmt.Sprintf("%d host commands ran (%s)", len(ops), strings.Join(ops, ", ")))
	}
	if len(problems) > 0 {
		return fmt.Errorf("the site did not converge: %s", strings.Join(problems, "; "))
	}
	return nil
}

// setSecrets sets every secret the stack needs the way the README tells operators, with
// throwaway values (the kubeconfig is the local cluster's); none is printed.
func setSecrets(ctx context.Context, ws *engine.Workspace, cluster *harness.Cluster) ([]string, error) {
	kubeconfig, err := cluster.SelfContainedKubeconfig()
	if err != nil {
		return nil, err
	}
	keys, _, err := ws.SetThrowawaySecrets(ctx, string(kubeconfig))
	for _, key := range keys {
		fmt.Printf("pulumi config set --secret %s --stack %s < (throwaway value)\n", key, ws.Stack)
	}
	return keys, err
}

func printInspect(c *harness.Cluster) {
	abs, _ := filepath.Abs(c.Kubeconfig)
	fmt.Printf("\nInspect it:\n  export KUBECONFIG=%s\n  .tools/bin/kubectl get nodes,deploy,svc,endpointslices,virtualservices -A\n", abs)
}

// printSummary shows what the stack made, read back from the stack outputs and the cluster.
func printSummary(ctx context.Context, ws *engine.Workspace, c *harness.Cluster, secretKeys []string) error {
	outputs, err := ws.Outputs(ctx, false)
	if err != nil {
		return err
	}
	ns, _ := outputs["namespace"].(string)
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(w, "\nsite:\t%v (environment %v)\n", outputs["site"], outputs["environment"])
	fmt.Fprintf(w, "urls:\t%v\n", outputs["urls"])
	if addons, ok := outputs["addons"].(map[string]any); ok {
		if obs, ok := addons["observability"].(map[string]any); ok {
			fmt.Fprintf(w, "grafana:\t%v (user admin, password: the grafanaAdminPassword secret)\n", obs["grafanaURL"])
		}
	}

	deps, err := c.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	nodes, err := c.PodNodes(ctx, ns)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nDEPLOYMENT\tREADY\tNODES\tIMAGE\n")
	for _, d := range deps.Items {
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		fmt.Fprintf(w, "%s/%s\t%d/%d\t%s\t%s\n", ns, d.Name, d.Status.ReadyReplicas, want,
			strings.Join(nodes[d.Name], ","), d.Spec.Template.Spec.Containers[0].Image)
	}

	// The program's own EndpointSlices (selector-less infra Services), not the controller's.
	slices, err := c.Client.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/part-of=xgen,endpointslice.kubernetes.io/managed-by!=endpointslice-controller.k8s.io"})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nINFRA SERVICE\tENDPOINTS\n")
	for _, s := range slices.Items {
		var addrs []string
		for _, e := range s.Endpoints {
			for _, p := range s.Ports {
				addrs = append(addrs, fmt.Sprintf("%s:%d", strings.Join(e.Addresses, ","), *p.Port))
			}
		}
		sort.Strings(addrs)
		fmt.Fprintf(w, "%s.%s.svc\t%s\n", s.Labels["kubernetes.io/service-name"], s.Namespace, strings.Join(addrs, " "))
	}

	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	vsList, err := dyn.Resource(schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}).
		Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nINGRESS\tHOSTS\tGATEWAYS\n")
	for _, vs := range vsList.Items {
		spec, _ := vs.Object["spec"].(map[string]any)
		fmt.Fprintf(w, "VirtualService %s/%s\t%v\t%v\n", vs.GetNamespace(), vs.GetName(), spec["hosts"], spec["gateways"])
	}
	fmt.Fprintf(w, "\nsecrets:\tthrowaway values, set with `pulumi config set --secret` (%s)\n", strings.Join(secretKeys, ", "))
	return w.Flush()
}

// down stops a running demo or cluster: SIGTERM to the demo process (it destroys its stack
// and stops its cluster), then any leftover cluster process it recorded.
func down() error {
	pidFile := filepath.Join(demoDir, "demo.pid")
	pid, alive := runningPID(pidFile)
	if alive {
		fmt.Printf("stopping demo (pid %d)...\n", pid)
		_ = syscall.Kill(pid, syscall.SIGTERM)
		// The demo destroys its stack first: give it time.
		for i := 0; i < 3000 && processAlive(pid); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if processAlive(pid) {
			return errors.New("the demo did not stop in 5 minutes")
		}
	}
	data, _ := os.ReadFile(filepath.Join(demoDir, "cluster", "pids"))
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			if p, err := strconv.Atoi(f[0]); err == nil && processAlive(p) {
				fmt.Printf("stopping leftover %s (pid %d)\n", f[1], p)
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
	}
	if n := testhosts.CleanupAll(); n > 0 {
		fmt.Printf("removed %d leftover test hosts\n", n)
	}
	os.Remove(pidFile)
	fmt.Println("demo is down.")
	return nil
}

func runningPID(pidFile string) (int, bool) {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid, err == nil && processAlive(pid)
}

func processAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}
