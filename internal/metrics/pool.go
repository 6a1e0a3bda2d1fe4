package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// RegisterPool exposes the statistics of the database pool. stat is called
// at every scrape (pass pool.Stat); when it returns nil no pool series are
// reported. Call it once; a second call panics.
func (m *Metrics) RegisterPool(stat func() *pgxpool.Stat) {
	m.registry.MustRegister(newPoolCollector(stat))
}

// poolMetric is one series read off a pgxpool.Stat.
type poolMetric struct {
	desc      *prometheus.Desc
	valueType prometheus.ValueType
	value     func(*pgxpool.Stat) float64
}

// poolCollector reads pgxpool.Stat at scrape time. The pool keeps its own
// cumulative counts, so they are reported as const metrics rather than
// copied into counters that could drift from them.
type poolCollector struct {
	stat    func() *pgxpool.Stat
	metrics []poolMetric
}

func newPoolCollector(stat func() *pgxpool.Stat) *poolCollector {
	metric := func(name, help string, t prometheus.ValueType, value func(*pgxpool.Stat) float64) poolMetric {
		return poolMetric{
			desc:      prometheus.NewDesc(prometheus.BuildFQName(namespace, "db_pool", name), help, nil, nil),
			valueType: t,
			value:     value,
		}
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	return &poolCollector{stat: stat, metrics: []poolMetric{
		metric("connections", "Open connections in the pool: idle, in use and being opened.", gauge,
			func(s *pgxpool.Stat) float64 { return float64(s.TotalConns()) }),
		metric("idle_connections", "Open connections waiting to be acquired.", gauge,
			func(s *pgxpool.Stat) float64 { return float64(s.IdleConns()) }),
		metric("in_use_connections", "Connections acquired by a request or a transaction now.", gauge,
			func(s *pgxpool.Stat) float64 { return float64(s.AcquiredConns()) }),
		metric("constructing_connections", "Connections being opened now.", gauge,
			func(s *pgxpool.Stat) float64 { return float64(s.ConstructingConns()) }),
		metric("max_connections", "Largest number of connections the pool opens (database.pool_size + database.max_overflow).", gauge,
			func(s *pgxpool.Stat) float64 { return float64(s.MaxConns()) }),
		metric("acquires_total", "Successful acquires of a connection.", counter,
			func(s *pgxpool.Stat) float64 { return float64(s.AcquireCount()) }),
		metric("acquire_wait_seconds_total", "Time spent in successful acquires, added up.", counter,
			func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() }),
		metric("empty_acquires_total", "Successful acquires that found no idle connection and waited for one to be opened or released.", counter,
			func(s *pgxpool.Stat) float64 { return float64(s.EmptyAcquireCount()) }),
		metric("empty_acquire_wait_seconds_total", "Time spent by acquires that found no idle connection, added up.", counter,
			func(s *pgxpool.Stat) float64 { return s.EmptyAcquireWaitTime().Seconds() }),
		metric("canceled_acquires_total", "Acquires given up because their context ended (database.pool_timeout or the request's own).", counter,
			func(s *pgxpool.Stat) float64 { return float64(s.CanceledAcquireCount()) }),
		metric("connections_opened_total", "Connections opened by the pool.", counter,
			func(s *pgxpool.Stat) float64 { return float64(s.NewConnsCount()) }),
		metric("connections_closed_max_lifetime_total", "Connections closed because they reached database.pool_recycle.", counter,
			func(s *pgxpool.Stat) float64 { return float64(s.MaxLifetimeDestroyCount()) }),
		metric("connections_closed_max_idle_total", "Overflow connections closed because they sat idle too long.", counter,
			func(s *pgxpool.Stat) float64 { return float64(s.MaxIdleDestroyCount()) }),
	}}
}

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, pm := range c.metrics {
		ch <- pm.desc
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stat()
	if s == nil {
		return
	}
	for _, pm := range c.metrics {
		ch <- prometheus.MustNewConstMetric(pm.desc, pm.valueType, pm.value(s))
	}
}
