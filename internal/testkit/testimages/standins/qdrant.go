package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

const (
	qdrantStorage   = "/qdrant/storage"
	qdrantSnapshots = "/qdrant/snapshots"
)

type qdrantServer struct {
	mu sync.Mutex
}

func qdrant(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("qdrant (stand-in): no arguments expected, got %v", args)
	}
	for _, d := range []string{qdrantStorage + "/collections", qdrantSnapshots} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// gRPC's port: published by the project, used by nothing we test; it accepts and closes.
	grpc, err := net.Listen("tcp", ":6334")
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := grpc.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	s := &qdrantServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, map[string]any{"title": "qdrant - vector search engine (xgen-infra test stand-in)", "version": "1.13.4"})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "healthz check passed") })
	mux.HandleFunc("GET /collections", s.list)
	mux.HandleFunc("PUT /collections/{name}", s.create)
	mux.HandleFunc("PUT /collections/{name}/points", s.upsert)
	mux.HandleFunc("POST /collections/{name}/points/count", s.count)
	mux.HandleFunc("POST /snapshots", s.snapshot)
	mux.HandleFunc("GET /snapshots/{name}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(qdrantSnapshots, filepath.Base(r.PathValue("name"))))
	})
	mux.HandleFunc("DELETE /snapshots/{name}", func(w http.ResponseWriter, r *http.Request) {
		if err := os.Remove(filepath.Join(qdrantSnapshots, filepath.Base(r.PathValue("name")))); err != nil {
			fail(w, http.StatusNotFound, err)
			return
		}
		reply(w, true)
	})
	mux.HandleFunc("POST /snapshots/upload", s.upload)
	fmt.Println("qdrant stand-in: listening on :6333")
	return http.ListenAndServe(":6333", mux)
}

func reply(w http.ResponseWriter, result any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"result": result, "status": "ok", "time": 0.0})
}

func fail(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": map[string]any{"error": err.Error()}})
}

func collectionDir(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
		return "", fmt.Errorf("bad collection name %q", name)
	}
	return filepath.Join(qdrantStorage, "collections", name), nil
}

func (s *qdrantServer) list(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, _ := os.ReadDir(filepath.Join(qdrantStorage, "collections"))
	out := []map[string]string{}
	for _, e := range entries {
		out = append(out, map[string]string{"name": e.Name()})
	}
	reply(w, map[string]any{"collections": out})
}

func (s *qdrantServer) create(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir, err := collectionDir(r.PathValue("name"))
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	if _, err := os.Stat(dir); err == nil {
		fail(w, http.StatusConflict, fmt.Errorf("collection %s already exists", r.PathValue("name")))
		return
	}
	config, _ := io.ReadAll(r.Body)
	if err := os.MkdirAll(dir, 0o755); err == nil {
		err = os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644)
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	reply(w, true)
}

// existing is the directory of the request's collection; a missing one is answered 404.
func existing(w http.ResponseWriter, r *http.Request) (string, bool) {
	dir, err := collectionDir(r.PathValue("name"))
	if err == nil {
		_, err = os.Stat(dir)
	}
	if err != nil {
		fail(w, http.StatusNotFound, fmt.Errorf("collection %s: %v", r.PathValue("name"), err))
		return "", false
	}
	return dir, true
}

// points are kept by id, one JSON object per point, in points.json.
func readPoints(dir string) (map[string]json.RawMessage, error) {
	points := map[string]json.RawMessage{}
	data, err := os.ReadFile(filepath.Join(dir, "points.json"))
	if errors.Is(err, os.ErrNotExist) {
		return points, nil
	}
	if err != nil {
		return nil, err
	}
	return points, json.Unmarshal(data, &points)
}

func (s *qdrantServer) upsert(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir, ok := existing(w, r)
	if !ok {
		return
	}
	var body struct {
		Points []map[string]json.RawMessage `json:"points"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	points, err := readPoints(dir)
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	for _, p := range body.Points {
		id := strings.Trim(string(p["id"]), `"`)
		data, _ := json.Marshal(p)
		points[id] = data
	}
	data, _ := json.Marshal(points)
	if err := os.WriteFile(filepath.Join(dir, "points.json"), data, 0o644); err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	reply(w, map[string]any{"operation_id": len(points), "status": "completed"})
}

func (s *qdrantServer) count(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir, ok := existing(w, r)
	if !ok {
		return
	}
	points, err := readPoints(dir)
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	reply(w, map[string]any{"count": len(points)})
}

// snapshot writes the whole storage as a gzipped tarball (a full snapshot).
func (s *qdrantServer) snapshot(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := fmt.Sprintf("full-snapshot-%s.snapshot", time.Now().UTC().Format("2006-01-02-15-04-05.000000"))
	path := filepath.Join(qdrantSnapshots, name)
	if err := writeSnapshot(path); err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	info, _ := os.Stat(path)
	reply(w, map[string]any{"name": name, "size": info.Size(), "creation_time": time.Now().UTC().Format(time.RFC3339)})
}

func writeSnapshot(path string) error {
	f, err := os.Create(path + ".part")
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	var files []string
	_ = filepath.WalkDir(qdrantStorage, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.Contains(p, "/.restore/") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(qdrantStorage, p)
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: int64(len(data))}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".part", path)
}

// upload recovers the storage from a full snapshot (POST /snapshots/upload, field "snapshot").
func (s *qdrantServer) upload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	file, _, err := r.FormFile("snapshot")
	if err != nil {
		fail(w, http.StatusBadRequest, fmt.Errorf("field snapshot: %w", err))
		return
	}
	defer file.Close()
	gz, err := gzip.NewReader(file)
	if err != nil {
		fail(w, http.StatusBadRequest, fmt.Errorf("not a snapshot: %w", err))
		return
	}
	// Staged inside the storage: it is a volume (another file system than the container's).
	staging := filepath.Join(qdrantStorage, ".restore")
	_ = os.RemoveAll(staging)
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || strings.Contains(h.Name, "..") {
			fail(w, http.StatusBadRequest, fmt.Errorf("not a snapshot: %v", err))
			return
		}
		p := filepath.Join(staging, h.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
		data, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
	}
	// The storage is a volume's mount point: its content is replaced, not the directory.
	entries, _ := os.ReadDir(qdrantStorage)
	for _, e := range entries {
		if e.Name() != ".restore" {
			_ = os.RemoveAll(filepath.Join(qdrantStorage, e.Name()))
		}
	}
	restored, _ := os.ReadDir(staging)
	for _, e := range restored {
		if err := os.Rename(filepath.Join(staging, e.Name()), filepath.Join(qdrantStorage, e.Name())); err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
	}
	_ = os.RemoveAll(staging)
	_ = os.MkdirAll(filepath.Join(qdrantStorage, "collections"), 0o755)
	reply(w, true)
}
