package trove

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// DescribeJSONError says what is wrong with a JSON document in words for
// the people who wrote it, for an error of encoding/json: which key is
// unknown, which field holds a value of the wrong kind and what it must
// be, where the syntax breaks. It never names a Go type.
func DescribeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		what := jsonKind(te.Type)
		if te.Field == "" {
			return fmt.Sprintf("must be %s, not %s", what, article(te.Value))
		}
		return fmt.Sprintf("%s must be %s, not %s", te.Field, what, article(te.Value))
	case errors.As(err, &se):
		return fmt.Sprintf("not valid JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "invalid character "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	}
	s := err.Error()
	if k, ok := strings.CutPrefix(s, "json: unknown field "); ok {
		return "unknown key " + k
	}
	if strings.HasPrefix(s, "unexpected EOF") {
		return "the JSON ends too early"
	}
	return strings.TrimPrefix(s, "json: ")
}

// jsonKind names what a Go type holds, in JSON's words.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another kind of value"
}

// article puts "a" or "an" before a JSON value kind as encoding/json names
// it ("string", "number", "object", "array", "bool").
func article(v string) string {
	switch {
	case v == "array":
		return "a list"
	case v == "bool":
		return "true or false"
	case strings.HasPrefix(v, "number"):
		return "a number"
	case v != "" && strings.ContainsRune("aeiou", rune(v[0])):
		return "an " + v
	}
	return "a " + v
}
