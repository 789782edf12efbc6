package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// operationDoc is the OpenAPI side of a Route.
type operationDoc struct {
	params    []param
	body      []bodyDoc
	responses map[int]response
}

type param struct{ name, in, desc, typ string }

type bodyDoc struct {
	contentType string
	schema      map[string]any
}

type response struct {
	desc        string
	contentType string
	schema      map[string]any // nil: no schema
}

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }
func arrayOf(s map[string]any) map[string]any {
	return map[string]any{"type": "array", "items": s}
}
func objectOf(key string, s map[string]any) map[string]any {
	return map[string]any{"type": "object", "properties": map[string]any{key: s}, "required": []string{key}}
}
func binary() map[string]any { return map[string]any{"type": "string", "format": "binary"} }

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// buildOpenAPI renders the OpenAPI 3 document of the route table.
func (s *Server) buildOpenAPI() ([]byte, error) {
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
		}
		var params []map[string]any
		for _, p := range rt.doc.params {
			params = append(params, map[string]any{
				"name": p.name, "in": p.in, "description": p.desc,
				"required": p.in == "path", "schema": map[string]any{"type": p.typ},
			})
		}
		// Every path parameter of the pattern is described.
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			found := false
			for _, p := range rt.doc.params {
				found = found || p.in == "path" && p.name == m[1]
			}
			if !found {
				params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
			}
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if len(rt.doc.body) > 0 {
			content := map[string]any{}
			for _, b := range rt.doc.body {
				content[b.contentType] = map[string]any{"schema": b.schema}
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		}
		resps := map[string]any{}
		for code, r := range rt.doc.responses {
			entry := map[string]any{"description": r.desc}
			if r.contentType != "" {
				media := map[string]any{}
				if r.schema != nil {
					media["schema"] = r.schema
				}
				entry["content"] = map[string]any{r.contentType: media}
			}
			resps[strconv.Itoa(code)] = entry
		}
		op["responses"] = resps
		if rt.Auth {
			op["security"] = []map[string]any{{"bearer": []string{}}, {}}
		}
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = op
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "Trove",
			"version":     "1",
			"description": "Events with JSON payloads validated by JSON Schema, files and typed links. Errors are {\"error\", \"details\"}.",
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
			"schemas":         componentSchemas(),
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func operationID(rt Route) string {
	id := strings.ToLower(rt.Method)
	for _, seg := range strings.Split(strings.Trim(rt.Path, "/"), "/") {
		seg = strings.Trim(seg, "{}")
		seg = strings.NewReplacer(".", "", "-", "").Replace(seg)
		if seg == "" {
			continue
		}
		id += strings.ToUpper(seg[:1]) + seg[1:]
	}
	return id
}

func componentSchemas() map[string]any {
	obj := map[string]any{"type": "object"}
	str := map[string]any{"type": "string"}
	integer := map[string]any{"type": "integer"}
	strOrList := map[string]any{"oneOf": []any{str, arrayOf(str)}}
	eventID := map[string]any{"type": "object", "required": []string{"id"},
		"properties": map[string]any{"id": str, "version": integer}}
	return map[string]any{
		"Error": map[string]any{"type": "object", "required": []string{"error"}, "properties": map[string]any{
			"error": str, "details": str, "index": map[string]any{"type": "integer", "description": "the failing event of a batch"}}},
		"EventID": eventID,
		"EventFile": map[string]any{"type": "object", "required": []string{"id"}, "properties": map[string]any{
			"id": str, "contentType": str, "filename": str, "size": integer, "hash": str,
			"isReference": map[string]any{"type": "boolean"}, "data": map[string]any{"type": "string", "description": "a reference's locator, or inline base64 bytes on create"}}},
		"EventLink": map[string]any{"type": "object", "required": []string{"type", "targetEvent"}, "properties": map[string]any{
			"type": str, "targetEvent": ref("EventID"), "metadata": obj, "sourceEvent": ref("EventID")}},
		"Event": map[string]any{"type": "object", "properties": map[string]any{
			"id": ref("EventID"), "position": integer, "createdAt": map[string]any{"type": "string", "format": "date-time"},
			"producer": str, "schema": obj, "payload": obj, "files": arrayOf(ref("EventFile")),
			"links": arrayOf(ref("EventLink")), "metadata": obj}},
		"NewEvent": map[string]any{"type": "object", "required": []string{"schema", "payload"}, "properties": map[string]any{
			"id":        map[string]any{"oneOf": []any{str, ref("EventID")}},
			"createdAt": map[string]any{"type": "string", "format": "date-time"},
			"producer":  str, "schema": map[string]any{"type": "object", "description": "a JSON Schema document with $id, or a reference {id, version}"},
			"payload": obj, "metadata": obj, "files": arrayOf(ref("EventFile")), "links": arrayOf(ref("EventLink"))}},
		"EventForm": map[string]any{"type": "object", "required": []string{"schema", "payload"}, "properties": map[string]any{
			"schema": str, "payload": str, "producer": str, "metadata": str, "links": str,
			"file": binary()}, "description": "schema, payload, metadata and links are JSON text; every part with a filename is a file"},
		"FileForm": map[string]any{"type": "object", "properties": map[string]any{"id": str, "filename": str, "contentType": str, "file": binary()}},
		"RegisteredSchema": map[string]any{"type": "object", "required": []string{"id", "version", "schema"}, "properties": map[string]any{
			"id": str, "version": str, "schema": obj}},
		"EventQuery": map[string]any{"type": "object", "properties": map[string]any{
			"schema": strOrList, "schemaId": strOrList, "producer": strOrList,
			"timeRange": map[string]any{"type": "object", "properties": map[string]any{"start": str, "end": str}},
			"links":     arrayOf(map[string]any{"type": "object", "properties": map[string]any{"type": str, "targetEvent": ref("EventID")}}),
			"payload":   map[string]any{"type": "object", "additionalProperties": true, "description": "dotted path: JSON scalar"},
			"search":    str, "allVersions": map[string]any{"type": "boolean"},
			"sort": arrayOf(map[string]any{"type": "object", "properties": map[string]any{"field": str,
				"direction": map[string]any{"type": "string", "enum": []string{"asc", "desc"}}}}),
			"limit": integer, "offset": integer}},
		"QueryResult": map[string]any{"type": "object", "required": []string{"events"}, "properties": map[string]any{
			"events": arrayOf(ref("Event")), "nextOffset": integer}},
	}
}

var _ http.Handler = (*Server)(nil)
