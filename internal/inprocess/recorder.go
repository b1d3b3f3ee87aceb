// Package inprocess runs a Pulumi program in-process under the Go SDK's mock monitor and
// records everything it registers: type, name, URN, parent, provider, dependencies,
// options, inputs, and which input values are secret.
package inprocess

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Resource is one registered resource as the engine would receive it.
type Resource struct {
	Type, Name, URN string
	// Parent URN; "" for resources parented to the stack.
	Parent string
	// Provider reference ("urn::id"), "" for the default provider.
	Provider  string
	Custom    bool
	DependsOn []string
	Inputs    resource.PropertyMap

	Protect, RetainOnDelete, DeleteBeforeReplace bool
	// ImportID is the id of an existing resource the program adopts ("" for none).
	ImportID                                    string
	IgnoreChanges, AdditionalSecretOutputs      []string
	CreateTimeout, UpdateTimeout, DeleteTimeout string
}

// Recorder is a pulumi.MockResourceMonitor that records every registration and echoes
// the inputs back as outputs.
type Recorder struct {
	mu        sync.Mutex
	Resources []Resource
	// Exports are the stack's outputs (ctx.Export), resolved.
	Exports       map[string]Export
	exportOutputs map[string]pulumi.Output
	project       string
	stack         string
	outputs       OutputsFunc
	dryRun        bool
}

// OutputsFunc gives a registered resource's outputs instead of the echoed inputs; ok false
// leaves the resource to the default. It may be called concurrently.
type OutputsFunc func(res Resource) (outputs resource.PropertyMap, ok bool, err error)

// Option changes how Run runs the program.
type Option func(*Recorder)

// AsUpdate runs the program as `pulumi up` does (not a preview: ctx.DryRun() is false).
func AsUpdate() Option { return func(r *Recorder) { r.dryRun = false } }

// WithOutputs lets f provide outputs, e.g. by doing what a provider would.
func WithOutputs(f OutputsFunc) Option { return func(r *Recorder) { r.outputs = f } }

// NewResource implements pulumi.MockResourceMonitor.
func (r *Recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	res := Resource{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Inputs: args.Inputs, Provider: args.Provider}
	if rpc := args.RegisterRPC; rpc != nil {
		res.Parent = rpc.GetParent()
		res.DependsOn = append(res.DependsOn, rpc.GetDependencies()...)
		res.Protect = rpc.GetProtect()
		res.RetainOnDelete = rpc.GetRetainOnDelete()
		res.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		res.ImportID = rpc.GetImportId()
		res.IgnoreChanges = rpc.GetIgnoreChanges()
		res.AdditionalSecretOutputs = rpc.GetAdditionalSecretOutputs()
		if t := rpc.GetCustomTimeouts(); t != nil {
			res.CreateTimeout, res.UpdateTimeout, res.DeleteTimeout = t.GetCreate(), t.GetUpdate(), t.GetDelete()
		}
	}
	res.URN = r.urn(res.Parent, res.Type, res.Name)
	r.mu.Lock()
	r.Resources = append(r.Resources, res)
	r.mu.Unlock()
	if r.outputs != nil {
		out, ok, err := r.outputs(res)
		if err != nil {
			return "", nil, err
		}
		if ok {
			return args.Name + "-id", out, nil
		}
	}
	return args.Name + "-id", mockOutputs(args.TypeToken, args.Inputs), nil
}

// mockOutputs echoes the inputs; a remote command also gets a placeholder stdout (what a
// preview cannot know): a kubeconfig when it reads K3s's, else a marker.
func mockOutputs(typ string, inputs resource.PropertyMap) resource.PropertyMap {
	switch typ {
	case "aws:iam/accessKey:AccessKey": // AWS makes the secret (the provider marks it secret)
		out := inputs.Copy()
		out["secret"] = resource.MakeSecret(resource.NewStringProperty("(aws:secret-access-key)"))
		return out
	case "aws:iam/user:User":
		out := inputs.Copy()
		out["arn"] = resource.NewStringProperty("arn:aws:iam::123456789012:user/" + inputs["name"].StringValue())
		return out
	case "command:remote:Command":
	default:
		return inputs
	}
	out := inputs.Copy()
	stdout := "(stdout)"
	if c := inputs["create"]; c.IsString() && strings.Contains(c.StringValue(), "/etc/rancher/k3s/k3s.yaml") {
		stdout = KubeconfigWith("(k3s)")
	}
	out["stdout"], out["stderr"] = resource.NewStringProperty(stdout), resource.NewStringProperty("")
	return out
}

// Call implements pulumi.MockResourceMonitor: invokes echo their arguments, except
// eks:getCluster, which answers as AWS would for an existing cluster (a made-up endpoint and
// CA), so that the program builds its kubeconfig under the mock monitor too.
func (r *Recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if args.Token == "aws:eks/getCluster:getCluster" {
		out := args.Args.Copy()
		name := args.Args["name"].StringValue()
		out["endpoint"] = resource.NewStringProperty("https://" + strings.ToUpper(name) + ".mock.eks.amazonaws.com")
		out["arn"] = resource.NewStringProperty("arn:aws:eks:mock:123456789012:cluster/" + name)
		out["certificateAuthorities"] = resource.NewArrayProperty([]resource.PropertyValue{
			resource.NewObjectProperty(resource.PropertyMap{"data": resource.NewStringProperty("bW9jay1jYQ==")}),
		})
		return out, nil
	}
	return args.Args, nil
}

