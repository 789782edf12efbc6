package storagetest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/trovedb/trove"
)

// testFileEntries: an event's files entry must name a stored file (whose
// size and hash it then carries), carry inline data, or be a reference
// with a locator; anything else, or a size or hash that disagrees with the
// stored bytes, is a *trove.FileEntryError (ErrInvalid) naming the entry,
// and nothing is stored.
func testFileEntries(t *testing.T, k *kit) {
	c := k.openCore(t, "files")
	_, err := c.core.SaveFile(c.ctx, trove.EventFile{ID: "logo", ContentType: "image/png", Filename: "logo.png"}, strings.NewReader("PNG"))
	noErr(t, "SaveFile", err)
	stored, err := c.core.GetFile(c.ctx, "logo")
	noErr(t, "GetFile", err)
	save := func(id string, files ...trove.EventFile) (trove.Event, error) {
		return c.core.CreateEvent(c.ctx, trove.Event{ID: trove.EventID{ID: id}, Schema: schema("kit.note"), Payload: json.RawMessage(`{}`), Files: files})
	}
	e, err := save("by-id", trove.EventFile{ID: "logo"})
	noErr(t, "an entry naming a stored file", err)
	if f := e.Files[0]; f.Size != 3 || f.Hash != stored.Hash || f.ContentType != "image/png" || f.Filename != "logo.png" {
		t.Fatalf("the entry did not take the stored metadata: %+v", f)
	}
	_, err = save("same-meta", trove.EventFile{ID: "logo", Size: 3, Hash: stored.Hash, Filename: "other-name.png"})
	noErr(t, "an entry agreeing with the stored file", err)
	_, err = save("ref", trove.EventFile{ID: "ext", IsReference: true, Data: "s3://bucket/key"})
	noErr(t, "a reference with a locator", err)

	for name, f := range map[string]trove.EventFile{
		"an unknown id":    {ID: "ghost"},
		"no id":            {Filename: "x.txt"},
		"a wrong size":     {ID: "logo", Size: 4},
		"a wrong hash":     {ID: "logo", Hash: "sha256:00"},
		"a bare reference": {ID: "ext2", IsReference: true},
		"a bad id":         {ID: "../etc"},
	} {
		_, err := save("bad", trove.EventFile{ID: "logo"}, f)
		var fe *trove.FileEntryError
		if !errors.As(err, &fe) || !errors.Is(err, trove.ErrInvalid) || fe.Index != 1 {
			t.Errorf("%s: %v, want a FileEntryError for files[1]", name, err)
		}
	}
	if k.caps[trove.CapEvents] {
		_, err := c.p.(trove.EventStorage).GetEvent(c.ctx, trove.EventID{ID: "bad"})
		wantErr(t, "an event refused for its files", err, trove.ErrNotFound)
	}
}
