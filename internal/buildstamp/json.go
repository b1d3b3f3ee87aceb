package buildstamp

import (
	"bytes"
	"encoding/json"
	"io"
)

// newJSONStream decodes a stream of concatenated JSON values (go list -json's output).
func newJSONStream(data []byte) func(v any) (bool, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	return func(v any) (bool, error) {
		if err := dec.Decode(v); err == io.EOF {
			return false, nil
		} else if err != nil {
			return false, err
		}
		return true, nil
	}
}
