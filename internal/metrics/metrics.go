// Package metrics holds the service's Prometheus metrics on a registry of its
// own, so that two instances (two servers in one test process, say) never
// collide in the global default registry, and serves them in the Prometheus
// text format.
//
// The HTTP layer reports each request with ObserveHTTP; the wiring registers
// the database pool and the password hasher, whose numbers are read at
// scrape time, and records the applied migration version.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// SetMigrationDrift records the result of a drift check:
// accounts_migration_drift_objects, the number of extra, missing and
// changed schema objects. A negative n (the check could not run) removes
// the series.
func (m *Metrics) SetMigrationDrift(n int) {
	m.drift.mu.Lock()
	defer m.drift.mu.Unlock()
	m.drift.known, m.drift.objects = n >= 0, n
}

// namespace starts the name of every metric of the service's own.
const namespace = "accounts"

// Metrics is the service's set of collectors and the registry that holds
// them. Its methods are safe for concurrent use.
type Metrics struct {
	registry *prometheus.Registry

	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	httpSeries     sync.Map // httpKey → httpSeries: the children of the two above, found once
	hasherRejected prometheus.Counter
	migration      *migrationCollector
	drift          *driftCollector
}

// New returns the service's metrics on a new private registry that also holds
// the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Subsystem: "http",
			Name:      "requests_total",
			Help:      "HTTP requests answered, by method, route template and status code.",
		}, []string{"method", "route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Subsystem: "http",
			Name:      "request_duration_seconds",
			Help:      "Time from the start of a request to the end of its response, by method, route template and status code.",
			Buckets:   prometheus.DefBuckets,
		}, []string{"method", "route", "status"}),
		hasherRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace,
			Subsystem: "password_hasher",
			Name:      "rejected_total",
			Help:      "Password hashes refused with 503 because no hashing slot freed up within password.max_wait.",
		}),
		migration: newMigrationCollector(),
		drift:     newDriftCollector(),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests,
		m.httpDuration,
		m.hasherRejected,
		m.migration,
		m.drift,
	)
	return m
}

// Handler serves every metric of the registry in the Prometheus exposition
// format, for GET /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// ObserveHTTP records one answered request: its method, the route template
// it matched ("/users/:id", never the raw path, so that the number of series
// stays bounded), its status code and how long it took. An empty route,
// a request that matched none, is recorded as "unmatched"; a method outside
// the standard ones as "OTHER", since a client chooses it freely.
func (m *Metrics) ObserveHTTP(method, route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	key := httpKey{normalizeMethod(method), route, status}
	v, ok := m.httpSeries.Load(key)
	if !ok {
		// Routes are templates and methods are normalized, so the keys
		// stay as few as the series themselves.
		labels := prometheus.Labels{"method": key.method, "route": route, "status": strconv.Itoa(status)}
		v, _ = m.httpSeries.LoadOrStore(key, httpSeries{m.httpRequests.With(labels), m.httpDuration.With(labels)})
	}
	series := v.(httpSeries)
	series.requests.Inc()
	series.duration.Observe(d.Seconds())
}

// httpKey names the series of one kind of answer: the label values.
type httpKey struct {
	method, route string
	status        int
}

// httpSeries are the request counter and the duration histogram of one
// httpKey. Looking them up by label values hashes every label and builds a
// map per request; kept, they cost one lookup.
type httpSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func normalizeMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// RegisterHasher exposes the saturation of the password hasher: inUse is
// read at every scrape and gives the hashes being computed now, capacity is
// password.max_concurrent. Call it once; a second call panics.
func (m *Metrics) RegisterHasher(inUse func() int, capacity int) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace,
			Subsystem: "password_hasher",
			Name:      "in_use",
			Help:      "Password hashes being computed now.",
		}, func() float64 { return float64(inUse()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace,
			Subsystem: "password_hasher",
			Name:      "capacity",
			Help:      "Password hashes that may be computed at once (password.max_concurrent).",
		}, func() float64 { return float64(capacity) }),
	)
}

// RegisterConnections exposes the connection budget of the API's
// listener: stats is read at every scrape and gives the connections open
// now, those closed to make room and those refused since the start; max
// is http.max_connections as in force. Call it once.
func (m *Metrics) RegisterConnections(stats func() (open int, shed, refused uint64), max int) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "http", Name: "connections_open",
			Help: "Connections the API holds open now.",
		}, func() float64 { open, _, _ := stats(); return float64(open) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "http", Name: "connections_max",
			Help: "Connections the API may hold open at once (http.max_connections, as lowered to fit the open-file limit).",
		}, func() float64 { return float64(max) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "http", Name: "connections_shed_total",
			Help: "Idle connections closed to make room for a new one at a connection cap.",
		}, func() float64 { _, shed, _ := stats(); return float64(shed) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "http", Name: "connections_refused_total",
			Help: "New connections closed at once because a cap was reached and no connection was idle.",
		}, func() float64 { _, _, refused := stats(); return float64(refused) }),
	)
}

// BuildInfo is what accounts_build_info labels: the binary's version, its
// commit and the Go release that built it.
type BuildInfo struct {
	Version, Commit, GoVersion string
}

// RegisterBuild exposes accounts_build_info{version,commit,goversion} 1, so
// that a dashboard can tell which build each replica runs. Empty fields are
// "unknown". Call it once; a second call panics.
func (m *Metrics) RegisterBuild(b BuildInfo) {
	label := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace:   namespace,
		Name:        "build_info",
		Help:        "Always 1, labelled with the version, the commit and the Go version of the running binary.",
		ConstLabels: prometheus.Labels{"version": label(b.Version), "commit": label(b.Commit), "goversion": label(b.GoVersion)},
	})
	g.Set(1)
	m.registry.MustRegister(g)
}

// HasherRejected counts one password hash refused with 503 because no
// hashing slot freed up in time.
func (m *Metrics) HasherRejected() {
	m.hasherRejected.Inc()
}

// SetMigration records where the database stands against this build:
// accounts_migration_info{version="…",build="…",newer="N"} 1, with version
// the newest migration applied to the database, build the last migration
// file of this build, and newer how many applied migrations are newer than
// the build (not 0 during a rolling deploy, while an older release serves a
// database the next release migrated). The series before disappears; an
// empty version (no migration applied) leaves none.
func (m *Metrics) SetMigration(version, build string, newer int) {
	m.migration.set(migrationState{version: version, build: build, newer: newer})
}
