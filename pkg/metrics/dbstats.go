package metrics

import (
	"database/sql"

	"github.com/prometheus/client_golang/prometheus"
)

// DBStats is what RegisterDB reads: the pool statistics, nothing else of
// the database (store.DB implements it without handing out its pool).
type DBStats interface {
	Stats() sql.DBStats
}

// dbStatsCollector exports the go_sql_* series of client_golang's
// collectors.NewDBStatsCollector (same names, help and labels) from a
// DBStats instead of a *sql.DB.
type dbStatsCollector struct {
	db    DBStats
	descs [9]*prometheus.Desc
}

var dbStatsSeries = [9]struct{ name, help string }{
	{"max_open_connections", "Maximum number of open connections to the database."},
	{"open_connections", "The number of established connections both in use and idle."},
	{"in_use_connections", "The number of connections currently in use."},
	{"idle_connections", "The number of idle connections."},
	{"wait_count_total", "The total number of connections waited for."},
	{"wait_duration_seconds_total", "The total time blocked waiting for a new connection."},
	{"max_idle_closed_total", "The total number of connections closed due to SetMaxIdleConns."},
	{"max_idle_time_closed_total", "The total number of connections closed due to SetConnMaxIdleTime."},
	{"max_lifetime_closed_total", "The total number of connections closed due to SetConnMaxLifetime."},
}

func newDBStatsCollector(db DBStats, dbName string) *dbStatsCollector {
	c := &dbStatsCollector{db: db}
	for i, s := range dbStatsSeries {
		c.descs[i] = prometheus.NewDesc("go_sql_"+s.name, s.help, nil, prometheus.Labels{"db_name": dbName})
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *dbStatsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *dbStatsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.db.Stats()
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	values := [9]struct {
		t prometheus.ValueType
		v float64
	}{
		{gauge, float64(s.MaxOpenConnections)}, {gauge, float64(s.OpenConnections)},
		{gauge, float64(s.InUse)}, {gauge, float64(s.Idle)},
		{counter, float64(s.WaitCount)}, {counter, s.WaitDuration.Seconds()},
		{counter, float64(s.MaxIdleClosed)}, {counter, float64(s.MaxIdleTimeClosed)},
		{counter, float64(s.MaxLifetimeClosed)},
	}
	for i, v := range values {
		ch <- prometheus.MustNewConstMetric(c.descs[i], v.t, v.v)
	}
}