// urn mirrors the mock monitor's URN scheme so that parents can be matched.
func (r *Recorder) urn(parent, typ, name string) string {
	parentType := ""
	if parent != "" {
		if u := resource.URN(parent); u.QualifiedType() != resource.RootStackType {
			parentType = string(u.QualifiedType()) + "$"
		}
	}
	return fmt.Sprintf("urn:pulumi:%s::%s::%s%s::%s", r.stack, r.project, parentType, typ, name)
}

// Find returns the resource with this type and name.
func (r *Recorder) Find(typ, name string) (Resource, bool) {
	for _, res := range r.Resources {
		if res.Type == typ && res.Name == name {
			return res, true
		}
	}
	return Resource{}, false
}

// ByURN returns the resource with this URN.
func (r *Recorder) ByURN(urn string) (Resource, bool) {
	for _, res := range r.Resources {
		if res.URN == urn {
			return res, true
		}
	}
	return Resource{}, false
}

// Run runs program under the mock monitor with the given stack config (full keys, objects
// JSON-encoded) and the keys that are secret.
// Like the language host, it also hands the program the whole config in PULUMI_CONFIG.
// By default the run is a preview (ctx.DryRun() is true); see AsUpdate.
func Run(program pulumi.RunFunc, project, stack string, config map[string]string, secretKeys []string, opts ...Option) (*Recorder, error) {
	rec := &Recorder{project: project, stack: stack, dryRun: true}
	for _, o := range opts {
		o(rec)
	}
	withConfig := func(info *pulumi.RunInfo) {
		info.Config = config
		info.ConfigSecretKeys = secretKeys
		info.DryRun = rec.dryRun
	}
	all, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	envMu.Lock()
	defer envMu.Unlock()
	old, had := os.LookupEnv(pulumi.EnvConfig)
	os.Setenv(pulumi.EnvConfig, string(all))
	defer func() {
		if had {
			os.Setenv(pulumi.EnvConfig, old)
		} else {
			os.Unsetenv(pulumi.EnvConfig)
		}
	}()
	rec.Exports, rec.exportOutputs = map[string]Export{}, map[string]pulumi.Output{}
	recordExports := func(ctx *pulumi.Context) error {
		err := program(ctx)
		for name, v := range ctx.GetCurrentExportMap() {
			// The applied output resolves once its callback has run (or as unknown in a
			// preview): awaiting it below waits for the value.
			rec.exportOutputs[name] = pulumi.ToOutput(v).ApplyT(func(x any) any {
				rec.mu.Lock()
				defer rec.mu.Unlock()
				rec.Exports[name] = Export{Value: x}
				return nil
			})
		}
		return err
	}
	err = pulumi.RunErr(recordExports, pulumi.WithMocks(project, stack, rec), withConfig)
	if err != nil {
		return rec, err // an output of a failed run may never resolve
	}
	// IsSecret awaits the output (secretness carries through the apply).
	for name, out := range rec.exportOutputs {
		secret := pulumi.IsSecret(out)
		rec.mu.Lock()
		if e, ok := rec.Exports[name]; ok {
			e.Secret = secret
			rec.Exports[name] = e
		}
		rec.mu.Unlock()
	}
	return rec, nil
}

// Export is one stack output: its value (plain, secrets unwrapped) and whether it is secret.
type Export struct {
	Value  any
	Secret bool
}

// envMu serialises runs: PULUMI_CONFIG is process-wide.
var envMu sync.Mutex

// Plain converts a property value to plain Go values. Secrets are unwrapped and their
// paths (dotted, e.g. "stringData.POSTGRES_PASSWORD") are appended to secrets.
func Plain(v resource.PropertyValue, path string, secrets *[]string) any {
	switch {
	case v.IsSecret():
		*secrets = append(*secrets, path)
		return Plain(v.SecretValue().Element, path, secrets)
	case v.IsOutput():
		o := v.OutputValue()
		if o.Secret {
			*secrets = append(*secrets, path)
		}
		if !o.Known {
			return "<unknown>"
		}
		return Plain(o.Element, path, secrets)
	case v.IsComputed():
		return "<unknown>"
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = Plain(e, joinPath(path, string(k)), secrets)
		}
		return out
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = Plain(e, fmt.Sprintf("%s[%d]", path, i), secrets)
		}
		return out
	case v.IsString():
		return v.StringValue()
	case v.IsNumber():
		n := v.NumberValue()
		if n == float64(int64(n)) {
			return int64(n)
		}
		return n
	case v.IsBool():
		return v.BoolValue()
	case v.IsNull():
		return nil
	case v.IsAsset():
		a := v.AssetValue()
		return map[string]any{"path": a.Path, "text": a.Text, "uri": a.URI, "hash": a.Hash}
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	}
	return v.String()
}

// PlainInputs converts a resource's inputs; see Plain.
func (res Resource) PlainInputs() (map[string]any, []string) {
	var secrets []string
	out := Plain(resource.NewProperty(res.Inputs), "", &secrets).(map[string]any)
	sort.Strings(secrets)
	return out, secrets
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	if strings.ContainsAny(key, ".[]") {
		return fmt.Sprintf("%s[%q]", path, key)
	}
	return path + "." + key
}
