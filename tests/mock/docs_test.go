package mock

// The configuration reference (docs/*.md) against the decoder: every key the site decoder
// accepts is documented in a key table, and every key a table documents is one the decoder
// accepts (no removed key lingers). A table's keys are under the prefix of the
// "Keys under `site.…`:" line before it.

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"xgen-infra/sites"
)

// decodedKeys are the generic paths of every key the decoder accepts: a map's key is "<>",
// a slice of objects "[]"; maps and slices of plain values are leaves.
func decodedKeys(t reflect.Type, prefix string, out map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if prefix != "" {
			out[prefix] = true // a section may be documented as a whole, or by its keys
		}
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name != "" && name != "-" {
				decodedKeys(t.Field(i).Type, join(prefix, name), out)
			}
		}
		return
	case reflect.Map, reflect.Slice:
		elem := t.Elem()
		for elem.Kind() == reflect.Pointer {
			elem = elem.Elem()
		}
		if elem.Kind() == reflect.Struct {
			seg := "[]"
			if t.Kind() == reflect.Map {
				seg = ".<>"
			}
			out[prefix+seg] = true // the collection itself may be documented as a whole
			decodedKeys(elem, prefix+seg, out)
			return
		}
		if t.Kind() == reflect.Map {
			prefix += ".<>" // a map of plain values: vars.<NAME>
		}
	}
	out[prefix] = true
}

// isSection says whether key names a struct or a collection of structs in sites.Config.
func isSection(key string) bool {
	t := reflect.TypeOf(sites.Config{})
	for _, seg := range strings.Split(strings.ReplaceAll(key, "[]", ".[]"), ".") {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case seg == "<>" || seg == "[]":
			t = t.Elem()
		case t.Kind() == reflect.Struct:
			found := false
			for i := 0; i < t.NumField(); i++ {
				if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name == seg {
					t, found = t.Field(i).Type, true
					break
				}
			}
			if !found {
				return false
			}
		default:
			return false
		}
	}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		if t.Kind() != reflect.Pointer && t.Elem().Kind() != reflect.Struct && t.Elem().Kind() != reflect.Pointer {
			return false
		}
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

var (
	tablePrefix = regexp.MustCompile("^Keys under `site\\.?([^`]*)`:")
	backticked  = regexp.MustCompile("`([^`]+)`")
	placeholder = regexp.MustCompile(`<[^>]*>`)
	braces      = regexp.MustCompile(`\{([^{}]*)\}`)
)

// expand turns "a.{b,c}.d" into a.b.d and a.c.d.
func expand(key string) []string {
	m := braces.FindStringSubmatchIndex(key)
	if m == nil {
		return []string{key}
	}
	var out []string
	for _, alt := range strings.Split(key[m[2]:m[3]], ",") {
		out = append(out, expand(key[:m[0]]+strings.TrimSpace(alt)+key[m[1]:])...)
	}
	return out
}

// documentedKeys reads every key table of the docs: key → the page that documents it.
func documentedKeys(t *testing.T) map[string]string {
	t.Helper()
	pages, err := filepath.Glob("docs/*.md")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs: %v", err)
	}
	out := map[string]string{}
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		prefix, inTable := "", false
		var arrays []string // the last row's "x[]" keys, for "…[].y" rows
		for _, line := range strings.Split(string(data), "\n") {
			if m := tablePrefix.FindStringSubmatch(line); m != nil {
				prefix, inTable = placeholder.ReplaceAllString(m[1], "<>"), true
				continue
			}
			if !strings.HasPrefix(line, "|") {
				if inTable && strings.TrimSpace(line) != "" {
					inTable = false
				}
				continue
			}
			if !inTable || strings.HasPrefix(line, "| key") || strings.HasPrefix(line, "|---") {
				continue
			}
			first := strings.Split(line, "|")[1]
			var rowArrays []string
			for _, m := range backticked.FindAllStringSubmatch(first, -1) {
				for _, key := range expand(m[1]) {
					key = placeholder.ReplaceAllString(key, "<>")
					var full []string
					if rest, ok := strings.CutPrefix(key, "…[]"); ok {
						for _, a := range arrays {
							full = append(full, a+rest)
						}
					} else {
						full = []string{join(prefix, key)}
					}
					for _, k := range full {
						out[k] = page
						if strings.HasSuffix(k, "[]") {
							rowArrays = append(rowArrays, k)
						}
					}
				}
			}
			if rowArrays != nil {
				arrays = rowArrays
			}
		}
	}
	return out
}

func TestDocsCoverEveryKey(t *testing.T) {
	decoded := map[string]bool{}
	decodedKeys(reflect.TypeOf(sites.Config{}), "", decoded)
	documented := documentedKeys(t)
	covered := func(key string) bool {
		// A key is documented itself, as a whole collection, or by its collection.
		for _, k := range []string{key, strings.TrimSuffix(key, "[]"), strings.TrimSuffix(key, ".<>")} {
			if _, ok := documented[k]; ok {
				return true
			}
		}
		return false
	}
	var missing, stale []string
	for key := range decoded {
		// A section (an object, a collection of objects) is documented by its keys.
		if isSection(key) {
			continue
		}
		if !covered(key) {
			missing = append(missing, key)
		}
	}
	for key, page := range documented {
		if !decoded[key] && !decoded[key+"[]"] && !decoded[key+".<>"] {
			stale = append(stale, key+" ("+page+")")
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	for _, k := range missing {
		t.Errorf("site.%s is decoded but in no key table of docs/", k)
	}
	for _, k := range stale {
		t.Errorf("site.%s is documented but the decoder has no such key", k)
	}
	if len(decoded) < 100 {
		t.Errorf("only %d decoded keys: the walk over sites.Config is broken", len(decoded))
	}
}
