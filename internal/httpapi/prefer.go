package httpapi

import (
	"net/http"
	"strings"

	"github.com/trovedb/trove"
)

// savedRef is what a create answers with Prefer: return=minimal: the
// stored event's id, version and position, not the event echoed.
type savedRef struct {
	ID       trove.EventID `json:"id"`
	Position uint64        `json:"position"`
}

// wantsMinimal reports whether the request asks, as PostgREST clients do,
// for a minimal answer (Prefer: return=minimal), and says the preference
// was applied.
func wantsMinimal(w http.ResponseWriter, r *http.Request) bool {
	for _, h := range r.Header.Values("Prefer") {
		for rest := h; rest != ""; {
			var p string
			p, rest, _ = strings.Cut(rest, ",")
			if strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(p), " ", ""), "return=minimal") {
				w.Header().Set("Preference-Applied", "return=minimal")
				return true
			}
		}
	}
	return false
}

// writeRef answers what a create answers with Prefer: return=minimal,
// byte for byte what writeJSON answers for its savedRef.
func writeRef(w http.ResponseWriter, e trove.Event) {
	buf := answerBuf()
	defer putAnswer(buf)
	buf.Write(appendRef(buf.AvailableBuffer(), savedRef{ID: e.ID, Position: e.Position}))
	writeBody(w, http.StatusCreated, buf)
}

// writeRefs answers what a batch answers with Prefer: return=minimal, byte
// for byte what writeJSON answers for {"events": [savedRef, …]}.
func writeRefs(w http.ResponseWriter, events []trove.Event) {
	buf := answerBuf()
	defer putAnswer(buf)
	buf.WriteString(`{"events":[`)
	for i, e := range events {
		b := buf.AvailableBuffer()
		if i > 0 {
			b = append(b, ',')
		}
		buf.Write(appendRef(b, savedRef{ID: e.ID, Position: e.Position}))
	}
	buf.WriteString(`]}`)
	writeBody(w, http.StatusCreated, buf)
}
