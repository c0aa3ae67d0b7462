package httpapi

import (
	"crypto/subtle"
	"database/sql"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the HTTP metrics of one Server, registered in its private registry.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// streamDuration times streaming routes (SSE, WebSocket) instead of duration: they
	// last minutes to hours, so they get their own buckets and never skew request latency.
	streamDuration *prometheus.HistogramVec
	inFlight       prometheus.Gauge
	handler        http.Handler // Prometheus exposition of the registry
}

// newMetrics builds a private registry with the HTTP, database, Go runtime and process
// metrics. It fails only if a collector cannot be registered (a programming error).
func newMetrics(dbStats func() sql.DBStats) (*metrics, error) {
	reg := prometheus.NewRegistry()
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tldw_http_requests_total",
			Help: "HTTP requests served, by method, route template and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tldw_http_request_duration_seconds",
			Help:    "HTTP request latency, by method and route template.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		streamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tldw_http_stream_duration_seconds",
			Help:    "How long streaming routes (SSE, WebSocket) stayed open, by method and route template; not in tldw_http_request_duration_seconds.",
			Buckets: []float64{1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600},
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tldw_http_requests_in_flight",
			Help: "HTTP requests currently being served.",
		}),
	}
	cs := []prometheus.Collector{m.requests, m.duration, m.streamDuration, m.inFlight,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if dbStats != nil {
		cs = append(cs, newDBStatsCollector(dbStats))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("httpapi: register metrics: %w", err)
		}
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m, nil
}

// routes serve the Prometheus exposition when metrics are enabled.
func (s *metricsAPI) routes() []route {
	if !s.o.EnableMetrics {
		return nil
	}
	resp := map[int]string{200: "Prometheus text exposition", 403: "Client not allowed"}
	return []route{
		{Method: http.MethodGet, Path: "/metrics", ID: "getMetrics", Tag: "monitoring", Public: true, AnyHost: true,
			Summary:  "Prometheus metrics (loopback, METRICS_ALLOWED_CIDRS or METRICS_TOKEN only)",
			Produces: "text/plain", Responses: resp, Handler: s.serveMetrics},
		{Method: http.MethodGet, Path: "/api/v1/health/metrics", ID: "getHealthMetrics", Tag: "monitoring", Public: true, AnyHost: true,
			Summary:  "Prometheus metrics (loopback, METRICS_ALLOWED_CIDRS or METRICS_TOKEN only)",
			Produces: "text/plain", Responses: resp, Handler: s.serveMetrics},
	}
}

func (s *metricsAPI) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	if !s.metricsAllowed(r) {
		return Errorf(http.StatusForbidden, "forbidden", "metrics are not available to this client")
	}
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}

// metricsAllowed admits a direct loopback peer, a peer inside MetricsAllowed, or a request
// with the bearer MetricsToken. A loopback peer that forwards for someone else (a reverse
// proxy on the same host sets X-Forwarded-For and friends) does not count as loopback.
func (s *metricsAPI) metricsAllowed(r *http.Request) bool {
	if tok := s.o.MetricsToken; tok != "" {
		scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if ok && strings.EqualFold(scheme, "Bearer") &&
			subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(tok)) == 1 {
			return true
		}
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	if addr.IsLoopback() && !proxied(r) {
		return true
	}
	for _, p := range s.o.MetricsAllowed {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// proxied reports whether the request carries forwarding headers.
func proxied(r *http.Request) bool {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip"} {
		if r.Header.Get(h) != "" {
			return true
		}
	}
	return false
}

// dbStatsCollector exports database/sql pool statistics as tldw_db_* metrics, like
// collectors.NewDBStatsCollector but from a stats function (the pool stays in the adapter).
type dbStatsCollector struct {
	stats                                               func() sql.DBStats
	maxOpen, open, inUse, idle                          *prometheus.Desc
	waitCount, waitDuration                             *prometheus.Desc
	maxIdleClosed, maxIdleTimeClosed, maxLifetimeClosed *prometheus.Desc
}

func newDBStatsCollector(stats func() sql.DBStats) *dbStatsCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc("tldw_db_"+name, help, nil, nil) }
	return &dbStatsCollector{
		stats:             stats,
		maxOpen:           d("max_open_connections", "Maximum number of open connections to the database."),
		open:              d("open_connections", "Established connections, in use and idle."),
		inUse:             d("in_use_connections", "Connections currently in use."),
		idle:              d("idle_connections", "Idle connections."),
		waitCount:         d("wait_count_total", "Connections waited for."),
		waitDuration:      d("wait_duration_seconds_total", "Time blocked waiting for a new connection."),
		maxIdleClosed:     d("max_idle_closed_total", "Connections closed due to the idle limit."),
		maxIdleTimeClosed: d("max_idle_time_closed_total", "Connections closed due to the idle time limit."),
		maxLifetimeClosed: d("max_lifetime_closed_total", "Connections closed due to the lifetime limit."),
	}
}

// Describe implements prometheus.Collector.
func (c *dbStatsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.maxOpen, c.open, c.inUse, c.idle, c.waitCount,
		c.waitDuration, c.maxIdleClosed, c.maxIdleTimeClosed, c.maxLifetimeClosed} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *dbStatsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	g, n := prometheus.GaugeValue, prometheus.CounterValue
	ch <- prometheus.MustNewConstMetric(c.maxOpen, g, float64(st.MaxOpenConnections))
	ch <- prometheus.MustNewConstMetric(c.open, g, float64(st.OpenConnections))
	ch <- prometheus.MustNewConstMetric(c.inUse, g, float64(st.InUse))
	ch <- prometheus.MustNewConstMetric(c.idle, g, float64(st.Idle))
	ch <- prometheus.MustNewConstMetric(c.waitCount, n, float64(st.WaitCount))
	ch <- prometheus.MustNewConstMetric(c.waitDuration, n, st.WaitDuration.Seconds())
	ch <- prometheus.MustNewConstMetric(c.maxIdleClosed, n, float64(st.MaxIdleClosed))
	ch <- prometheus.MustNewConstMetric(c.maxIdleTimeClosed, n, float64(st.MaxIdleTimeClosed))
	ch <- prometheus.MustNewConstMetric(c.maxLifetimeClosed, n, float64(st.MaxLifetimeClosed))
}
