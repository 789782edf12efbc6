package httpapi_test

import (
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
