package testhosts

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"

	"xgen-infra/internal/inprocess"
	"xgen-infra/internal/sshdial"
)

// Engine stands in for `pulumi up` with pulumi-command's provider, which cannot be had on
// our machines, for the host layer: it runs the program under the mock monitor, and every
// remote command or upload the program registers is done for real over SSH, with the
// provider's semantics (documented in ../../../shared/notes/toolchain.md):
//   - a new resource runs `create`; one whose inputs are unchanged runs nothing;
//   - changed triggers or connection replace it: the new one's `create` runs, and the old
//     one's `delete` runs after the program (create before delete);
//   - other changes run `update`, or `create` when there is none;
//   - a resource no longer registered runs its `delete`, newest first;
//   - a command's stdout is its output (what the program reads, e.g. the kubeconfig).
//
// The program's other resources (Kubernetes objects) are only recorded.
type Engine struct {
	mu    sync.Mutex
	state map[string]*stateEntry // by URN
	seq   int
	// Log receives one line per remote operation. Default: discarded.
	Log io.Writer
	// Before, when set, is called before each remote operation (name, verb); an error
	// stops it (tests cut a link there).
	Before func(name, verb string) error
}

type stateEntry struct {
	res    inprocess.Resource
	inputs map[string]any
	stdout string
	seq    int
}

// Op is one remote operation an update performed.
type Op struct {
	// Name of the resource; Verb is create, update or delete.
	Name, Verb string
	// Host is the address it ran on; Command the script (or upload path), Stdin its input.
	Host, Command, Stdin string
	Env                  map[string]string
	// Stdout and Stderr as the host printed them.
	Stdout, Stderr string
}

// Result is one update.
type Result struct {
	Recorder *inprocess.Recorder
	Ops      []Op
}

// NewEngine returns an engine with empty state (a new stack).
func NewEngine() *Engine { return &Engine{state: map[string]*stateEntry{}} }

// Up runs program for a stack's config and does the host layer.
func (e *Engine) Up(ctx context.Context, program pulumi.RunFunc, project, stack string, config map[string]string, secretKeys []string) (*Result, error) {
	res := &Result{}
	var opsMu sync.Mutex
	record := func(op Op) {
		opsMu.Lock()
		res.Ops = append(res.Ops, op)
		opsMu.Unlock()
	}
	seen := map[string]bool{}
	var replaced []*stateEntry
	var seenMu sync.Mutex
	outputs := func(r inprocess.Resource) (resource.PropertyMap, bool, error) {
		if !strings.HasPrefix(r.Type, "command:remote:") {
			return nil, false, nil
		}
		seenMu.Lock()
		seen[r.URN] = true
		seenMu.Unlock()
		inputs, _ := r.PlainInputs()
		e.mu.Lock()
		old := e.state[r.URN]
		e.mu.Unlock()
		var stdout string
		switch {
		case old != nil && reflect.DeepEqual(old.inputs, inputs):
			stdout = old.stdout // unchanged: nothing runs
		case old != nil && !replaces(r.Type, old.inputs, inputs):
			verb, script := "update", str(inputs, "update")
			if script == "" {
				script = str(inputs, "create")
			}
			op, err := e.do(ctx, r, inputs, verb, script)
			record(op)
			if err != nil {
				return nil, false, err
			}
			stdout = op.Stdout
		default:
			op, err := e.do(ctx, r, inputs, "create", str(inputs, "create"))
			record(op)
			if err != nil {
				return nil, false, err
			}
			stdout = op.Stdout
			if old != nil {
				seenMu.Lock()
				replaced = append(replaced, old)
				seenMu.Unlock()
			}
		}
		e.mu.Lock()
		e.seq++
		seq := e.seq
		if old != nil {
			seq = old.seq
		}
		e.state[r.URN] = &stateEntry{res: r, inputs: inputs, stdout: stdout, seq: seq}
		e.mu.Unlock()
		out := r.Inputs.Copy()
		out["stdout"], out["stderr"] = resource.NewStringProperty(stdout), resource.NewStringProperty("")
		return out, true, nil
	}
	rec, err := inprocess.Run(program, project, stack, config, secretKeys, inprocess.AsUpdate(), inprocess.WithOutputs(outputs))
	res.Recorder = rec
	if err != nil {
		return res, err
	}
	// Replaced resources' deletes, then resources no longer in the program, newest first.
	var gone []*stateEntry
	e.mu.Lock()
	for urn, st := range e.state {
		if !seen[urn] {
			gone = append(gone, st)
		}
	}
	e.mu.Unlock()
	sort.Slice(gone, func(i, j int) bool { return gone[i].seq > gone[j].seq })
	for _, st := range append(replaced, gone...) {
		if script := str(st.inputs, "delete"); script != "" {
			op, err := e.do(ctx, st.res, st.inputs, "delete", script)
			record(op)
			if err != nil {
				return res, err
			}
		}
		if !seen[st.res.URN] {
			e.mu.Lock()
			delete(e.state, st.res.URN)
			e.mu.Unlock()
		}
	}
	return res, nil
}

// Destroy runs every delete, newest first (`pulumi destroy`).
func (e *Engine) Destroy(ctx context.Context) ([]Op, error) {
	e.mu.Lock()
	var all []*stateEntry
	for _, st := range e.state {
		all = append(all, st)
	}
	e.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].seq > all[j].seq })
	var ops []Op
	for _, st := range all {
		if script := str(st.inputs, "delete"); script != "" {
			op, err := e.do(ctx, st.res, st.inputs, "delete", script)
			ops = append(ops, op)
			if err != nil {
				return ops, err
			}
		}
		e.mu.Lock()
		delete(e.state, st.res.URN)
		e.mu.Unlock()
	}
	return ops, nil
}

