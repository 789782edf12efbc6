package crashtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"

	"github.com/trovedb/trove"
)

// The writers' data is a pure function of names, so the parent can say
// what any event or file found after a crash must hold, acknowledged or
// not: a torn or mixed-up record never passes.

// schema is the schema of every event the writers save.
var schema = trove.MustSchema(`{"$id":"crashtest+v1","type":"object"}`)

// producer is the producer of every event the writers save.
const producer = "crashtest"

// evKey names one event: child run r, writer w, operation i, and for a
// batch the event's index k among n (n is 0 for a single save).
type evKey struct{ r, w, i, k, n int }

func (k evKey) id() string {
	if k.n == 0 {
		return fmt.Sprintf("r%dw%di%d", k.r, k.w, k.i)
	}
	return fmt.Sprintf("r%dw%di%dk%dn%d", k.r, k.w, k.i, k.k, k.n)
}

// batch names the batch the event belongs to ("" for a single save).
func (k evKey) batch() string {
	if k.n == 0 {
		return ""
	}
	return fmt.Sprintf("r%dw%di%d", k.r, k.w, k.i)
}

// parseID reads an id made by evKey.id.
func parseID(id string) (evKey, bool) {
	var k evKey
	if n, _ := fmt.Sscanf(id, "r%dw%di%dk%dn%d", &k.r, &k.w, &k.i, &k.k, &k.n); n == 5 && k.id() == id && k.n > 0 {
		return k, true
	}
	k = evKey{}
	if n, _ := fmt.Sscanf(id, "r%dw%di%d", &k.r, &k.w, &k.i); n == 3 && k.id() == id {
		return k, true
	}
	return evKey{}, false
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// fileID is the id of the file event k references, "" when it has none:
// about one event in three has one.
func (k evKey) fileID() string {
	if hash64(k.id())%3 != 0 {
		return ""
	}
	return "f-" + k.id()
}

// event is what event k holds.
func (k evKey) event(maxFile int) trove.Event {
	id := k.id()
	e := trove.Event{
		ID:       trove.EventID{ID: id, Version: 1},
		Producer: producer,
		Schema:   schema,
		Payload:  json.RawMessage(fmt.Sprintf(`{"r":%d,"w":%d,"i":%d,"k":%d,"n":%d,"pad":"%x"}`, k.r, k.w, k.i, k.k, k.n, hash64(id)>>(hash64(id)%48))),
	}
	if fid := k.fileID(); fid != "" {
		e.Files = []trove.EventFile{fileMeta(fid, maxFile)}
	}
	if k.i%2 == 1 {
		// A link to the writer's previous operation, which may dangle.
		e.Links = []trove.EventLink{{Type: "prev", TargetEvent: trove.EventID{ID: evKey{r: k.r, w: k.w, i: k.i - 1}.id()}}}
	}
	return e
}

// fileData is the bytes of file id: 1 to max bytes, a pure function of id.
func fileData(id string, max int) []byte {
	h := hash64(id)
	n := 1 + int(h%uint64(max))
	var seed [32]byte
	for i := range 4 {
		binary.LittleEndian.PutUint64(seed[8*i:], h+uint64(i))
	}
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(seed).Read(b) // never fails
	return b
}

// fileMeta is the stored metadata of file id.
func fileMeta(id string, max int) trove.EventFile {
	d := fileData(id, max)
	sum := sha256.Sum256(d)
	return trove.EventFile{
		ID:          id,
		ContentType: "application/x-crashtest",
		Filename:    id + ".bin",
		Size:        int64(len(d)),
		Hash:        "sha256:" + hex.EncodeToString(sum[:]),
	}
}

// fileToSave is the file the writers send: metadata without size or hash.
func fileToSave(id string) trove.EventFile {
	return trove.EventFile{ID: id, ContentType: "application/x-crashtest", Filename: id + ".bin"}
}

// sameEvent compares a stored event with what it must hold.
func sameEvent(got, want trove.Event) error {
	switch {
	case got.ID != want.ID:
		return fmt.Errorf("id %s, want %s", got.ID, want.ID)
	case got.Producer != want.Producer:
		return fmt.Errorf("producer %q, want %q", got.Producer, want.Producer)
	case got.Schema.Identity() != want.Schema.Identity():
		return fmt.Errorf("schema %q, want %q", got.Schema.Identity(), want.Schema.Identity())
	case !trove.JSONEqual(got.Payload, want.Payload):
		return fmt.Errorf("payload %s, want %s", got.Payload, want.Payload)
	case len(got.Files) != len(want.Files):
		return fmt.Errorf("%d files, want %d", len(got.Files), len(want.Files))
	case len(got.Links) != len(want.Links):
		return fmt.Errorf("%d links, want %d", len(got.Links), len(want.Links))
	}
	for i := range got.Files {
		if got.Files[i] != want.Files[i] {
			return fmt.Errorf("file %+v, want %+v", got.Files[i], want.Files[i])
		}
	}
	for i := range got.Links {
		g, w := got.Links[i], want.Links[i]
		if g.Type != w.Type || g.TargetEvent != w.TargetEvent {
			return fmt.Errorf("link %s→%s, want %s→%s", g.Type, g.TargetEvent, w.Type, w.TargetEvent)
		}
	}
	return nil
}

// ack is one line the child writes once a write returned: exactly one of
// its fields is set.
type ack struct {
	Events []ackEvent `json:"e,omitempty"` // a single save or a whole batch
	File   string     `json:"f,omitempty"` // SaveFile
	Link   *ackLink   `json:"l,omitempty"` // SaveLink
}

type ackEvent struct {
	ID       string `json:"id"`
	Position uint64 `json:"p"`
}

type ackLink struct {
	Source string `json:"s"`
	Target string `json:"t"`
}

func (a ack) line() []byte {
	b, _ := json.Marshal(a)
	return append(b, '\n')
}

// parseAck reads a line of the child's output; ok is false for lines
// that are not acks.
func parseAck(line []byte) (a ack, ok bool) {
	if !bytes.HasPrefix(line, []byte("{")) {
		return ack{}, false
	}
	if err := json.Unmarshal(line, &a); err != nil {
		return ack{}, false
	}
	return a, len(a.Events) > 0 || a.File != "" || a.Link != nil
}
