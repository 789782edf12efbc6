package trove

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// UseEventStorage, as a role's plugin, makes that role use the event storage
// plugin's instance.
const UseEventStorage = "useEventStorage"

// Config picks a plugin per storage role, as in Trove:
//
//	storage:
//	  events: {plugin: storage-log, options: {directory: ./data}}
//	  files:  {plugin: storage-log, options: {directory: ./data}}
//	  links: useEventStorage
//
// Roles naming the same plugin with the same options share one instance.
//
// The limits beside it take their defaults when zero.
type Config struct {
	Storage StorageConfig `json:"storage"`
	// SchemaCacheBytes caps the estimated memory of the compiled JSON
	// Schemas the core keeps for reuse, least recently used first out.
	// Zero means DefaultSchemaCacheBytes (64 MiB); negative keeps none
	// (every event's schema is compiled again).
	SchemaCacheBytes int64 `json:"schemaCacheBytes,omitempty"`
	// MaxIdentifierBytes caps, in bytes, each identifier an event or a
	// registration carries: event id, producer, schema "$id" (or reference
	// id), link type, link target id, registered schema id and version.
	// Zero means DefaultMaxIdentifierBytes (256).
	MaxIdentifierBytes int `json:"maxIdentifierBytes,omitempty"`
}

// StorageConfig holds one PluginConfig per role. Files and Links may be
// omitted: they then use the event storage plugin.
type StorageConfig struct {
	Events PluginConfig `json:"events"`
	Files  PluginConfig `json:"files"`
	Links  PluginConfig `json:"links"`
}

// PluginConfig names a plugin and its options. In JSON it is an object
// {plugin, options} or the string "useEventStorage".
type PluginConfig struct {
	Plugin  string          `json:"plugin"`
	Options json.RawMessage `json:"options,omitempty"`
}

// UnmarshalJSON accepts {plugin, options} or a bare string naming the plugin.
func (p *PluginConfig) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*p = PluginConfig{Plugin: s}
		return nil
	}
	type plain PluginConfig
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return invalidf("config: plugin: %v", err)
	}
	if isJSONNull(v.Options) {
		v.Options = nil
	}
	*p = PluginConfig(v)
	return nil
}

// ParseConfig reads a config from JSON.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, invalidf("config: %v", err)
	}
	return c, nil
}

// ReadConfigFile reads a YAML (.yaml, .yml) or JSON file and returns its
// content as JSON, so that callers can decode their own sections of it too.
func ReadConfigFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	ext := strings.ToLower(filepath.Ext(path))
	trimmed := bytes.TrimSpace(b)
	if ext == ".json" || (ext != ".yaml" && ext != ".yml" && len(trimmed) > 0 && trimmed[0] == '{') {
		if !json.Valid(b) {
			return nil, invalidf("config %s: not valid JSON", path)
		}
		return b, nil
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, invalidf("config %s: %v", path, err)
	}
	out, err := json.Marshal(yamlToJSON(v))
	if err != nil {
		return nil, invalidf("config %s: %v", path, err)
	}
	return out, nil
}

// LoadConfig reads a Config from a YAML or JSON file.
func LoadConfig(path string) (Config, error) {
	b, err := ReadConfigFile(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(b)
}

// yamlToJSON turns YAML's map[any]any (from older decoders or odd keys)
// into JSON-encodable maps.
func yamlToJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = yamlToJSON(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = yamlToJSON(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = yamlToJSON(e)
		}
		return x
	}
	return v
}
