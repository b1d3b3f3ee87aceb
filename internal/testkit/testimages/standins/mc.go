package main

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

type alias struct {
	base        *url.URL
	key, secret string
}

// aliasFor reads MC_HOST_<name> (URL with the credentials); "local" is the minio image's own
// server when not set.
func aliasFor(name string) (alias, error) {
	raw := os.Getenv("MC_HOST_" + name)
	if raw == "" && name == "local" {
		raw = "http://127.0.0.1:9000"
	}
	if raw == "" {
		return alias{}, fmt.Errorf("mc: no alias %s (set MC_HOST_%s)", name, name)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return alias{}, fmt.Errorf("mc: MC_HOST_%s: %w", name, err)
	}
	a := alias{base: &url.URL{Scheme: u.Scheme, Host: u.Host}}
	if u.User != nil {
		a.key = u.User.Username()
		a.secret, _ = u.User.Password()
	}
	return a, nil
}

func (a alias) do(method, path string) (*http.Response, error) {
	req, err := http.NewRequest(method, a.base.String()+path, nil)
	if err != nil {
		return nil, err
	}
	if a.key != "" {
		sign(req, a.key, a.secret, nil)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	return client.Do(req)
}

func mc(args []string) error {
	if len(args) == 0 {
		return errors.New("mc (stand-in): usage: mc ready|mb|ls ...")
	}
	switch args[0] {
	case "ready":
		if len(args) != 2 {
			return errors.New("mc: usage: mc ready ALIAS")
		}
		a, err := aliasFor(args[1])
		if err != nil {
			return err
		}
		resp, err := a.do(http.MethodGet, "/minio/health/ready")
		if err != nil {
			return fmt.Errorf("mc: %s is not ready: %w", args[1], err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("mc: %s is not ready: %s", args[1], resp.Status)
		}
		fmt.Printf("The cluster '%s' is ready\n", args[1])
	case "mb":
		ignoreExisting := false
		var targets []string
		for _, a := range args[1:] {
			switch a {
			case "--ignore-existing", "-p":
				ignoreExisting = true
			default:
				targets = append(targets, a)
			}
		}
		for _, t := range targets {
			name, bucket, ok := strings.Cut(t, "/")
			if !ok || bucket == "" {
				return fmt.Errorf("mc: %q is not ALIAS/BUCKET", t)
			}
			a, err := aliasFor(name)
			if err != nil {
				return err
			}
			resp, err := a.do(http.MethodPut, "/"+bucket)
			if err != nil {
				return fmt.Errorf("mc: unable to make bucket `%s`: %w", t, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK:
				fmt.Printf("Bucket created successfully `%s`.\n", t)
			case resp.StatusCode == http.StatusConflict && ignoreExisting:
				fmt.Printf("Bucket `%s` already exists.\n", t)
			default:
				return fmt.Errorf("mc: unable to make bucket `%s`: %s %s", t, resp.Status, body)
			}
		}
	case "ls":
		if len(args) != 2 {
			return errors.New("mc: usage: mc ls ALIAS[/BUCKET]")
		}
		name, bucket, _ := strings.Cut(args[1], "/")
		a, err := aliasFor(name)
		if err != nil {
			return err
		}
		resp, err := a.do(http.MethodGet, "/"+bucket)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("mc: ls %s: %s %s", args[1], resp.Status, body)
		}
		var list struct {
			Buckets  []struct{ Name string } `xml:"Buckets>Bucket"`
			Contents []struct {
				Key  string
				Size int64
			}
		}
		if err := xml.NewDecoder(resp.Body).Decode(&list); err != nil {
			return err
		}
		for _, b := range list.Buckets {
			fmt.Printf("%s/\n", b.Name)
		}
		for _, o := range list.Contents {
			fmt.Printf("%d %s\n", o.Size, o.Key)
		}
	default:
		return fmt.Errorf("mc (stand-in): %s is not supported", args[0])
	}
	return nil
}
