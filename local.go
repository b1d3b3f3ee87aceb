package main

// The local rehearsal (`make demo`): the xgen site's Kubernetes layer deployed to a
// throwaway control plane on this machine. It runs the same program in-process (mock
// engine, placeholder secrets) and applies its objects with the same harness the tests
// use. It is not a deployment: `pulumi up --stack <site>` is.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"xgen-infra/internal/harness"
	"xgen-infra/internal/inprocess"
	"xgen-infra/sites"
)

const (
	demoStack = "Pulumi.xgen.yaml"
	demoDir   = ".harness"
	// rehearsalHostAddress stands in for the on-prem host running the infra containers in
	// the demo and the cluster tests. Nothing connects to it (a documentation address: the
	// API server refuses loopback endpoints).
	rehearsalHostAddress = "192.0.2.10"
)

// runLocal runs a local subcommand; it returns the process exit code.
func runLocal(args []string) int {
	var err error
	switch args[0] {
	case "demo":
		err = demo()
	case "cluster":
		err = emptyCluster()
	case "demo-down":
		err = demoDown()
	default:
		err = fmt.Errorf("unknown command %q: this is a Pulumi program (pulumi up); locally: `go run . demo`, `go run . cluster` or `go run . demo-down`", args[0])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}

// runStack runs the program for a stack file, with edit applied to the site object first,
// and a placeholder for every secret an operator would set.
func runStack(stackFile string, edit func(site map[string]any)) (*inprocess.Recorder, error) {
	config, secretKeys, err := inprocess.LoadStackFile(stackFile)
	if err != nil {
		return nil, err
	}
	if edit != nil {
		var site map[string]any
		if err := json.Unmarshal([]byte(config[sites.SiteKey]), &site); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", stackFile, sites.SiteKey, err)
		}
		edit(site)
		data, err := json.Marshal(site)
		if err != nil {
			return nil, err
		}
		config[sites.SiteKey] = string(data)
	}
	var keys []string
	for _, k := range sites.SecretKeys {
		keys = append(keys, sites.ConfigNamespace+":"+k.ConfigKey)
	}
	secretKeys = inprocess.AddPlaceholderSecrets(config, secretKeys, keys...)
	return inprocess.Run(program, sites.ConfigNamespace, stackName(stackFile), config, secretKeys)
}

// siteObjects returns a stack's Kubernetes objects in apply order.
func siteObjects(stackFile string, edit func(site map[string]any)) ([]inprocess.Object, error) {
	rec, err := runStack(stackFile, edit)
	if err != nil {
		return nil, err
	}
	return rec.KubernetesObjects()
}

// withRehearsalHost sets infra.hostAddress, as an operator of an on-prem site does, unless
// the site sets it already.
func withRehearsalHost(site map[string]any) {
	infra, _ := site["infra"].(map[string]any)
	if infra == nil {
		infra = map[string]any{}
		site["infra"] = infra
	}
	if infra["hostAddress"] == nil {
		infra["hostAddress"] = rehearsalHostAddress
	}
}

// stackName is the <stack> of a Pulumi.<stack>.yaml path.
func stackName(stackFile string) string {
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(stackFile), "Pulumi."), ".yaml")
}

