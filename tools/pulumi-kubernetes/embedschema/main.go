// Command embedschema writes the two files the provider's main.go embeds, as the provider's own
// `go generate` (generate.go) does: schema-embed.json (schema.json with the plugin version set)
// and terraform-mapping-embed.json (terraform-mapping.json compacted). Usage:
//
//	embedschema <dir of cmd/pulumi-resource-kubernetes> <version>
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: embedschema <dir> <version>")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "embedschema:", err)
		os.Exit(1)
	}
}

func run(dir, version string) error {
	data, err := os.ReadFile(filepath.Join(dir, "schema.json"))
	if err != nil {
		return err
	}
	var spec map[string]json.RawMessage
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("schema.json: %w", err)
	}
	spec["version"], _ = json.Marshal(version)
	out, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "schema-embed.json"), out, 0o644); err != nil {
		return err
	}
	mapping, err := os.ReadFile(filepath.Join(dir, "terraform-mapping.json"))
	if err != nil {
		return err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, mapping); err != nil {
		return fmt.Errorf("terraform-mapping.json: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "terraform-mapping-embed.json"), compact.Bytes(), 0o644)
}
