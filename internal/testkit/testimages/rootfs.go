package testimages

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// rootfs is an image's file system, assembled from this machine's files: what Debian's
// packages installed here (their `dpkg -L` lists), the shared libraries their programs link
// (ldd), and generated files. Paths are the machine's canonical ones (/bin/bash is
// /usr/bin/bash on a merged-/usr Debian); the top-level links (/bin → usr/bin ...) are
// reproduced as they are here.
type rootfs struct {
	entries map[string]*entry // by path without the leading slash
	elfDone map[string]bool
}

type entry struct {
	typ      byte   // tar.TypeReg, tar.TypeSymlink or tar.TypeDir
	src      string // the machine's file (TypeReg without data)
	data     []byte // generated content (TypeReg)
	link     string // TypeSymlink
	mode     int64
	uid, gid int
}

func newRootfs() *rootfs {
	r := &rootfs{entries: map[string]*entry{}, elfDone: map[string]bool{}}
	for _, top := range []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32"} {
		if link, err := os.Readlink("/" + top); err == nil {
			r.entries[top] = &entry{typ: tar.TypeSymlink, link: link, mode: 0o777}
		}
	}
	r.dir("tmp", 0o1777, 0, 0)
	return r
}

// skipped are the parts of a package an image leaves out (as the official images do: no
// documentation, no init scripts or units, no locales but C.UTF-8).
var skipped = []string{"usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/share/lintian/",
	"usr/share/locale/", "etc/init.d/", "lib/systemd/", "usr/lib/systemd/", "etc/logrotate.d/", "etc/default/"}

// pkg adds every file Debian's package pkg installed on this machine (and, for its programs,
// their libraries). except drops files by path prefix.
func (r *rootfs) pkg(name string, except ...string) error {
	out, err := exec.Command("dpkg", "-L", name).Output()
	if err != nil {
		return fmt.Errorf("dpkg -L %s: %w (is the package installed?)", name, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(p, "/") {
			continue
		}
		info, err := os.Lstat(p)
		if err != nil || info.IsDir() {
			continue // a diverted or removed file; directories come with their files
		}
		rel := strings.TrimPrefix(canonical(p), "/")
		if hasPrefix(rel, skipped) || hasPrefix(rel, except) {
			continue
		}
		if err := r.machine(p); err != nil {
			return fmt.Errorf("package %s: %w", name, err)
		}
	}
	return sc.Err()
}

func hasPrefix(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		if strings.HasPrefix(p, strings.TrimPrefix(pre, "/")) {
			return true
		}
	}
	return false
}

// canonical is p with the links in its directory resolved (not p itself: a link stays one).
func canonical(p string) string {
	dir, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return p
	}
	return filepath.Join(dir, filepath.Base(p))
}

// machine adds the machine's file p at its canonical path: a link as a link, with what it
// points at.
func (r *rootfs) machine(p string) error {
	c := canonical(p)
	rel := strings.TrimPrefix(c, "/")
	if _, ok := r.entries[rel]; ok {
		return nil
	}
	info, err := os.Lstat(c)
	if err != nil {
		return err
	}
	switch {
	case info.Mode()&os.ModeSymlink != 0:
		link, err := os.Readlink(c)
		if err != nil {
			return err
		}
		r.entries[rel] = &entry{typ: tar.TypeSymlink, link: link, mode: 0o777}
		target := link
		if !filepath.IsAbs(link) {
			target = filepath.Join(filepath.Dir(c), link)
		}
		if _, err := os.Lstat(target); err == nil {
			return r.machine(target)
		}
		return nil // a dangling link stays as it is
	case info.Mode().IsRegular():
		r.entries[rel] = &entry{typ: tar.TypeReg, src: c, mode: int64(info.Mode().Perm())}
		return nil
	}
	return nil // devices, sockets: not in an image
}