// startLocal starts the harness in .harness/cluster for a local command, recording the
// command's PID for demo-down. The returned stop function stops everything it started.
func startLocal(ctx context.Context) (*harness.Cluster, func(), error) {
	pidFile := filepath.Join(demoDir, "demo.pid")
	if pid, alive := runningPID(pidFile); alive {
		return nil, nil, fmt.Errorf("a local cluster is already running (pid %d); stop it with `make demo-down`", pid)
	}
	toolsDir := os.Getenv("XGEN_TOOLS_DIR")
	if toolsDir == "" {
		toolsDir = ".tools"
	}
	start := time.Now()
	cluster, err := harness.Start(ctx, harness.Options{
		ToolsDir: toolsDir, Dir: filepath.Join(demoDir, "cluster"), InstallIstioCRDs: true, Progress: os.Stdout,
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

func demo() error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	fmt.Println("Local rehearsal of the xgen site (not a deployment: `pulumi up --stack xgen` is).")
	objs, err := siteObjects(demoStack, withRehearsalHost)
	if err != nil {
		return err
	}
	cluster, stop, err := startLocal(ctx)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Printf("applying %d objects (server-side apply, strict validation)...\n", len(objs))
	bodies := make([]map[string]any, len(objs))
	for i, o := range objs {
		bodies[i] = o.Body
	}
	if _, err := cluster.Apply(ctx, bodies); err != nil {
		return err
	}
	ns, names := deploymentNames(objs)
	if err := waitWithProgress(ctx, cluster, ns, names); err != nil {
		return err
	}
	if err := printSummary(ctx, cluster, objs, ns); err != nil {
		return err
	}
	printInspect(cluster)
	fmt.Println("\nPress Ctrl-C (or run `make demo-down` elsewhere) to stop.")
	<-ctx.Done()
	return nil
}

func printInspect(c *harness.Cluster) {
	abs, _ := filepath.Abs(c.Kubeconfig)
	fmt.Printf("\nInspect it:\n  export KUBECONFIG=%s\n  .tools/bin/kubectl get nodes,deploy,svc,endpointslices,virtualservices -A\n", abs)
}

func deploymentNames(objs []inprocess.Object) (string, []string) {
	var ns string
	var names []string
	for _, o := range objs {
		if o.Kind == "Deployment" {
			ns, names = o.Namespace, append(names, o.Name)
		}
	}
	return ns, names
}

// waitWithProgress waits for every Deployment (and HPA minimum), printing how many are done.
func waitWithProgress(ctx context.Context, c *harness.Cluster, ns string, names []string) error {
	deadline := time.Now().Add(3 * time.Minute)
	last := -1
	for {
		ready := 0
		for _, name := range names {
			if c.WaitAvailable(ctx, ns, []string{name}, 0) == nil { // one check, no waiting
				ready++
			}
		}
		if ready != last {
			fmt.Printf("deployments available: %d/%d\n", ready, len(names))
			last = ready
		}
		if ready == len(names) {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("deployments did not become available in 3 minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func printSummary(ctx context.Context, c *harness.Cluster, objs []inprocess.Object, ns string) error {
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	var namespaces []string
	for _, o := range objs {
		if o.Kind == "Namespace" {
			namespaces = append(namespaces, o.Name)
		}
	}
	fmt.Fprintf(w, "\nnamespaces:\t%s\n", strings.Join(namespaces, ", "))
	deps, err := c.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nDEPLOYMENT\tREADY\tNODES\tIMAGE\n")
	nodes, err := c.PodNodes(ctx, ns)
	if err != nil {
		return err
	}
	for _, d := range deps.Items {
		fmt.Fprintf(w, "%s\t%d/%d\t%s\t%s\n", d.Name, d.Status.ReadyReplicas, *d.Spec.Replicas, strings.Join(nodes[d.Name], ","), d.Spec.Template.Spec.Containers[0].Image)
	}
	fmt.Fprintf(w, "\nINFRA ENDPOINT\tADDRESS\n")
	shown := false
	for _, o := range objs {
		// Every service's ConfigMap carries the infra addresses; show them once.
		if data, _ := o.Body["data"].(map[string]any); o.Kind == "ConfigMap" && data["POSTGRES_HOST"] != nil && !shown {
			for _, k := range []string{"POSTGRES_HOST", "REDIS_HOST", "QDRANT_HOST", "MINIO_ENDPOINT"} {
				fmt.Fprintf(w, "%s\t%v\n", k, data[k])
			}
			shown = true
		}
		if o.Kind == "EndpointSlice" {
			fmt.Fprintf(w, "  %s.%s.svc -> EndpointSlice %s\t%s\n", o.Body["metadata"].(map[string]any)["labels"].(map[string]any)["kubernetes.io/service-name"], o.Namespace, o.Name, rehearsalHostAddress)
		}
	}
	fmt.Fprintf(w, "\nINGRESS\tHOSTS\tGATEWAYS\n")
	for _, o := range objs {
		if o.Kind == "VirtualService" {
			spec := o.Body["spec"].(map[string]any)
			fmt.Fprintf(w, "VirtualService %s/%s\t%v\t%v\n", o.Namespace, o.Name, spec["hosts"], spec["gateways"])
		}
	}
	return w.Flush()
}

// demoDown stops a running demo or cluster: SIGTERM to the demo process (it stops its cluster), then
// any leftover cluster process it recorded.
func demoDown() error {
	pidFile := filepath.Join(demoDir, "demo.pid")
	pid, alive := runningPID(pidFile)
	if alive {
		fmt.Printf("stopping demo (pid %d)...\n", pid)
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 300 && processAlive(pid); i++ {
			time.Sleep(100 * time.Millisecond)
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
