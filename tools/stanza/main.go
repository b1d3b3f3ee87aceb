// Command stanza-check (TEST-ONLY) runs the log operators of one filelog receiver of an
// OpenTelemetry Collector configuration through the collector's own stanza library (the
// release of the collector image we run), the way the receiver would: the configuration is
// decoded as the collector decodes it (confmap), every operator is built, and each entry
// read from standard input (JSON: {"body": "...", "attributes": {...}}, one per line) goes
// through the pipeline; each entry that comes out is printed as JSON. Used by
// components/obsconfig's tests; never linked into the Pulumi program.
//
// Usage: stanza-check CONFIG.yaml RECEIVER < entries.jsonl
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/entry"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator/output/stdout"
	_ "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator/parser/container"
	_ "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator/parser/json"
	_ "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator/parser/regex"
	_ "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator/transformer/add"
	_ "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator/transformer/filter"
	_ "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator/transformer/move"
	_ "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/operator/transformer/remove"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/stanza/pipeline"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "stanza-check:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: stanza-check CONFIG.yaml RECEIVER < entries.jsonl")
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var raw struct {
		Receivers map[string]map[string]any `yaml:"receivers"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return err
	}
	receiver, ok := raw.Receivers[args[1]]
	if !ok {
		return fmt.Errorf("no receiver %q", args[1])
	}
	var cfg struct {
		Operators []operator.Config `mapstructure:"operators"`
	}
	if err := confmap.NewFromStringMap(map[string]any{"operators": receiver["operators"]}).Unmarshal(&cfg); err != nil {
		return fmt.Errorf("receiver %s: %w", args[1], err)
	}
	set := component.TelemetrySettings{Logger: zap.NewNop()}
	out, err := stdout.NewConfig("out").Build(set)
	if err != nil {
		return err
	}
	p, err := pipeline.Config{Operators: cfg.Operators, DefaultOutput: out}.Build(set)
	if err != nil {
		return fmt.Errorf("receiver %s: %w", args[1], err)
	}
	if err := p.Start(nil); err != nil {
		return err
	}
	defer func() { _ = p.Stop() }()
	first := p.Operators()[0]
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		var line struct {
			Body       string         `json:"body"`
			Attributes map[string]any `json:"attributes"`
		}
		if err := json.Unmarshal(in.Bytes(), &line); err != nil {
			return err
		}
		e := entry.New()
		e.Body = line.Body
		e.Attributes = line.Attributes
		// An entry an operator refuses is dropped by the receiver (logged): here too.
		_ = first.Process(context.Background(), e)
	}
	return in.Err()
}
