package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// migrationCollector exposes where the database stands against the build
// as an info metric. It keeps the state itself, rather than a GaugeVec
// that would be reset and set again, so that a scrape sees exactly one
// series, or none before the first version is known.
type migrationCollector struct {
	desc *prometheus.Desc

	mu    sync.Mutex
	state migrationState
}

type migrationState struct {
	version, build string
	newer          int
}

func newMigrationCollector() *migrationCollector {
	return &migrationCollector{
		desc: prometheus.NewDesc(
			prometheus.BuildFQName(namespace, "", "migration_info"),
			"Always 1, labelled with the migration version applied to the database, the last migration of this build, and how many applied migrations are newer than the build.",
			[]string{"version", "build", "newer"}, nil,
		),
	}
}

func (c *migrationCollector) set(s migrationState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = s
}

// Describe implements prometheus.Collector.
func (c *migrationCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
}

// Collect implements prometheus.Collector.
func (c *migrationCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	s := c.state
	c.mu.Unlock()
	if s.version != "" {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 1, s.version, s.build, strconv.Itoa(s.newer))
	}
}

// driftCollector exposes how many schema objects of the database differ
// from what its applied migration files make, once a drift check has run
// (before that, or when the check cannot run, there is no series rather
// than a 0 that claims "no drift").
type driftCollector struct {
	desc *prometheus.Desc

	mu      sync.Mutex
	known   bool
	objects int
}

func newDriftCollector() *driftCollector {
	return &driftCollector{
		desc: prometheus.NewDesc(
			prometheus.BuildFQName(namespace, "migration", "drift_objects"),
			"Schema objects of the database that are extra, missing or changed against what its applied migration files make (accounts migrate drift lists them).",
			nil, nil,
		),
	}
}

// Describe implements prometheus.Collector.
func (c *driftCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
}

// Collect implements prometheus.Collector.
func (c *driftCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	known, n := c.known, c.objects
	c.mu.Unlock()
	if known {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
	}
}
