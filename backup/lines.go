package backup

import (
	"bytes"

	"github.com/trovedb/trove"
)

// The lines of the export format (FORMAT.md). Each is one JSON object on a
// line; an object whose first key is none of these is an event.

type header struct {
	TroveExport int    `json:"troveExport"`
	From        uint64 `json:"from"`
	Last        uint64 `json:"last"`
}

type schemaLine struct {
	RegisteredSchema *trove.RegisteredSchema `json:"registeredSchema"`
}

type fileLine struct {
	File *trove.EventFile `json:"file"`
}

type fileDataLine struct {
	FileData string `json:"fileData"`
}

type fileEndLine struct {
	FileEnd string `json:"fileEnd"`
}

type linkRecord struct {
	Source trove.EventID `json:"source"`
	trove.EventLink
}

type linkLine struct {
	Link linkRecord `json:"link"`
}

// lineKind is what a line holds.
type lineKind int

const (
	kindEvent lineKind = iota
	kindHeader
	kindSchema
	kindFile
	kindFileData
	kindFileEnd
	kindLink
)

var firstKeys = []struct {
	key  string
	kind lineKind
}{
	{`"troveExport"`, kindHeader},
	{`"registeredSchema"`, kindSchema},
	{`"fileData"`, kindFileData},
	{`"fileEnd"`, kindFileEnd},
	{`"file"`, kindFile},
	{`"link"`, kindLink},
}

// kindOf tells a line's kind by its first key; anything else is an event
// (whose first key, as Export writes it, is "id").
func kindOf(b []byte) lineKind {
	b = bytes.TrimLeft(b, " \t")
	if len(b) == 0 || b[0] != '{' {
		return kindEvent
	}
	b = bytes.TrimLeft(b[1:], " \t")
	for _, k := range firstKeys {
		if rest, ok := bytes.CutPrefix(b, []byte(k.key)); ok {
			rest = bytes.TrimLeft(rest, " \t")
			if len(rest) > 0 && rest[0] == ':' {
				return k.kind
			}
		}
	}
	return kindEvent
}
