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
		for _, p := range strings.Split(h, ",") {
			if strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(p), " ", ""), "return=minimal") {
				w.Header().Set("Preference-Applied", "return=minimal")
				return true
			}
		}
	}
	return false
}

func refsOf(events []trove.Event) []savedRef {
	out := make([]savedRef, len(events))
	for i, e := range events {
		out[i] = savedRef{ID: e.ID, Position: e.Position}
	}
	return out
}
