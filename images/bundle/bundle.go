// Package bundle is a site's images for a closed network: one docker-archive tarball per
// image (both containerd, through K3s' agent/images directory, and `docker load` read it),
// a manifest.json that says what each file is and where it goes, and SHA256SUMS
// (`sha256sum -c SHA256SUMS` checks a copy by hand).
package bundle

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Image is one image of the bundle.
type Image struct {
	// Ref is the reference the site deploys.
	Ref string `json:"ref"`
	// For names what runs it.
	For string `json:"for"`
	// Runtime is "cluster" (imported by containerd on every node) or "docker" (loaded on
	// the compose host).
	Runtime string `json:"runtime"`
	// File is the tarball, relative to the bundle directory (<runtime>/<name>.tar).
	File string `json:"file"`
	// SHA256 and Size of File.
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Manifest is manifest.json.
type Manifest struct {
	Site   string  `json:"site"`
	Images []Image `json:"images"`
}

// Files of a bundle directory.
const (
	ManifestFile = "manifest.json"
	SumsFile     = "SHA256SUMS"
)

// Copier writes one image to a docker-archive tarball.
type Copier interface {
	Copy(ctx context.Context, ref, file string, log io.Writer) error
}

// NewCopier is skopeo or docker. Images from registry (the site's) use plain HTTP when
// plainHTTP is set.
func NewCopier(tool, registry string, plainHTTP bool) (Copier, error) {
	switch tool {
	case "skopeo":
		return skopeo{registry: registry, plainHTTP: plainHTTP}, nil
	case "docker":
		return docker{}, nil
	}
	return nil, fmt.Errorf("--tool %q: use skopeo or docker", tool)
}

type skopeo struct {
	registry  string
	plainHTTP bool
}

// SkopeoArgs is the exact command line that copies ref into file: no credential on it
// (skopeo reads its login from its auth file: `skopeo login`, or REGISTRY_AUTH_FILE).
func SkopeoArgs(ref, file, registry string, plainHTTP bool) []string {
	args := []string{"copy", "--quiet"}
	if plainHTTP && strings.HasPrefix(ref, registry+"/") {
		args = append(args, "--src-tls-verify=false")
	}
	return append(args, "docker://"+ref, "docker-archive:"+file+":"+ref)
}

func (s skopeo) Copy(ctx context.Context, ref, file string, log io.Writer) error {
	return runTool(ctx, log, "skopeo", SkopeoArgs(ref, file, s.registry, s.plainHTTP)...)
}

type docker struct{}

func (docker) Copy(ctx context.Context, ref, file string, log io.Writer) error {
	if err := runTool(ctx, log, "docker", "pull", "--quiet", ref); err != nil {
		return err
	}
	return runTool(ctx, log, "docker", "save", "--output", file, ref)
}

func runTool(ctx context.Context, log io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// FileName is the tarball's name for a reference: readable and unique per reference.
func FileName(ref string) string {
	return unsafeChars.ReplaceAllString(ref, "_") + ".tar"
}

// FilePath is where an image's tarball is in a bundle: <runtime>/<FileName(ref)>, slash-separated
// (manifest.json's file).
func FilePath(runtime, ref string) string { return runtime + "/" + FileName(ref) }

// Write copies every image into dir (created) and writes the manifest and the sums. A file
// is written under a temporary name and renamed, so an interrupted run leaves no half
// tarball under a real name.
func Write(ctx context.Context, dir, site string, images []Image, c Copier, log io.Writer) (*Manifest, error) {
	m := &Manifest{Site: site}
	seen := map[string]bool{}
	for _, im := range images {
		if seen[im.Ref] {
			continue // an image two things run is carried once
		}
		seen[im.Ref] = true
		im.File = FilePath(im.Runtime, im.Ref)
		path := filepath.Join(dir, im.File)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		tmp := path + ".partial"
		_ = os.Remove(tmp)
		fmt.Fprintf(log, "copy %s\n", im.Ref)
		if err := c.Copy(ctx, im.Ref, tmp, log); err != nil {
			return nil, fmt.Errorf("image %s (for %s): %w", im.Ref, im.For, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, err
		}
		sum, size, err := FileSHA256(path)
		if err != nil {
			return nil, err
		}
		im.SHA256, im.Size = sum, size
		m.Images = append(m.Images, im)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	var sums strings.Builder
	for _, im := range m.Images {
		fmt.Fprintf(&sums, "%s  %s\n", im.SHA256, im.File)
	}
	return m, os.WriteFile(filepath.Join(dir, SumsFile), []byte(sums.String()), 0o644)
}

// Read loads a bundle directory and checks it: every file the manifest names exists, its
// digest matches the manifest and SHA256SUMS, and nothing is listed twice.
func Read(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	sums, err := readSums(filepath.Join(dir, SumsFile))
	if err != nil {
		return nil, err
	}
	var problems []string
	files := map[string]bool{}
	for _, im := range m.Images {
		switch {
		case im.Runtime != "cluster" && im.Runtime != "docker":
			problems = append(problems, fmt.Sprintf("%s: runtime %q", im.Ref, im.Runtime))
			continue
		case files[im.File] || im.File == "" || strings.Contains(im.File, "..") || filepath.IsAbs(im.File):
			problems = append(problems, fmt.Sprintf("%s: file %q", im.Ref, im.File))
			continue
		case sums[im.File] != im.SHA256:
			problems = append(problems, fmt.Sprintf("%s: %s says %q, the manifest %q", im.File, SumsFile, sums[im.File], im.SHA256))
			continue
		}
		files[im.File] = true
		got, _, err := FileSHA256(filepath.Join(dir, im.File))
		if err != nil {
			problems = append(problems, err.Error())
		} else if got != im.SHA256 {
			problems = append(problems, fmt.Sprintf("%s: sha256 %s, want %s (a damaged copy: copy the bundle again)", im.File, got, im.SHA256))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return &m, nil
}

func readSums(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, file, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			return nil, fmt.Errorf("%s: line %q is not \"<sha256>  <file>\"", SumsFile, sc.Text())
		}
		out[file] = sum
	}
	return out, sc.Err()
}

// FileSHA256 is the hex SHA-256 and the size of a file.
func FileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
