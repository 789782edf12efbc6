package httpapi_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/trovedb/trove/internal/httpapi"
)

// TestRefusedRequestLeavesNoFile sends batches with inline files that are
// then refused: after the 4xx the files are gone (404), on every
// backend, while a file stored before with the same id and bytes stays.
func TestRefusedRequestLeavesNoFile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, httpapi.Options{})
		mustStatus(t, e.postJSON("/api/events", `{"id":{"id":"taken"},"schema":{"$id":"n+v1","type":"object"},"payload":{"v":1}}`), http.StatusCreated)
		// "b3JwaGFu" is base64 of "orphan".
		r := e.postJSON("/api/events/batch", `[
			{"id":{"id":"first"},"schema":{"$id":"n+v1","type":"object"},"payload":{},"files":[{"id":"orphan1","data":"b3JwaGFu"}]},
			{"id":{"id":"taken"},"schema":{"$id":"n+v1","type":"object"},"payload":{"v":2}}]`)
		if r.status < 400 || r.status >= 500 {
			t.Fatalf("conflicting batch: %d %s", r.status, r.body)
		}
		mustStatus(t, e.get("/api/files/orphan1"), http.StatusNotFound)
		r = e.postJSON("/api/events/batch", `[
			{"id":{"id":"first"},"schema":{"$id":"n+v1","type":"object"},"payload":{},"files":[{"id":"orphan2","data":"b3JwaGFu"}]},
			{"id":{"id":"bad"},"schema":{"$id":"n+v1","type":"object","required":["x"]},"payload":{}}]`)
		mustStatus(t, r, http.StatusUnprocessableEntity)
		mustStatus(t, e.get("/api/files/orphan2"), http.StatusNotFound)

		// A file stored before the refused batch stays.
		mustStatus(t, e.do("POST", "/api/files?id=kept1", bytes.NewReader([]byte("orphan")), "Content-Type", "text/plain"), http.StatusCreated)
		r = e.postJSON("/api/events/batch", `[
			{"id":{"id":"first"},"schema":{"$id":"n+v1","type":"object"},"payload":{},"files":[{"id":"kept1","data":"b3JwaGFu"}]},
			{"id":{"id":"taken"},"schema":{"$id":"n+v1","type":"object"},"payload":{"v":2}}]`)
		if r.status < 400 || r.status >= 500 {
			t.Fatalf("conflicting batch: %d %s", r.status, r.body)
		}
		mustStatus(t, e.get("/api/files/kept1"), http.StatusOK)
	})
}