// rel is p's path in the layer: through the image's top-level links (/bin/sh is usr/bin/sh
// where /bin links to usr/bin: Docker does not extract a file through a link).
func (r *rootfs) rel(p string) string {
	rel := strings.TrimPrefix(p, "/")
	top, rest, ok := strings.Cut(rel, "/")
	if e := r.entries[top]; ok && e != nil && e.typ == tar.TypeSymlink && !strings.HasPrefix(e.link, "/") {
		return path.Join(e.link, rest)
	}
	return rel
}

// file adds a generated file.
func (r *rootfs) file(p string, data []byte, mode int64, uid, gid int) {
	r.entries[r.rel(p)] = &entry{typ: tar.TypeReg, data: data, mode: mode, uid: uid, gid: gid}
}

// put adds the machine's file src at p.
func (r *rootfs) put(p, src string, mode int64) {
	r.entries[r.rel(p)] = &entry{typ: tar.TypeReg, src: src, mode: mode}
}

// dir adds a directory with its mode and owner.
func (r *rootfs) dir(p string, mode int64, uid, gid int) {
	r.entries[r.rel(p)] = &entry{typ: tar.TypeDir, mode: mode, uid: uid, gid: gid}
}

// link adds a symbolic link.
func (r *rootfs) link(p, target string) {
	r.entries[r.rel(p)] = &entry{typ: tar.TypeSymlink, link: target, mode: 0o777}
}

// libraries adds the shared libraries (and the dynamic loader) of every ELF file in the image,
// as ldd resolves them on this machine, until nothing new is needed.
func (r *rootfs) libraries() error {
	for {
		var todo []string
		for rel, e := range r.entries {
			if e.typ == tar.TypeReg && e.src != "" && !r.elfDone[rel] {
				r.elfDone[rel] = true
				if isELF(e.src) {
					todo = append(todo, e.src)
				}
			}
		}
		if len(todo) == 0 {
			return nil
		}
		sort.Strings(todo)
		for _, f := range todo {
			out, _ := exec.Command("ldd", f).Output() // "not a dynamic executable": a static one
			for _, line := range strings.Split(string(out), "\n") {
				fields := strings.Fields(line)
				var lib string
				switch {
				case len(fields) >= 3 && fields[1] == "=>" && strings.HasPrefix(fields[2], "/"):
					lib = fields[2]
				case len(fields) >= 1 && strings.HasPrefix(fields[0], "/"):
					lib = fields[0]
				}
				if lib == "" {
					continue
				}
				if err := r.machine(lib); err != nil {
					return fmt.Errorf("%s needs %s: %w", f, lib, err)
				}
				// The name the program asks for (/lib64/ld-linux-x86-64.so.2) may be a link
				// into another directory: the canonical path of that name is in the image.
			}
		}
	}
}

func isELF(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 4)
	_, err = io.ReadFull(f, magic)
	return err == nil && string(magic) == "\x7fELF"
}

// layer writes the file system as one layer tarball to w: sorted, every parent directory
// present, times zero (the same inputs give the same digest).
func (r *rootfs) layer(w io.Writer) error {
	for rel := range r.entries {
		for d := path.Dir(rel); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := r.entries[d]; !ok {
				r.entries[d] = &entry{typ: tar.TypeDir, mode: 0o755}
			}
		}
	}
	names := make([]string, 0, len(r.entries))
	for rel := range r.entries {
		names = append(names, rel)
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	for _, rel := range names {
		e := r.entries[rel]
		h := &tar.Header{Name: rel, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: epoch, Format: tar.FormatPAX}
		switch e.typ {
		case tar.TypeDir:
			h.Name += "/"
		case tar.TypeSymlink:
			h.Linkname = e.link
		case tar.TypeReg:
			if e.src != "" {
				info, err := os.Stat(e.src)
				if err != nil {
					return err
				}
				h.Size = info.Size()
			} else {
				h.Size = int64(len(e.data))
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if e.typ != tar.TypeReg {
			continue
		}
		if e.src == "" {
			if _, err := tw.Write(e.data); err != nil {
				return err
			}
			continue
		}
		f, err := os.Open(e.src)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", e.src, err)
		}
	}
	return tw.Close()
}

// sha256Hex is the hex SHA-256 of data.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
