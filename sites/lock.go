package sites

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"xgen-infra/images/bundle"
)

// A closed-network stack's folders (cluster.k3s.artifacts: K3s' release files;
// cluster.k3s.imageBundle: every image the site runs) are large and live only on the machine
// that runs `pulumi up` for it; git ignores them. What identifies them is committed beside
// the stack file instead, in Pulumi.<stack>.lock.json: their files' digests (and the K3s
// release's image list). With it, every other machine parses, renders, previews and checks the
// stack from the lock alone; where a folder is present it must match the lock; `pulumi up`
// needs the folders (it uploads them) and refuses without them.

// LockFileName is the stack's lock file, in the project directory.
func LockFileName(stack string) string { return "Pulumi." + stack + ".lock.json" }

// Lock is what identifies a stack's air-gapped folders.
type Lock struct {
	// Placeholder says the digests are not real files' yet: the stack was committed before
	// its folders were built. A preview works from it; with the folders present, they do not
	// match it (run `go run ./cmd/images lock` where they are).
	Placeholder bool `json:"placeholder,omitempty"`
	// K3s identifies cluster.k3s.artifacts.
	K3s *K3sLock `json:"k3s,omitempty"`
	// ImageBundle identifies cluster.k3s.imageBundle: its manifest (each image's file and digest).
	ImageBundle *BundleLock `json:"imageBundle,omitempty"`
}

// K3sLock is the K3s release files of an air-gapped install.
type K3sLock struct {
	// Dir is the folder it identifies (cluster.k3s.artifacts); a stack pointed at another
	// folder is not held to this lock.
	Dir    string   `json:"dir"`
	Binary FileLock `json:"binary"`
	Images FileLock `json:"images"`
	// ImageList is the release's k3s-images.txt (K3s' own images), when it has one.
	ImageList []string `json:"imageList,omitempty"`
}

// FileLock is one file and its SHA-256 (hex).
type FileLock struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// BundleLock is an image bundle: its folder (cluster.k3s.imageBundle) and manifest.
type BundleLock struct {
	Dir    string         `json:"dir"`
	Images []bundle.Image `json:"images"`
}

// ReadLock reads the stack's lock file from dir; nil without one.
func ReadLock(dir, stack string) (*Lock, error) {
	path := filepath.Join(dir, LockFileName(stack))
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l Lock
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%s: %w", LockFileName(stack), err)
	}
	return &l, nil
}

// WriteLock writes the stack's lock file into dir.
func WriteLock(dir, stack string, l *Lock) error {
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, LockFileName(stack)), append(data, '\n'), 0o644)
}

// LockOf reads the stack's air-gapped folders (they must be present and check out) as a lock.
func LockOf(s *Site) (*Lock, error) {
	cl := s.Config.Cluster
	if cl == nil || cl.K3s.Install != "airgapped" {
		return nil, fmt.Errorf("site %s is not air-gapped (cluster.k3s.install): it has no folders to lock", s.Name)
	}
	l := &Lock{}
	a, err := ReadArtifacts(cl.K3s.Artifacts)
	if err != nil {
		return nil, fmt.Errorf("%s.cluster.k3s.artifacts %s: %w", SiteKey, cl.K3s.Artifacts, err)
	}
	l.K3s = &K3sLock{Dir: cl.K3s.Artifacts, Binary: FileLock{File: filepath.Base(a.Binary), SHA256: a.BinarySHA256},
		Images: FileLock{File: filepath.Base(a.Images), SHA256: a.ImagesSHA256}, ImageList: a.ImageList}
	if dir := cl.K3s.ImageBundle; dir != "" {
		m, err := bundle.Read(dir)
		if err != nil {
			return nil, fmt.Errorf("%s.cluster.k3s.imageBundle %s: %w", SiteKey, dir, err)
		}
		l.ImageBundle = &BundleLock{Dir: dir, Images: m.Images}
	}
	return l, nil
}

// PlaceholderLock is a lock for a stack whose folders are not built yet: the files K3s' release
// has and the images the site runs, with zero digests. Preview, render and status work from it;
// the real lock replaces it where the folders are built (`go run ./cmd/images lock`).
func PlaceholderLock(s *Site) (*Lock, error) {
	cl := s.Config.Cluster
	if cl == nil || cl.K3s.Install != "airgapped" {
		return nil, fmt.Errorf("site %s is not air-gapped (cluster.k3s.install): it has no folders to lock", s.Name)
	}
	zero := strings.Repeat("0", 64)
	l := &Lock{Placeholder: true, K3s: &K3sLock{Dir: cl.K3s.Artifacts, Binary: FileLock{File: "k3s", SHA256: zero},
		Images: FileLock{File: ArtifactImageNames[0], SHA256: zero}}}
	if dir := cl.K3s.ImageBundle; dir != "" {
		images, err := s.Images()
		if err != nil {
			return nil, err
		}
		bl := &BundleLock{Dir: dir}
		for _, im := range images {
			if im.For != ForK3s {
				bl.Images = append(bl.Images, bundle.Image{Ref: im.Ref, For: im.For, Runtime: im.Runtime,
					File: bundle.FilePath(im.Runtime, im.Ref), SHA256: zero})
			}
		}
		l.ImageBundle = bl
	}
	return l, nil
}

