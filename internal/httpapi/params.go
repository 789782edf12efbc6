package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// knownParams wraps the handler of an /api/ route so that a URL parameter
// its description does not list is refused with 400 naming it: a
// misspelled ?versoin= or ?typ= must not read as "not given". Routes whose
// parameters include payload paths (payload.PATH) check their own, since
// those are open-ended.
func (rt Route) knownParams() http.HandlerFunc {
	var known []string
	for _, p := range rt.doc.params {
		if p.in != "query" {
			continue
		}
		if strings.Contains(p.name, ".") {
			return rt.handler
		}
		known = append(known, p.name)
	}
	if !strings.HasPrefix(rt.Path, "/api/") {
		return rt.handler
	}
	want := "no URL parameters"
	if len(known) > 0 {
		want = "known: " + strings.Join(known, ", ")
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			for key := range r.URL.Query() {
				if !slices.Contains(known, key) {
					writeError(w, http.StatusBadRequest, titleBadRequest, "unknown query parameter "+strconv.Quote(key)+" ("+want+")")
					return
				}
			}
		}
		rt.handler(w, r)
	}
}

// onlyKeys refuses, with 400 naming it, a member of the JSON object obj
// (at path, "" for the body) that is not one of known; obj is valid JSON
// already. A misspelled member must not read as one left out. Members
// that are not objects are left to the decoder.
func onlyKeys(obj []byte, path string, known ...string) error {
	if kind(obj) != '{' {
		return nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(obj, &members); err != nil {
		return nil // the decoder reports it in its words
	}
	return knownMembers(members, path, known)
}

// knownMembers refuses, with 400 naming it, a member of an object decoded
// into members (at path, "" for the body) that is not one of known.
func knownMembers(members map[string]json.RawMessage, path string, known []string) error {
	for key := range members {
		if !slices.Contains(known, key) {
			where := ""
			if path != "" {
				where = "Path " + path + ": "
			}
			return badRequest(where + "unknown key " + strconv.Quote(key) + " (known: " + strings.Join(known, ", ") + ")")
		}
	}
	return nil
}

// eventMembers are the members of an event in a JSON body: an event's own
// (position too, so that an event read back posts as it is).
var eventMembers = []string{"id", "position", "createdAt", "producer", "schema", "payload", "files", "links", "metadata"}

// eventKeys refuses, with 400 naming it, a member of a JSON event body
// (fields) that an event does not have: a misspelled "metdata" must not be
// dropped silently; the text fields of a multipart form are held to it
// too. (The members of an id object are checked where it is decoded,
// eventFromFields, those of files and links entries by elementKeys.)
func eventKeys(fields map[string]json.RawMessage) error {
	return knownMembers(fields, "", eventMembers)
}

// The members of an event's files and links entries in a JSON body.
var (
	fileMembers = []string{"id", "contentType", "filename", "size", "hash", "isReference", "data"}
	linkMembers = []string{"type", "targetEvent", "metadata", "sourceEvent"}
)

// linkIDKeys checks the event ids inside a link entry at path.
func linkIDKeys(entry []byte, path string) error {
	var members map[string]json.RawMessage
	if json.Unmarshal(entry, &members) != nil {
		return nil
	}
	for _, k := range []string{"targetEvent", "sourceEvent"} {
		if err := onlyKeys(members[k], path+"/"+k, "id", "version"); err != nil {
			return err
		}
	}
	return nil
}

// elementKeys refuses, with 400 naming it, a member of an object in the
// JSON array arr (at path) that is not one of known; inner, when not nil,
// checks each element further.
func elementKeys(arr []byte, path string, inner func(entry []byte, path string) error, known ...string) error {
	var elems []json.RawMessage
	if json.Unmarshal(arr, &elems) != nil {
		return nil // the decoder reports it in its words
	}
	for i, el := range elems {
		at := path + "/" + strconv.Itoa(i)
		if err := onlyKeys(el, at, known...); err != nil {
			return err
		}
		if inner != nil {
			if err := inner(el, at); err != nil {
				return err
			}
		}
	}
	return nil
}
