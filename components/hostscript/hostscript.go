// Package hostscript builds the exact command text that runs on a host over SSH, k3sup style:
// pure functions of their inputs, tested on exact output, kept apart from the code that
// runs them. A command is "set -eu", the parameters as shell assignments (HOST and LOG_TAG
// first), the common scripts/lib.sh, the component's own lib.sh (if it has one) and the
// script. Scripts live in embedded .sh files and pass shellcheck; no secret is ever a
// parameter: secrets reach a host on standard input.
package hostscript

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"
)

//go:embed scripts/*.sh
var common embed.FS

// Param is one script parameter.
type Param struct{ Name, Value string }

// Set is one component's scripts: its embedded scripts/*.sh (scripts/lib.sh, when present,
// comes after the common lib) and the tag its log lines carry.
type Set struct {
	// FS holds scripts/<name>.sh.
	FS embed.FS
	// Tag prefixes every log line, e.g. "xgen-k3s" (lines read "xgen-k3s[host]: ...").
	Tag string
}

// Command returns the command text of scripts/<name>.sh (the component's, else a common
// one such as write-file) for host with params. It panics on a name no file has: the
// scripts are embedded at build time and the builders name them as constants.
func (s Set) Command(name, host string, params ...Param) string {
	body, err := s.FS.ReadFile("scripts/" + name + ".sh")
	if err != nil {
		if body, err = common.ReadFile("scripts/" + name + ".sh"); err != nil {
			panic(fmt.Sprintf("hostscript: no script %s", name))
		}
	}
	lib, _ := common.ReadFile("scripts/lib.sh")
	own, _ := s.FS.ReadFile("scripts/lib.sh") // optional
	var b strings.Builder
	b.WriteString("set -eu\n")
	fmt.Fprintf(&b, "HOST=%s\nLOG_TAG=%s\n", Quote(host), Quote(s.Tag))
	for _, p := range params {
		fmt.Fprintf(&b, "%s=%s\n", p.Name, Quote(p.Value))
	}
	b.Write(lib)
	b.Write(own)
	b.Write(body)
	return b.String()
}

// Names lists the component's scripts and the common ones (without lib), for tests.
func (s Set) Names() []string {
	var names []string
	for _, f := range []embed.FS{s.FS, common} {
		entries, _ := fs.ReadDir(f, "scripts")
		for _, e := range entries {
			if n := strings.TrimSuffix(e.Name(), ".sh"); n != "lib" {
				names = append(names, n)
			}
		}
	}
	return names
}

// Quote quotes s for POSIX sh.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// Generation is a short digest of the values that identify one generation of a resource
// that carries a delete script: when any of them changes the resource is replaced, and the
// old generation's delete must not act on what the new one owns.
func Generation(values ...string) string {
	h := sha256.Sum256([]byte(strings.Join(values, "\x00")))
	return hex.EncodeToString(h[:8])
}

// WriteFile writes standard input to target as root with mode (e.g. "0600").
func (s Set) WriteFile(host, target, mode string) string {
	return s.Command("write-file", host, Param{"TARGET", target}, Param{"MODE", mode})
}

// StagedFile is a local file on its way to a host: uploaded to Staged, a path named by its
// digest (a new build is a new upload; an old file is never half-overwritten), then placed
// or loaded under Name by a host script.
type StagedFile struct {
	Name, SHA256, Staged string
}

// StagedPath is where a file is uploaded: prefix-<first 12 of sha>-name.
func StagedPath(prefix, name, sha string) string { return prefix + "-" + sha[:12] + "-" + name }

// StagedFilesParam is the host scripts' IMAGES parameter: "sha name staged" per line.
func StagedFilesParam(files []StagedFile) Param {
	lines := make([]string, len(files))
	for i, f := range files {
		lines[i] = f.SHA256 + " " + f.Name + " " + f.Staged
	}
	return Param{Name: "IMAGES", Value: strings.Join(lines, "\n")}
}
