package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// minio: `minio server DIR [--console-address ADDR]`.
func minio(args []string) error {
	if len(args) > 0 && args[0] == "minio" { // the image's entrypoint may be given its own name
		args = args[1:]
	}
	if len(args) < 2 || args[0] != "server" {
		return fmt.Errorf("minio (stand-in): usage: minio server DIR [--console-address ADDR], got %v", args)
	}
	dir := args[1]
	key, secret := os.Getenv("MINIO_ROOT_USER"), os.Getenv("MINIO_ROOT_PASSWORD")
	if len(key) < 3 || len(secret) < 8 {
		return errors.New("minio (stand-in): MINIO_ROOT_USER (3 characters or more) and MINIO_ROOT_PASSWORD (8 or more) must be set")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s := &s3{dir: dir, key: key, secret: secret}
	srv := &http.Server{Addr: ":9000", Handler: s}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
		_ = srv.Close()
	}()
	fmt.Println("minio stand-in: S3 API on :9000, data in", dir)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type s3 struct{ dir, key, secret string }

type s3Error struct {
	XMLName xml.Name `xml:"Error"`
	Code    string
	Message string
}

func s3Fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(s3Error{Code: code, Message: msg})
}

func (s *s3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/minio/health/") {
		return // live, ready: 200
	}
	if err := verify(r, s.key, s.secret); err != nil {
		code := "SignatureDoesNotMatch"
		if errors.Is(err, errAccessKey) {
			code = "InvalidAccessKeyId"
		}
		s3Fail(w, http.StatusForbidden, code, err.Error())
		return
	}
	path, _ := url.PathUnescape(r.URL.EscapedPath())
	bucket, key, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if strings.Contains(bucket, "..") || strings.Contains(key, "..") {
		s3Fail(w, http.StatusBadRequest, "InvalidArgument", "bad path")
		return
	}
	switch {
	case bucket == "" && r.Method == http.MethodGet:
		s.listBuckets(w)
	case key == "":
		s.bucketCall(w, r, bucket)
	default:
		s.objectCall(w, r, bucket, key)
	}
}

func (s *s3) listBuckets(w http.ResponseWriter) {
	type bucket struct{ Name, CreationDate string }
	var out struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		Buckets []bucket `xml:"Buckets>Bucket"`
	}
	entries, _ := os.ReadDir(s.dir)
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			info, _ := e.Info()
			out.Buckets = append(out.Buckets, bucket{e.Name(), info.ModTime().UTC().Format(time.RFC3339)})
		}
	}
	w.Header().Set("Content-Type", "application/xml")
	_ = xml.NewEncoder(w).Encode(out)
}

func (s *s3) bucketCall(w http.ResponseWriter, r *http.Request, bucket string) {
	dir := filepath.Join(s.dir, bucket)
	_, statErr := os.Stat(dir)
	exists := statErr == nil
	switch r.Method {
	case http.MethodPut:
		if exists {
			s3Fail(w, http.StatusConflict, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.")
			return
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			s3Fail(w, http.StatusInternalServerError, "InternalError", err.Error())
		}
	case http.MethodHead:
		if !exists {
			w.WriteHeader(http.StatusNotFound)
		}
	case http.MethodDelete:
		if err := os.Remove(dir); err != nil {
			s3Fail(w, http.StatusConflict, "BucketNotEmpty", err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		if !exists {
			s3Fail(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
			return
		}
		s.listObjects(w, dir, bucket, r.URL.Query().Get("prefix"))
	default:
		s3Fail(w, http.StatusNotImplemented, "NotImplemented", r.Method+" on a bucket")
	}
}

func (s *s3) listObjects(w http.ResponseWriter, dir, bucket, prefix string) {
	type object struct {
		Key          string
		LastModified string
		Size         int64
	}
	var out struct {
		XMLName  xml.Name `xml:"ListBucketResult"`
		Name     string
		Prefix   string
		KeyCount int
		Contents []object
	}
	out.Name, out.Prefix = bucket, prefix
	var keys []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			if strings.HasPrefix(rel, prefix) {
				keys = append(keys, rel)
			}
		}
		return nil
	})
	sort.Strings(keys)
	for _, k := range keys {
		info, _ := os.Stat(filepath.Join(dir, k))
		out.Contents = append(out.Contents, object{k, info.ModTime().UTC().Format(time.RFC3339), info.Size()})
	}
	out.KeyCount = len(keys)
	w.Header().Set("Content-Type", "application/xml")
	_ = xml.NewEncoder(w).Encode(out)
}

func (s *s3) objectCall(w http.ResponseWriter, r *http.Request, bucket, key string) {
	if _, err := os.Stat(filepath.Join(s.dir, bucket)); err != nil {
		s3Fail(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
		return
	}
	p := filepath.Join(s.dir, bucket, filepath.FromSlash(key))
	switch r.Method {
	case http.MethodPut:
		data, err := io.ReadAll(r.Body)
		if err == nil && sha256Hex(data) != r.Header.Get("X-Amz-Content-Sha256") && r.Header.Get("X-Amz-Content-Sha256") != "UNSIGNED-PAYLOAD" {
			err = errors.New("the payload's SHA-256 is not the signed one")
		}
		if err == nil {
			err = os.MkdirAll(filepath.Dir(p), 0o755)
		}
		if err == nil {
			err = os.WriteFile(p, data, 0o644)
		}
		if err != nil {
			s3Fail(w, http.StatusBadRequest, "BadDigest", err.Error())
			return
		}
		w.Header().Set("ETag", `"`+sha256Hex(data)[:32]+`"`)
	case http.MethodGet, http.MethodHead:
		data, err := os.ReadFile(p)
		if err != nil {
			s3Fail(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
			return
		}
		http.ServeContent(w, r, key, time.Time{}, bytes.NewReader(data))
	case http.MethodDelete:
		_ = os.Remove(p)
		w.WriteHeader(http.StatusNoContent)
	default:
		s3Fail(w, http.StatusNotImplemented, "NotImplemented", r.Method+" on an object")
	}
}
