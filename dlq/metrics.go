package dlq

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/store"
)

// depthDesc is the DLQ depth gauge. Labels: tenant and connection, both
// ids an administrator created (see the package doc).
var depthDesc = prometheus.NewDesc("sluice_dlq_depth",
	"Dead-letter items waiting per connection, read from the store at scrape time.",
	[]string{"tenant", "connection"}, nil)

// scrapeTimeout bounds the store reads of one scrape.
const scrapeTimeout = 5 * time.Second

// depthCollector reads queue depths at scrape time, so the gauge is the
// store's truth even after a restart or a change made by another
// process, with no counter to keep in step.
type depthCollector struct{ db *store.DB }

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- depthDesc }

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	depths, err := Depths(ctx, c.db)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(depthDesc, err)
		return
	}
	for _, d := range depths {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(d.Items), d.Tenant, d.Connection)
	}
}

// Depth is the queue depth of one connection.
type Depth struct {
	Tenant, Connection string
	Items              int
}

// Depths reads the depth of every connection of every tenant: 0 for a
// connection with an empty queue, and a row for a deleted connection
// that left items. Keys only: one scan of the connection records and one
// of the queue index per tenant.
func Depths(ctx context.Context, db *store.DB) ([]Depth, error) {
	tenants, err := db.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	var out []Depth
	for _, id := range tenants {
		t, err := db.Tenant(id)
		if err != nil {
			return nil, err
		}
		byConn, err := t.DLQDepths(ctx)
		if err != nil {
			return nil, err
		}
		after := ""
		for {
			conns, next, err := t.Connections(ctx, after, 1000)
			if err != nil {
				return nil, err
			}
			for _, c := range conns {
				out = append(out, Depth{Tenant: id, Connection: c.ID, Items: byConn[c.ID]})
				delete(byConn, c.ID)
			}
			if next == "" {
				break
			}
			after = next
		}
		for conn, n := range byConn {
			out = append(out, Depth{Tenant: id, Connection: conn, Items: n})
		}
	}
	return out, nil
}
