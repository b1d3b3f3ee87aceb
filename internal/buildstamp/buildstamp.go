// Package buildstamp makes a prebuilt program binary safe: the binary carries a digest of the
// sources it was built from (set at build time by ./stamp), and refuses to run on a tree whose
// sources differ, naming the one command that rebuilds it. Pulumi.yaml runs the program through
// tools/program.sh, which rebuilds the binary whenever this check fails, so a pull or an edit
// is never deployed by a stale binary and a fresh clone needs no build step.
package buildstamp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Set at build time (-ldflags -X) by ./stamp; empty in a binary built any other way (go build,
// go run, `runtime: go`, tests), which is not checked.
var (
	// Digest is Compute of Inputs over the tree the binary was built from.
	Digest string
	// Inputs are the build's inputs (Input.String), separated by ";".
	Inputs string
)

// RootEnv names the source tree to check (tools/program.sh sets it); default the working
// directory.
const RootEnv = "XGEN_SOURCE_ROOT"

// RebuildCommand is what an operator runs to rebuild the binary by hand.
const RebuildCommand = "make build"

// Input is one input of the build, relative to the module root.
type Input struct {
	// Kind is 'g' (every non-test .go file of a package directory: a new file counts too),
	// 'a' (every regular file of a directory of embedded files) or 'f' (one file).
	Kind byte
	Path string
}

func (in Input) String() string { return string(in.Kind) + ":" + in.Path }

// ParseInputs reads Inputs' form.
func ParseInputs(s string) ([]Input, error) {
	var out []Input
	for _, part := range strings.Split(s, ";") {
		if part == "" {
			continue
		}
		kind, path, ok := strings.Cut(part, ":")
		if !ok || len(kind) != 1 || !strings.Contains("gaf", kind) || path == "" {
			return nil, fmt.Errorf("buildstamp: bad input %q", part)
		}
		out = append(out, Input{Kind: kind[0], Path: path})
	}
	return out, nil
}

// Compute is the digest of the inputs under root: each file's path and content, in a fixed
// order; for a directory input, the names of the files it selects as well, so that a new or
// removed file changes the digest.
func Compute(root string, inputs []Input) (string, error) {
	sorted := append([]Input(nil), inputs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].String() < sorted[j].String() })
	h := sha256.New()
	for _, in := range sorted {
		files := []string{in.Path}
		if in.Kind != 'f' {
			entries, err := os.ReadDir(filepath.Join(root, in.Path))
			if err != nil {
				return "", err
			}
			files = files[:0]
			for _, e := range entries {
				name := e.Name()
				if !e.Type().IsRegular() || in.Kind == 'g' && (!strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go")) {
					continue
				}
				files = append(files, filepath.ToSlash(filepath.Join(in.Path, name)))
			}
		}
		fmt.Fprintf(h, "%s\n", in)
		for _, f := range files {
			data, err := os.ReadFile(filepath.Join(root, f))
			if err != nil {
				return "", err
			}
			sum := sha256.Sum256(data)
			fmt.Fprintf(h, "%s %x\n", f, sum)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ErrStale is returned by Check for a binary built from other sources.
var ErrStale = errors.New("stale program binary")

// Check returns nil for a binary that was not stamped, or whose sources are those under the
// root (RootEnv, default the working directory); otherwise an error wrapping ErrStale that
// says how to rebuild.
func Check() error {
	if Digest == "" {
		return nil
	}
	root := os.Getenv(RootEnv)
	if root == "" {
		root = "."
	}
	inputs, err := ParseInputs(Inputs)
	if err != nil {
		return err
	}
	got, err := Compute(root, inputs)
	if err != nil {
		return fmt.Errorf("%w: its sources cannot be read under %s (%v): run `%s` in the checkout", ErrStale, root, err, RebuildCommand)
	}
	if got != Digest {
		return fmt.Errorf("%w: this program binary was built from other sources than those in %s (a pull or an edit since it was built): run `%s`, or run the program through tools/program.sh, which rebuilds it", ErrStale, absOr(root), RebuildCommand)
	}
	return nil
}

func absOr(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// main module packages and their embedded files, as `go list -deps -json` prints them.
type goPackage struct {
	Dir        string
	EmbedFiles []string
	Module     *struct{ Main bool }
}

// InputsFromGoList turns `go list -deps -json <pkg>` output for the module at root into the
// build's inputs: every main-module package directory ('g'), every directory of embedded files
// outside it ('a') or embedded file inside it ('f'), and go.mod and go.sum.
func InputsFromGoList(root string, goListJSON []byte) ([]Input, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	inputs := []Input{{'f', "go.mod"}, {'f', "go.sum"}}
	add := func(in Input) {
		if !seen[in.String()] {
			seen[in.String()] = true
			inputs = append(inputs, in)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(goListJSON)) // go list -json: one value per package
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			return nil, err
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			return nil, err
		}
		add(Input{'g', filepath.ToSlash(rel)})
		for _, e := range p.EmbedFiles {
			dir := filepath.Dir(e)
			if dir == "." {
				add(Input{'f', filepath.ToSlash(filepath.Join(rel, e))})
			} else {
				add(Input{'a', filepath.ToSlash(filepath.Join(rel, dir))})
			}
		}
	}
	if len(inputs) == 2 {
		return nil, errors.New("buildstamp: go list found no package of the main module")
	}
	return inputs, nil
}

// Join is the Inputs form of inputs.
func Join(inputs []Input) string {
	var b bytes.Buffer
	for i, in := range inputs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(in.String())
	}
	return b.String()
}
