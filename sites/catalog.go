package sites

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"
)

//go:embed catalog.yaml
var catalogYAML []byte

// Catalog is every service XGEN has, with its defaults.
type Catalog struct {
	Global struct {
		// Config is the lowest-precedence environment of every service.
		Config map[string]string `json:"config,omitempty"`
		// Defaults is the base ServiceSpec every service starts from; it sets every field.
		Defaults ServiceSpec `json:"defaults"`
	} `json:"global"`
	// Services by name.
	Services map[string]CatalogService `json:"services"`
}

// CatalogService is a service's own defaults plus per-environment overrides.
type CatalogService struct {
	ServiceSpec
	// Environments overrides by environment name (dev, stg, prd).
	Environments map[string]ServiceSpec `json:"environments,omitempty"`
}

// LoadCatalog decodes the embedded catalog strictly.
func LoadCatalog() (*Catalog, error) {
	return parseCatalog(catalogYAML)
}

func parseCatalog(data []byte) (*Catalog, error) {
	js, err := yamlToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("sites/catalog.yaml: %w", err)
	}
	var c Catalog
	if probs := decodeStrict(js, "catalog", &c); len(probs) > 0 {
		return nil, fmt.Errorf("service catalog: %w", probs)
	}
	if missing := checkComplete(reflect.ValueOf(c.Global.Defaults), "global.defaults"); len(missing) > 0 {
		return nil, fmt.Errorf("service catalog: global.defaults must set every field; missing %v", missing)
	}
	return &c, nil
}

// yamlToJSON converts a YAML document to JSON so that one strict decoder serves the
// catalog, stack files and Pulumi's JSON-encoded config objects alike.
func yamlToJSON(data []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}
