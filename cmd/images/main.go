// Command images lists the exact images a site runs and writes them as a bundle for a
// closed network. It is not part of the Pulumi program's binary.
//
//	go run ./cmd/images list --stack xgen-jeju            # one line per image
//	go run ./cmd/images bundle --stack lotteimall --out airgap/lotteimall/images
//	go run ./cmd/images lock --stack lotteimall           # Pulumi.lotteimall.lock.json from the folders
//
// The list comes from the same site model the program deploys: the services the site runs
// (never one it does not run), the cluster add-ons, K3s' own images (from the air-gapped
// artifacts' k3s-images.txt) and the compose project's images.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"

	"xgen-infra/images/bundle"
	"xgen-infra/sites"
)

const usage = `usage: images list|bundle|lock --stack <site> [flags]

  list     the site's images: runtime (cluster: containerd on every node; docker: the
           compose host), reference, and what runs it
  bundle   copy them into --out as docker-archive tarballs with manifest.json and SHA256SUMS
           (skopeo, or docker with --tool docker); registry logins are the tool's own
           (skopeo login / docker login): no password on this command line
  lock     write Pulumi.<site>.lock.json from the site's air-gapped folders (cluster.k3s.artifacts
           and imageBundle, every file checked): commit it, and every other machine previews,
           renders and checks the site without the folders; --placeholder writes one with zero
           digests for folders not built yet

flags:
`

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "the Pulumi project directory (holds Pulumi.<stack>.yaml)")
	stack := fs.String("stack", "", "the site's stack")
	asJSON := fs.Bool("json", false, "list: print JSON")
	out := fs.String("out", "", "bundle: the directory to write (created)")
	tool := fs.String("tool", "skopeo", "bundle: skopeo or docker")
	placeholder := fs.Bool("placeholder", false, "lock: zero digests, for folders not built yet")
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	var cmd string
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cmd == "" && fs.NArg() > 0 {
		cmd = fs.Arg(0)
	}
	if *stack == "" || (cmd != "list" && cmd != "bundle" && cmd != "lock") {
		fs.Usage()
		return 2
	}
	if *out != "" {
		abs, err := filepath.Abs(*out) // relative to where the command was run
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		*out = abs
	}
	if cmd == "lock" {
		return lock(*dir, *stack, *placeholder, stdout, stderr)
	}
	list, site, err := siteImages(*dir, *stack)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	switch cmd {
	case "list":
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(list); err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			return 0
		}
		printList(stdout, list)
	case "bundle":
		if *out == "" {
			fmt.Fprintln(stderr, "bundle needs --out <dir>")
			return 2
		}
		copier, err := bundle.NewCopier(*tool, site.Config.Image.Registry, site.Config.Image.RegistryPlainHTTP)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		var wanted []bundle.Image
		for _, im := range list {
			if im.For == sites.ForK3s {
				continue // in the K3s release's air-gap tarball (cluster.k3s.artifacts)
			}
			wanted = append(wanted, bundle.Image{Ref: im.Ref, For: im.For, Runtime: im.Runtime})
		}
		m, err := bundle.Write(ctx, *out, *stack, wanted, copier, stderr)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%d images of %s in %s (manifest.json, SHA256SUMS)\n", len(m.Images), *stack, *out)
	}
	return 0
}

// siteImages loads a stack file as the program would (secrets not read: the list needs
// none; relative paths from the project directory, as under Pulumi) and returns its
// images. The stack's own cluster.k3s.imageBundle is left out: it is what `bundle` writes,
// and a bundle that lacks a new image must not stop the command that writes it again.
func siteImages(dir, stack string) ([]sites.SiteImage, *sites.Site, error) {
	stackFile := filepath.Join(dir, "Pulumi."+stack+".yaml")
	f, err := sites.ReadStackFile(stackFile)
	if err != nil {
		return nil, nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(f.Config[sites.SiteKey]), &raw); err != nil {
		return nil, nil, fmt.Errorf("%s: %s: %w", stackFile, sites.SiteKey, err)
	}
	if cl, ok := raw["cluster"].(map[string]any); ok {
		if k3s, ok := cl["k3s"].(map[string]any); ok {
			delete(k3s, "imageBundle")
		}
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, nil, err
	}
	f.Config[sites.SiteKey] = string(data)
	wd, err := os.Getwd()
	if err != nil {
		return nil, nil, err
	}
	if err := os.Chdir(dir); err != nil {
		return nil, nil, err
	}
	defer func() { _ = os.Chdir(wd) }()
	f.Dir = "." // the project's, now the working directory
	site, err := sites.ParseWithoutSecrets(stack, f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", stackFile, err)
	}
	list, err := site.Images()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", stackFile, err)
	}
	return list, site, nil
}

// lock writes the stack's lock file from its folders (read and checked), or a placeholder.
func lock(dir, stack string, placeholder bool, stdout, stderr io.Writer) int {
	stackFile := filepath.Join(dir, "Pulumi."+stack+".yaml")
	f, err := sites.ReadStackFile(stackFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := os.Chdir(dir); err != nil { // the folders' paths are the project's
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer func() { _ = os.Chdir(wd) }()
	f.Dir = "." // the project's, now the working directory
	site, err := sites.ParseForLock(stack, f)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", stackFile, err)
		return 1
	}
	var l *sites.Lock
	if placeholder {
		l, err = sites.PlaceholderLock(site)
	} else {
		l, err = sites.LockOf(site)
	}
	if err == nil {
		err = sites.WriteLock(".", stack, l)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	images := 0
	if l.ImageBundle != nil {
		images = len(l.ImageBundle.Images)
	}
	fmt.Fprintf(stdout, "%s: K3s %s and %d bundled images%s; commit it\n", sites.LockFileName(stack),
		site.Config.Cluster.K3s.Version, images, map[bool]string{true: " (placeholder digests)"}[placeholder])
	return 0
}

func printList(w io.Writer, list []sites.SiteImage) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUNTIME\tIMAGE\tFOR")
	for _, im := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", im.Runtime, im.Ref, im.For)
	}
	_ = tw.Flush()
}
