// Package pluginopts decodes the options JSON a plugin factory receives
// (trove.Register) into the plugin's Options struct, the same way for
// every storage plugin: absent, empty or null options leave the struct as
// it is (its zero value, defaults filled later by the plugin), and a
// decoding failure is trove.ErrInvalid naming the plugin's package.
//
// Two modes, on purpose: Lenient (encoding/json.Unmarshal) ignores fields
// the plugin does not know, as the event-storage plugins always have;
// Strict refuses them, as the files-only plugins (storage-file-system,
// storage-s3) always have, so that a misspelt credential or bucket field
// is an error rather than a silent default.
package pluginopts
