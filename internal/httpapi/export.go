package httpapi

import (
	"net/http"
	"strconv"

	"github.com/trovedb/trove/backup"
)

// handleExport is GET /api/export[?from=P]: the whole store in the export
// format (backup/FORMAT.md), read from the running daemon, for an online
// backup: the events committed when the request began, a prefix of the log.
// The stream ends with its end line; one that breaks off without it was
// cut short.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	var opts backup.ExportOptions
	v := r.URL.Query()
	for key := range v {
		if key != "from" {
			s.fail(w, r, badRequest("unknown query parameter "+strconv.Quote(key)+" (known: from)"))
			return
		}
	}
	if from := v.Get("from"); from != "" {
		n, err := parsePosition(from)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		opts.From = n
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="trove-export.ndjson"`)
	s.extendRead(w)
	if _, err := backup.Export(r.Context(), s.core, w, opts); err != nil {
		s.log.Error("httpapi: export stopped", "err", err)
		// The status is sent: break the stream so that the client sees it
		// end without the end line.
		panic(http.ErrAbortHandler)
	}
}
