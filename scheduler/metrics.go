package scheduler

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sources of a rejected submission.
const (
	sourceAPI      = "api"
	sourceSchedule = "schedule"
)

// metrics are the scheduler's collectors. Labels are bounded: kind (2),
// result (4), source (2), reason (4); never tenant or connection.
type metrics struct {
	queueDepth prometheus.Gauge
	runningG   prometheus.Gauge
	startedC   *prometheus.CounterVec
	finishedC  *prometheus.CounterVec
	rejectedC  *prometheus.CounterVec
	waitH      *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_scheduler_queue_depth", Help: "Jobs waiting to start.",
		}),
		runningG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_scheduler_running", Help: "Jobs running.",
		}),
		startedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_scheduler_runs_started_total", Help: "Jobs started, by kind.",
		}, []string{"kind"}),
		finishedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_scheduler_runs_finished_total", Help: "Jobs finished, by kind and result (done, failed, interrupted, canceled).",
		}, []string{"kind", "result"}),
		rejectedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_scheduler_rejected_total", Help: "Submissions refused (api) or due syncs skipped (schedule), by reason (busy, queue_full, closed, other).",
		}, []string{"source", "reason"}),
		waitH: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sluice_scheduler_wait_seconds", Help: "Time jobs waited in the queue before starting, by kind.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10 ms … ~45 min
		}, []string{"kind"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.queueDepth, err = register(reg, m.queueDepth); err != nil {
		return nil, err
	}
	if m.runningG, err = register(reg, m.runningG); err != nil {
		return nil, err
	}
	if m.startedC, err = register(reg, m.startedC); err != nil {
		return nil, err
	}
	if m.finishedC, err = register(reg, m.finishedC); err != nil {
		return nil, err
	}
	if m.rejectedC, err = register(reg, m.rejectedC); err != nil {
		return nil, err
	}
	if m.waitH, err = register(reg, m.waitH); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered
// under its name (a second Scheduler on the same registry shares them).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

func (m *metrics) gauges(queued, running int) {
	m.queueDepth.Set(float64(queued))
	m.runningG.Set(float64(running))
}

func (m *metrics) started(kind string, waited time.Duration) {
	m.startedC.WithLabelValues(kind).Inc()
	m.waitH.WithLabelValues(kind).Observe(max(waited, 0).Seconds())
}

func (m *metrics) finished(kind, result string) { m.finishedC.WithLabelValues(kind, result).Inc() }

func (m *metrics) rejected(source string, err error) {
	reason := "other"
	switch {
	case errors.Is(err, ErrBusy):
		reason = "busy"
	case errors.Is(err, ErrQueueFull):
		reason = "queue_full"
	case errors.Is(err, ErrClosed):
		reason = "closed"
	}
	m.rejectedC.WithLabelValues(source, reason).Inc()
}