// closedInputs resolves the air-gapped folders of the site: read and checked where they are
// on this machine (and against the lock, when it is about that folder), else taken from the
// lock, which `pulumi up` then refuses (AbsentInputs).
func closedInputs(s *Site, projectDir string) Problems {
	cl := s.Config.Cluster
	if cl == nil || cl.K3s.Install != "airgapped" {
		return nil
	}
	p := &problemList{prefix: SiteKey}
	lockName := LockFileName(s.Name)
	relock := fmt.Sprintf("go run ./cmd/images lock --stack %s", s.Name)
	lock, err := ReadLock(projectDir, s.Name)
	if err != nil {
		p.add("cluster.k3s", nil, "%v; write it again where the folders are: %s", err, relock)
		return p.list
	}
	if lock == nil {
		lock = &Lock{}
	}
	// Relative folder paths are the project's.
	resolve := func(dir string) string {
		if filepath.IsAbs(dir) {
			return dir
		}
		return filepath.Join(projectDir, dir)
	}
	present := func(dir string) bool {
		st, err := os.Stat(resolve(dir))
		return err == nil && st.IsDir()
	}

	dir := cl.K3s.Artifacts
	locked := lock.K3s
	if locked != nil && filepath.Clean(locked.Dir) != filepath.Clean(dir) {
		locked = nil // the lock is about another folder
	}
	switch {
	case present(dir):
		a, err := ReadArtifacts(resolve(dir))
		if err != nil {
			p.add("cluster.k3s.artifacts", dir, "%v", err)
			break
		}
		if locked != nil && (locked.Binary.SHA256 != a.BinarySHA256 || locked.Images.SHA256 != a.ImagesSHA256 || locked.Images.File != filepath.Base(a.Images)) {
			p.add("cluster.k3s.artifacts", dir, "does not match %s (its files are not the ones committed): if these are the release files to install, run %s and commit the lock; else put the locked files there", lockName, relock)
			break
		}
		s.Artifacts = a
	case locked != nil:
		abs, _ := filepath.Abs(resolve(dir))
		s.Artifacts = &Artifacts{Binary: filepath.Join(abs, locked.Binary.File), BinarySHA256: locked.Binary.SHA256,
			Images: filepath.Join(abs, locked.Images.File), ImagesSHA256: locked.Images.SHA256, ImageList: locked.ImageList}
		s.AbsentInputs = append(s.AbsentInputs, "cluster.k3s.artifacts "+dir)
	default:
		p.add("cluster.k3s.artifacts", dir, "is not on this machine and %s does not identify it: put the K3s release files there (k3s, %s, sha256sum-amd64.txt), then run %s and commit the lock",
			lockName, ArtifactImageNames[0], relock)
	}

	if dir := cl.K3s.ImageBundle; dir != "" {
		lockedBundle := lock.ImageBundle
		if lockedBundle != nil && filepath.Clean(lockedBundle.Dir) != filepath.Clean(dir) {
			lockedBundle = nil
		}
		switch {
		case present(dir):
			m, err := bundle.Read(resolve(dir))
			if err != nil {
				p.add("cluster.k3s.imageBundle", dir, "is not a usable image bundle (%v); write it again with `go run ./cmd/images bundle --stack %s --out %s`", err, s.Name, dir)
				break
			}
			if lockedBundle != nil && !sameImages(lockedBundle.Images, m.Images) {
				p.add("cluster.k3s.imageBundle", dir, "does not match %s (its images are not the ones committed): if this is the bundle to install, run %s and commit the lock; else put the locked bundle there", lockName, relock)
				break
			}
			s.ImageBundle = m
		case lockedBundle != nil:
			s.ImageBundle = &bundle.Manifest{Site: s.Name, Images: lockedBundle.Images}
			s.AbsentInputs = append(s.AbsentInputs, "cluster.k3s.imageBundle "+dir)
		default:
			p.add("cluster.k3s.imageBundle", dir, "is not on this machine and %s does not identify it: write it with `go run ./cmd/images bundle --stack %s --out %s`, then run %s and commit the lock",
				lockName, s.Name, dir, relock)
		}
	}
	if len(p.list) == 0 && lock.Placeholder && len(s.AbsentInputs) > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s holds placeholder digests: build the folders on the machine that runs `pulumi up`, then run %s and commit the lock", lockName, relock))
	}
	if len(p.list) > 0 {
		return p.list
	}
	return checkBundleCoverage(s)
}

// sameImages: the same files with the same digests for the same images, in any order.
func sameImages(a, b []bundle.Image) bool {
	key := func(im bundle.Image) string { return im.Runtime + " " + im.Ref + " " + im.File + " " + im.SHA256 }
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i, im := range a {
		ka[i] = key(im)
	}
	for i, im := range b {
		kb[i] = key(im)
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}
