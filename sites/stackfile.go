package sites

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"gopkg.in/yaml.v3"
)

// StackFile is a Pulumi.<stack>.yaml's config the way the engine hands it to a program: full
// keys, strings as they are, objects and lists JSON-encoded. Encrypted ("secure:") values are
// not decrypted (only the engine holds the key): their keys are in Secure, their values are
// absent from Config.
type StackFile struct {
	Config map[string]string
	Secure []string
	// Dir is the directory the file is in: the project's, where a closed site's lock file and
	// its relative folder paths are ("" : the working directory).
	Dir string
}

// ReadStackFile reads a stack file. Tools that need a site without running the engine (image
// lists, status) read it here, then ParseWithoutSecrets.
func ReadStackFile(path string) (StackFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return StackFile{}, err
	}
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return StackFile{}, fmt.Errorf("%s: %w", path, err)
	}
	f := StackFile{Config: map[string]string{}, Dir: filepath.Dir(path)}
	for key, v := range file.Config {
		if m, ok := v.(map[string]any); ok && len(m) == 1 {
			if _, secure := m["secure"]; secure {
				f.Secure = append(f.Secure, key)
				continue
			}
		}
		switch x := v.(type) {
		case string:
			f.Config[key] = x
		default:
			js, err := json.Marshal(x)
			if err != nil {
				return StackFile{}, fmt.Errorf("%s: config %s: %w", path, key, err)
			}
			f.Config[key] = string(js)
		}
	}
	sort.Strings(f.Secure)
	return f, nil
}

// encryptedValue stands for a secret's value that was not decrypted.
const encryptedValue = "(encrypted, not read)"

// ParseWithoutSecrets resolves a stack file's site for commands that must not read secrets:
// the encrypted keys count as set, a required secret the file lacks is not a problem (it may
// be set in another way only the engine sees), and no secret's value is checked. Everything
// else is checked as Parse checks it. Relative paths resolve from the working directory, as
// under Pulumi: run it from the project directory.
func ParseWithoutSecrets(stack string, f StackFile) (*Site, error) {
	return parse(stack, withoutSecrets(f), f.Secure, parseOptions{projectDir: f.Dir})
}

// ParseForLock is ParseWithoutSecrets without reading the air-gapped folders or the lock
// file: what `go run ./cmd/images lock` starts from, to (re)write the lock.
func ParseForLock(stack string, f StackFile) (*Site, error) {
	return parse(stack, withoutSecrets(f), f.Secure, parseOptions{skipClosedInputs: true, projectDir: f.Dir})
}

// withoutSecrets is the stack file's config with every encrypted key counted as set.
func withoutSecrets(f StackFile) map[string]string {
	config := make(map[string]string, len(f.Config)+len(f.Secure))
	for k, v := range f.Config {
		config[k] = v
	}
	for _, k := range f.Secure {
		config[k] = encryptedValue
	}
	return config
}
