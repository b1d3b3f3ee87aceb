// Command stamp builds the Pulumi program into a binary that carries the digest of its sources
// (package buildstamp). Run from the module root, by tools/program.sh or `make build`:
//
//	go run ./internal/buildstamp/stamp -o .build/xgen-infra
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"xgen-infra/internal/buildstamp"
)

func main() {
	out := flag.String("o", filepath.Join(".build", "xgen-infra"), "the binary to write")
	flag.Parse()
	if err := build(*out); err != nil {
		fmt.Fprintln(os.Stderr, "stamp:", err)
		os.Exit(1)
	}
}

func build(out string) error {
	list := exec.Command("go", "list", "-deps", "-json=Dir,EmbedFiles,Module", ".")
	list.Stderr = os.Stderr
	data, err := list.Output()
	if err != nil {
		return fmt.Errorf("go list: %w", err)
	}
	inputs, err := buildstamp.InputsFromGoList(".", data)
	if err != nil {
		return err
	}
	// The digest is taken before the build: an edit during the build makes the binary stale,
	// never a stale binary look current.
	digest, err := buildstamp.Compute(".", inputs)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	// A file of its own: two previews may rebuild at once; the rename is atomic.
	f, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	const pkg = "xgen-infra/internal/buildstamp"
	gobuild := exec.Command("go", "build", "-o", tmp, "-ldflags",
		fmt.Sprintf("-s -w -X %s.Digest=%s -X %s.Inputs=%s", pkg, digest, pkg, buildstamp.Join(inputs)), ".")
	gobuild.Stdout, gobuild.Stderr = os.Stderr, os.Stderr
	if err := gobuild.Run(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("go build: %w", err)
	}
	return os.Rename(tmp, out)
}