// replaces says whether a change replaces the resource: its triggers or its connection
// changed (or, for an upload, what or where).
func replaces(typ string, old, now map[string]any) bool {
	keys := []string{"triggers", "connection"}
	if typ == "command:remote:CopyToRemote" {
		keys = append(keys, "source", "remotePath")
	}
	for _, k := range keys {
		if !reflect.DeepEqual(old[k], now[k]) {
			return true
		}
	}
	return false
}

// do performs one remote operation.
func (e *Engine) do(ctx context.Context, r inprocess.Resource, inputs map[string]any, verb, script string) (Op, error) {
	conn, _ := inputs["connection"].(map[string]any)
	op := Op{Name: r.Name, Verb: verb, Host: str(conn, "host")}
	if e.Before != nil {
		if err := e.Before(r.Name, verb); err != nil {
			return op, err
		}
	}
	if e.Log != nil {
		fmt.Fprintf(e.Log, "  %-8s %-28s on %s\n", verb, r.Name, op.Host)
	}
	client, err := Dial(ctx, conn)
	if err != nil {
		return op, fmt.Errorf("%s %s: %w", verb, r.Name, err)
	}
	defer client.Close()
	if r.Type == "command:remote:CopyToRemote" {
		source, _ := inputs["source"].(map[string]any)
		path := str(source, "path")
		remotePath := str(inputs, "remotePath")
		op.Command = "upload " + path + " -> " + remotePath
		if verb == "delete" {
			return op, nil // the provider leaves uploaded files behind
		}
		f, err := os.Open(path)
		if err != nil {
			return op, fmt.Errorf("%s %s: %w", verb, r.Name, err)
		}
		defer f.Close()
		// CopyToRemote writes as the SSH user without sudo; modes are not kept.
		_, stderr, err := run(client, "cat > "+shellQuote(remotePath), f, nil)
		if err != nil {
			return op, fmt.Errorf("%s %s: upload to %s: %w: %s", verb, r.Name, remotePath, err, stderr)
		}
		return op, nil
	}
	op.Command, op.Stdin = script, str(inputs, "stdin")
	if env, ok := inputs["environment"].(map[string]any); ok {
		op.Env = map[string]string{}
		for k, v := range env {
			op.Env[k] = fmt.Sprint(v)
		}
	}
	op.Stdout, op.Stderr, err = run(client, script, strings.NewReader(op.Stdin), op.Env)
	if err != nil {
		return op, fmt.Errorf("%s %s on %s: %w\n%s", verb, r.Name, op.Host, err, strings.TrimSpace(op.Stderr))
	}
	return op, nil
}

// Dial connects as the provider does: pinned host key, one attempt bounded by
// perDialTimeout, through the proxy (bastion) when there is one.
func Dial(ctx context.Context, conn map[string]any) (*ssh.Client, error) {
	cfg, addr, err := clientConfig(conn)
	if err != nil {
		return nil, err
	}
	proxy, _ := conn["proxy"].(map[string]any)
	if proxy == nil {
		return sshdial.Dial(ctx, addr, cfg)
	}
	pcfg, paddr, err := clientConfig(proxy)
	if err != nil {
		return nil, err
	}
	bastion, err := sshdial.Dial(ctx, paddr, pcfg)
	if err != nil {
		return nil, fmt.Errorf("bastion: %w", err)
	}
	c, err := sshdial.Via(bastion, addr, cfg)
	if err != nil {
		bastion.Close()
		return nil, err
	}
	return c, nil
}

func clientConfig(conn map[string]any) (*ssh.ClientConfig, string, error) {
	signer, err := ssh.ParsePrivateKey([]byte(str(conn, "privateKey")))
	if err != nil {
		return nil, "", fmt.Errorf("private key: %w", err)
	}
	cfg, err := sshdial.Config(str(conn, "user"), signer, str(conn, "hostKey"), time.Duration(num(conn, "perDialTimeout"))*time.Second)
	if err != nil {
		return nil, "", err
	}
	port := num(conn, "port")
	if port == 0 {
		port = 22
	}
	return cfg, net.JoinHostPort(str(conn, "host"), strconv.Itoa(port)), nil
}

// run runs one command in a new session (no TTY, as the provider does).
func run(client *ssh.Client, command string, stdin io.Reader, env map[string]string) (string, string, error) {
	sess, err := client.NewSession()
	if err != nil {
		return "", "", err
	}
	defer sess.Close()
	for k, v := range env {
		if err := sess.Setenv(k, v); err != nil {
			return "", "", fmt.Errorf("unable to set %q (the host's sshd needs AcceptEnv %s): %w", k, k, err)
		}
	}
	var stdout, stderr bytes.Buffer
	sess.Stdin, sess.Stdout, sess.Stderr = stdin, &stdout, &stderr
	err = sess.Run(command)
	return stdout.String(), stderr.String(), err
}

// Run runs a command on a host as the test user (for tests looking at a host).
func (h *Hosts) Run(ctx context.Context, host, command string) (string, error) {
	hh := h.Host(host)
	client, err := Dial(ctx, map[string]any{"host": hh.Address, "user": h.User, "privateKey": h.PrivateKey, "hostKey": hh.HostKey, "perDialTimeout": int64(5)})
	if err != nil {
		return "", err
	}
	defer client.Close()
	out, stderr, err := run(client, command, nil, nil)
	if err != nil {
		return out, fmt.Errorf("%s: %q: %w: %s", host, command, err, stderr)
	}
	return out, nil
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func num(m map[string]any, key string) int {
	switch v := m[key].(type) {
	case int64:
		return int(v)
	case float64:
		return int(v)
	}
	return 0
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'" }
