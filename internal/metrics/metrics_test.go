package metrics_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"accounts/internal/metrics"
)

// scrape fetches the handler the way Prometheus does and parses the text
// exposition, so the tests check what a scraper reads, not Go values.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: status %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape: Content-Type %q, want the text format", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape: parse exposition: %v", err)
	}
	return families
}

// series returns the metric of family name whose labels are exactly labels,
// failing the test when there is none.
func series(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mf, ok := families[name]
	if !ok {
		t.Fatalf("no metric family %s; have %v", name, slices.Sorted(maps.Keys(families)))
	}
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if maps.Equal(got, labels) {
			return m
		}
	}
	t.Fatalf("%s has no series with labels %v; it has %v", name, labels, mf.GetMetric())
	return nil
}

// value returns the value of a gauge, counter or untyped series.
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := series(t, families, name, labels)
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	t.Fatalf("%s%v is neither gauge nor counter", name, labels)
	return 0
}

func wantType(t *testing.T, families map[string]*dto.MetricFamily, name string, want dto.MetricType) {
	t.Helper()
	if mf, ok := families[name]; !ok {
		t.Errorf("no metric family %s", name)
	} else if mf.GetType() != want {
		t.Errorf("%s is a %s, want a %s", name, mf.GetType(), want)
	}
}

func TestObserveHTTPCountsAndTimesByMethodRouteStatus(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.ObserveHTTP("GET", "/users/:id", 200, 30*time.Millisecond)
	m.ObserveHTTP("GET", "/users/:id", 200, 40*time.Millisecond)
	m.ObserveHTTP("GET", "/users/:id", 404, 3*time.Millisecond)
	m.ObserveHTTP("POST", "/auth/login", 401, 2*time.Second)
	// A method a client made up and a request that matched no route must
	// not create a series of their own each.
	m.ObserveHTTP("BREW", "", 404, time.Millisecond)
	m.ObserveHTTP("PROPFIND", "", 404, time.Millisecond)

	f := scrape(t, m)
	wantType(t, f, "accounts_http_requests_total", dto.MetricType_COUNTER)
	wantType(t, f, "accounts_http_request_duration_seconds", dto.MetricType_HISTOGRAM)
	counts := []struct {
		method, route, status string
		want                  float64
	}{
		{"GET", "/users/:id", "200", 2},
		{"GET", "/users/:id", "404", 1},
		{"POST", "/auth/login", "401", 1},
		{"OTHER", "unmatched", "404", 2},
	}
	for _, c := range counts {
		labels := map[string]string{"method": c.method, "route": c.route, "status": c.status}
		if got := value(t, f, "accounts_http_requests_total", labels); got != c.want {
			t.Errorf("accounts_http_requests_total%v = %v, want %v", labels, got, c.want)
		}
	}
	if n := len(f["accounts_http_requests_total"].GetMetric()); n != len(counts) {
		t.Errorf("accounts_http_requests_total has %d series, want %d", n, len(counts))
	}

	h := series(t, f, "accounts_http_request_duration_seconds",
		map[string]string{"method": "GET", "route": "/users/:id", "status": "200"}).GetHistogram()
	if h.GetSampleCount() != 2 {
		t.Errorf("histogram count = %d, want 2", h.GetSampleCount())
	}
	if got := h.GetSampleSum(); got < 0.0699 || got > 0.0701 {
		t.Errorf("histogram sum = %v s, want 0.07 s", got)
	}
	buckets := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		buckets[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	// 30 ms and 40 ms: above the 25 ms bucket, both within 50 ms.
	if buckets[0.025] != 0 || buckets[0.05] != 2 {
		t.Errorf("buckets le=0.025: %d, le=0.05: %d; want 0 and 2 (all: %v)", buckets[0.025], buckets[0.05], buckets)
	}
	slow := series(t, f, "accounts_http_request_duration_seconds",
		map[string]string{"method": "POST", "route": "/auth/login", "status": "401"}).GetHistogram()
	if slow.GetSampleSum() != 2 {
		t.Errorf("slow request sum = %v s, want 2 s", slow.GetSampleSum())
	}
}

func TestHandlerServesRuntimeAndProcessMetrics(t *testing.T) {
	t.Parallel()
	f := scrape(t, metrics.New())
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_start_time_seconds", "process_resident_memory_bytes"} {
		if _, ok := f[name]; !ok {
			t.Errorf("no %s in the scrape", name)
		}
	}
	// Before anything is registered or observed, the hasher's rejections
	// already read 0 so that rate() works from the first scrape.
	if got := value(t, f, "accounts_password_hasher_rejected_total", nil); got != 0 {
		t.Errorf("accounts_password_hasher_rejected_total = %v, want 0", got)
	}
	for _, absent := range []string{"accounts_migration_info", "accounts_db_pool_connections", "accounts_password_hasher_in_use"} {
		if _, ok := f[absent]; ok {
			t.Errorf("%s is reported before it was set or registered", absent)
		}
	}
}

