package sites

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// decodeStrict decodes a JSON document into out. Every key that out's type does not
// have is reported with its full path and the closest known key; type mismatches are
// reported with the path and the expected type. Nothing is decoded partially: on any
// problem out must be discarded.
func decodeStrict(data []byte, prefix string, out any) Problems {
	probs := &problemList{prefix: prefix}
	var generic any
	if err := json.Unmarshal(data, &generic); err != nil {
		probs.add("", nil, "is not a valid object: %v", err)
		return probs.list
	}
	if generic == nil {
		probs.add("", nil, "is empty; it must be an object")
		return probs.list
	}
	checkKeys(generic, reflect.TypeOf(out).Elem(), "", probs)
	if len(probs.list) > 0 {
		return probs.list
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			probs.add(typeErr.Field, typeErr.Value, "must be %s", describeType(typeErr.Type))
		} else {
			probs.add("", nil, "cannot be decoded: %v", err)
		}
	}
	return probs.list
}

// checkKeys walks a generic JSON value alongside the Go type it must decode into.
func checkKeys(v any, t reflect.Type, path string, probs *problemList) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return // null leaves the field unset
	}
	if !jsonTypeFits(v, t) {
		probs.add(path, v, "must be %s", describeType(t))
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		obj := v.(map[string]any)
		fields := jsonFields(t)
		keys := sortedKeys(obj)
		for _, k := range keys {
			ft, known := fields[k]
			if !known {
				probs.add(join(path, k), nil, "unknown key%s", suggest(k, fields))
				continue
			}
			// A plain (non-pointer) number is defaulted when it is 0: an explicit 0 would be
			// silently replaced, so it is refused.
			if n, isNum := obj[k].(float64); isNum && n == 0 && ft.Kind() == reflect.Int {
				probs.add(join(path, k), 0, "0 would be replaced by the default; leave the key out to use the default, or give another value")
				continue
			}
			checkKeys(obj[k], ft, join(path, k), probs)
		}
	case reflect.Map:
		obj := v.(map[string]any)
		for _, k := range sortedKeys(obj) {
			if obj[k] == nil && t.Elem().Kind() == reflect.String {
				probs.add(join(path, k), nil, "has no value (`%s:` with nothing after it is null, which would become an empty string); give it a value, write \"\" for an empty one, or remove the key", k)
				continue
			}
			checkKeys(obj[k], t.Elem(), join(path, k), probs)
		}
	case reflect.Slice:
		arr := v.([]any)
		for i, e := range arr {
			checkKeys(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), probs)
		}
	}
}

// jsonFields maps JSON names to field types, including promoted embedded fields.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				fields[k] = v
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}

// jsonTypeFits says whether a decoded JSON value can fill a field of type t.
func jsonTypeFits(v any, t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String:
		_, ok := v.(string)
		return ok
	case reflect.Int, reflect.Int32, reflect.Int64:
		f, ok := v.(float64)
		return ok && f == float64(int64(f))
	case reflect.Bool:
		_, ok := v.(bool)
		return ok
	case reflect.Struct, reflect.Map:
		_, ok := v.(map[string]any)
		return ok
	case reflect.Slice:
		_, ok := v.([]any)
		return ok
	}
	return true
}

func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string (quote it in YAML; with `pulumi config set --path` add `--type string`)"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	case reflect.Map, reflect.Struct:
		return "an object (key: value pairs)"
	case reflect.Slice:
		return "a list"
	}
	return t.String()
}

// suggest names the known key closest to a misspelt one, when one is close enough.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestDist := "", len(key)/2+2
	for k := range fields {
		if d := editDistance(strings.ToLower(key), strings.ToLower(k)); d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	if best != "" {
		return fmt.Sprintf("; did you mean %q? (known keys: %s)", best, strings.Join(names, ", "))
	}
	return fmt.Sprintf("; known keys: %s", strings.Join(names, ", "))
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
