package engine

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus collectors. Labels are bounded:
// export names, run kinds, results and record outcomes.
type metrics struct {
	runs        *prometheus.CounterVec
	records     *prometheus.CounterVec
	callSeconds *prometheus.HistogramVec
	instances   prometheus.Counter
	rateLimited prometheus.Counter
	poolIdle    prometheus.Gauge
	deadLetters *prometheus.CounterVec
	*observability
}

func newMetrics(reg prometheus.Registerer, o *observability) (*metrics, error) {
	m := &metrics{
		observability: o,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_runs_total", Help: "Finished runs by kind and result.",
		}, []string{"kind", "result"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_records_total", Help: "Records ingested by outcome (created, updated, skipped, rejected).",
		}, []string{"outcome"}),
		callSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sluice_wasm_call_duration_seconds", Help: "Duration of Wasm export calls.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"export"}),
		instances: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_wasm_instances_created_total", Help: "Wasm instances created (cold starts).",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_rate_limit_hits_total", Help: "429 answers absorbed by the host (Retry-After honoured).",
		}),
		poolIdle: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_wasm_pool_idle_instances", Help: "Idle pooled Wasm instances.",
		}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_dlq_dead_letters_total", Help: "Failed export calls written to the dead-letter queue, by kind.",
		}, []string{"kind"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range append([]prometheus.Collector{m.runs, m.records, m.callSeconds, m.instances, m.rateLimited, m.poolIdle, m.deadLetters}, o.collectors()...) {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}