func TestRegistryIsPrivate(t *testing.T) {
	t.Parallel()
	// Two instances in one process must not collide, and neither may leak
	// into the global registry that other libraries write to.
	a, b := metrics.New(), metrics.New()
	a.ObserveHTTP("GET", "/livez", 200, time.Millisecond)
	if _, ok := scrape(t, b)["accounts_http_requests_total"]; ok {
		t.Error("a request observed on one Metrics shows in another's scrape")
	}
	global, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range global {
		if strings.HasPrefix(mf.GetName(), "accounts_") {
			t.Errorf("%s is in the global default registry", mf.GetName())
		}
	}
}

func TestHasherSaturation(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	inUse := 0
	m.RegisterHasher(func() int { return inUse }, 4)

	f := scrape(t, m)
	if got := value(t, f, "accounts_password_hasher_in_use", nil); got != 0 {
		t.Errorf("in_use = %v, want 0", got)
	}
	if got := value(t, f, "accounts_password_hasher_capacity", nil); got != 4 {
		t.Errorf("capacity = %v, want 4", got)
	}

	// in_use is read at scrape time, not copied at registration.
	inUse = 3
	m.HasherRejected()
	m.HasherRejected()
	f = scrape(t, m)
	if got := value(t, f, "accounts_password_hasher_in_use", nil); got != 3 {
		t.Errorf("in_use = %v, want 3", got)
	}
	if got := value(t, f, "accounts_password_hasher_rejected_total", nil); got != 2 {
		t.Errorf("rejected_total = %v, want 2", got)
	}
	wantType(t, f, "accounts_password_hasher_rejected_total", dto.MetricType_COUNTER)
}

func TestMigrationVersionShowsOnlyTheCurrentOne(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.SetMigration("20250101000000", "20250101000000", 0)
	f := scrape(t, m)
	if got := value(t, f, "accounts_migration_info", map[string]string{"version": "20250101000000", "build": "20250101000000", "newer": "0"}); got != 1 {
		t.Errorf("migration_info = %v, want 1", got)
	}

	m.SetMigration("20250202000000", "20250101000000", 1)
	f = scrape(t, m)
	if got := value(t, f, "accounts_migration_info", map[string]string{"version": "20250202000000", "build": "20250101000000", "newer": "1"}); got != 1 {
		t.Errorf("migration_info = %v, want 1", got)
	}
	if n := len(f["accounts_migration_info"].GetMetric()); n != 1 {
		t.Errorf("migration_info has %d series after a change of version, want 1", n)
	}

	m.SetMigration("", "20250101000000", 0)
	if _, ok := scrape(t, m)["accounts_migration_info"]; ok {
		t.Error("migration_info still reported after the version was cleared")
	}
}

func TestMigrationDriftOnlyOnceChecked(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	if _, ok := scrape(t, m)["accounts_migration_drift_objects"]; ok {
		t.Error("drift reported before any check")
	}
	m.SetMigrationDrift(3)
	f := scrape(t, m)
	if got := value(t, f, "accounts_migration_drift_objects", nil); got != 3 {
		t.Errorf("drift_objects = %v, want 3", got)
	}
	wantType(t, f, "accounts_migration_drift_objects", dto.MetricType_GAUGE)
	m.SetMigrationDrift(-1)
	if _, ok := scrape(t, m)["accounts_migration_drift_objects"]; ok {
		t.Error("drift still reported after a check that could not run")
	}
}

