package webhooks

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the intake's collectors. Labels are fixed reasons, never
// tenant, connection or hook ids.
type metrics struct {
	accepted   prometheus.Counter
	rejected   *prometheus.CounterVec // reason: signature, unknown_hook, queue_full, bad_body, unavailable
	duplicates *prometheus.CounterVec // stage: delivery (webhook-id), event (connector event ids)
	processed  *prometheus.CounterVec // result: processed, duplicate, dead_lettered, retried
	batch      prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, depth func() float64) (*metrics, error) {
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_webhooks_accepted_total", Help: "Webhook deliveries verified and written to the inbox.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_webhooks_rejected_total", Help: "Webhook deliveries refused, by reason; nothing was stored.",
		}, []string{"reason"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_webhooks_duplicates_total", Help: "Webhook deliveries or events recognised as already seen, by stage (delivery: webhook-id; event: the connector's event ids).",
		}, []string{"stage"}),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_webhooks_processed_total", Help: "Webhook events taken out of the inbox, by result.",
		}, []string{"result"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sluice_webhooks_accept_batch_size", Help: "Deliveries written per inbox transaction (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
	}
	if reg == nil {
		return m, nil
	}
	gauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sluice_webhook_queue_depth", Help: "Webhook events accepted and not yet processed.",
	}, depth)
	for _, c := range []prometheus.Collector{m.accepted, m.rejected, m.duplicates, m.processed, m.batch, gauge} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue // a second Service on one registry (tests) shares the names
			}
			return nil, err
		}
	}
	return m, nil
}
