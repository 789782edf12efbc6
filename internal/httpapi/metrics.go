package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/trovedb/trove"
)

// StatsReporter is an optional interface of storage plugins: Stats returns
// named figures (fsyncs, bytes_written, index_lag, open_readers, …) read at
// each scrape and exported as trove_storage_<name>{plugin="…"}. Names are
// lower_snake_case; others are cleaned up.
type StatsReporter interface {
	Stats() map[string]float64
}

type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	eventsSaved prometheus.Counter
	streams     prometheus.Gauge
	// bodyBytes and bodyWaits: the in-flight budget of event bodies
	// (Options.MaxInflightEventBytes), taken and waited for.
	bodyBytes prometheus.Gauge
	bodyWaits prometheus.Gauge
	handler   http.Handler
}

func newMetrics(core *trove.Core, log *slog.Logger) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trove_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "trove_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern (streams: their whole life).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"route"}),
		eventsSaved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trove_events_saved_total",
			Help: "Events saved through the API (single and batch creates).",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "trove_event_streams",
			Help: "Event streams open now.",
		}),
		bodyBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "trove_http_event_body_bytes",
			Help: "Bytes of the in-flight budget of event bodies (limits.inflightEventBytes) held by requests being read or decoded now.",
		}),
		bodyWaits: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "trove_http_event_body_waits",
			Help: "Event requests waiting now for room in the in-flight budget of event bodies.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.eventsSaved, m.streams, m.bodyBytes, m.bodyWaits,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&storageCollector{core: core, log: log})
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// storageCollector exports the figures of every plugin that is a
// StatsReporter. It is unchecked: the names are the plugins' own. A plugin
// whose Stats panics is logged and left out of that scrape: the collector
// runs on the registry's goroutines, where a panic would end the process.
type storageCollector struct {
	core *trove.Core
	log  *slog.Logger
}

func (c *storageCollector) stats(p trove.Plugin, sr StatsReporter) (m map[string]float64) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("httpapi: panic in a storage plugin's Stats", "plugin", p.Name(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			m = nil
		}
	}()
	return sr.Stats()
}

func (c *storageCollector) Describe(chan<- *prometheus.Desc) {}

var badMetricChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

func (c *storageCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.core.PluginInstances() {
		sr, ok := p.(StatsReporter)
		if !ok {
			continue
		}
		for name, v := range c.stats(p, sr) {
			d := prometheus.NewDesc("trove_storage_"+badMetricChars.ReplaceAllString(name, "_"),
				"Storage figure "+name+" reported by the plugin.", []string{"plugin"}, nil)
			m, err := prometheus.NewConstMetric(d, prometheus.UntypedValue, v, p.Name())
			if err == nil {
				ch <- m
			}
		}
	}
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	s.metrics.handler.ServeHTTP(w, r)
}
