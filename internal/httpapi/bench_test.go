package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trovedb/trove/internal/httpapi"
)

// BenchmarkCreate posts single events over loopback HTTP from parallel
// clients; ns/op is per event.
func BenchmarkCreate(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			srv := newBenchServer(b, be)
			body := note("benchmark", 1)
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := srv.Client().Post(srv.URL+"/api/events", "application/json", strings.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusCreated {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
		})
	}
}

// BenchmarkBatch posts batches of 100 events; ns/op is per batch. The
// minimal cases ask for ids and positions only (Prefer: return=minimal).
func BenchmarkBatch(b *testing.B) {
	var events []string
	for i := range 100 {
		events = append(events, note(fmt.Sprint(i), i))
	}
	body := "[" + strings.Join(events, ",") + "]"
	for _, be := range backends {
		for _, minimal := range []bool{false, true} {
			name := be.name
			if minimal {
				name += "/minimal"
			}
			b.Run(name, func(b *testing.B) {
				srv := newBenchServer(b, be)
				b.SetBytes(int64(len(body)))
				b.ResetTimer()
				for b.Loop() {
					req, err := http.NewRequest("POST", srv.URL+"/api/events/batch", strings.NewReader(body))
					if err != nil {
						b.Fatal(err)
					}
					req.Header.Set("Content-Type", "application/json")
					if minimal {
						req.Header.Set("Prefer", "return=minimal")
					}
					res, err := srv.Client().Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusCreated {
						b.Fatalf("status %d", res.StatusCode)
					}
				}
				b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

func newBenchServer(b *testing.B, be backend) *httptest.Server {
	srv, _, _ := startServer(b, be, httpapi.Options{})
	srv.Client().Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	return srv
}

// BenchmarkBatchEcho is the baseline of BenchmarkBatch: a bare server that
// only decodes each batch into Go values and echoes it back, driven by the
// same client with the same bodies. BenchmarkBatch's events/s over this
// one's, from one run, is what the API costs beyond decoding and echoing.
func BenchmarkBatchEcho(b *testing.B) {
	var events []string
	for i := range 100 {
		events = append(events, note(fmt.Sprint(i), i))
	}
	body := "[" + strings.Join(events, ",") + "]"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"events": batch})
	}))
	defer srv.Close()
	srv.Client().Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		res, err := srv.Client().Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
}