func TestPoolWithoutStatReportsNothing(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.RegisterPool(func() *pgxpool.Stat { return nil })
	for name := range scrape(t, m) {
		if strings.HasPrefix(name, "accounts_db_pool_") {
			t.Errorf("%s reported while the pool gives no statistics", name)
		}
	}
}

// testServerURL is the PostgreSQL server the pool test connects to.
func testServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// openPool connects a real pool of at most maxConns connections, skipping
// the test when no server answers, and failing it when CI is set.
func openPool(t *testing.T, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testServerURL())
	if err != nil {
		t.Fatalf("parse test database URL: %v", err)
	}
	cfg.MaxConns = maxConns
	cfg.MinConns = 0
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("no PostgreSQL at TEST_DATABASE_URL or 127.0.0.1:5432 (CI is set, so this is an error): %v", err)
		}
		t.Skipf("no PostgreSQL at TEST_DATABASE_URL or 127.0.0.1:5432: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func TestPoolStatisticsFromARealPool(t *testing.T) {
	t.Parallel()
	pool := openPool(t, 1)
	m := metrics.New()
	m.RegisterPool(pool.Stat)
	ctx := context.Background()

	// openPool pinged once: one connection opened, acquired and released.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := scrape(t, m)
	gauges := map[string]float64{
		"accounts_db_pool_connections":              1,
		"accounts_db_pool_in_use_connections":       1,
		"accounts_db_pool_idle_connections":         0,
		"accounts_db_pool_constructing_connections": 0,
		"accounts_db_pool_max_connections":          1,
	}
	for name, want := range gauges {
		wantType(t, f, name, dto.MetricType_GAUGE)
		if got := value(t, f, name, nil); got != want {
			t.Errorf("with one connection held: %s = %v, want %v", name, got, want)
		}
	}
	if got := value(t, f, "accounts_db_pool_acquires_total", nil); got != 2 {
		t.Errorf("acquires_total = %v, want 2 (the ping and this acquire)", got)
	}
	if got := value(t, f, "accounts_db_pool_connections_opened_total", nil); got != 1 {
		t.Errorf("connections_opened_total = %v, want 1", got)
	}
	// The ping found the pool empty and waited for the first connection.
	if got := value(t, f, "accounts_db_pool_empty_acquires_total", nil); got != 1 {
		t.Errorf("empty_acquires_total = %v, want 1", got)
	}
	if got := value(t, f, "accounts_db_pool_acquire_wait_seconds_total", nil); got <= 0 {
		t.Errorf("acquire_wait_seconds_total = %v, want > 0 after opening a connection", got)
	}
	if got := value(t, f, "accounts_db_pool_canceled_acquires_total", nil); got != 0 {
		t.Errorf("canceled_acquires_total = %v, want 0", got)
	}

	// The only connection is held: an acquire with a short deadline gives up.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = pool.Acquire(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire from an exhausted pool: err = %v, want the deadline", err)
	}
	conn.Release()

	f = scrape(t, m)
	after := map[string]float64{
		"accounts_db_pool_in_use_connections":                    0,
		"accounts_db_pool_idle_connections":                      1,
		"accounts_db_pool_canceled_acquires_total":               1,
		"accounts_db_pool_acquires_total":                        2,
		"accounts_db_pool_connections_closed_max_lifetime_total": 0,
		"accounts_db_pool_connections_closed_max_idle_total":     0,
	}
	for name, want := range after {
		if got := value(t, f, name, nil); got != want {
			t.Errorf("after release and a canceled acquire: %s = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"accounts_db_pool_acquires_total", "accounts_db_pool_canceled_acquires_total", "accounts_db_pool_empty_acquire_wait_seconds_total"} {
		wantType(t, f, name, dto.MetricType_COUNTER)
	}
}

// BenchmarkObserveHTTP is what recording one answered request costs.
func BenchmarkObserveHTTP(b *testing.B) {
	m := metrics.New()
	for b.Loop() {
		m.ObserveHTTP("GET", "/api/v1/users/:id", 200, time.Millisecond)
	}
}
