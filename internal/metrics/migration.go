package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// migrationCollector exposes the applied migration version as an info
// metric. It keeps the version itself, rather than a GaugeVec that would be
// reset and set again, so that a scrape sees exactly one version, or none
// before the first is known.
type migrationCollector struct {
	desc *prometheus.Desc

	mu      sync.Mutex
	version string
}

func newMigrationCollector() *migrationCollector {
	return &migrationCollector{
		desc: prometheus.NewDesc(
			prometheus.BuildFQName(namespace, "", "migration_info"),
			"Always 1, labelled with the migration version applied to the database.",
			[]string{"version"}, nil,
		),
	}
}

func (c *migrationCollector) set(version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version = version
}

// Describe implements prometheus.Collector.
func (c *migrationCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
}

// Collect implements prometheus.Collector.
func (c *migrationCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	version := c.version
	c.mu.Unlock()
	if version != "" {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 1, version)
	}
}
