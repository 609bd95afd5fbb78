package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sluicehq/sluice/scheduler"
)

// metric finds one series of a family by its labels.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m
		}
	}
	return nil
}

// rejected returns the rejected counter for source and reason.
func rejected(t *testing.T, reg *prometheus.Registry, source, reason string) float64 {
	t.Helper()
	return metric(t, reg, "sluice_scheduler_rejected_total", map[string]string{"source": source, "reason": reason}).GetCounter().GetValue()
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{Registerer: reg, GlobalConcurrency: 1})
	a := submit(t, s, "acme", "a")
	submit(t, s, "acme", "b")
	if _, err := s.Submit(context.Background(), scheduler.Job{Tenant: "acme", Connection: "a", Kind: "sync"}); err == nil {
		t.Fatal("busy submit accepted")
	}
	if got := rejected(t, reg, "api", "busy"); got != 1 {
		t.Fatalf("rejected busy = %v", got)
	}
	gauge := func(name string) float64 {
		m := metric(t, reg, name, nil)
		if m == nil {
			t.Fatalf("no %s", name)
		}
		return m.GetGauge().GetValue()
	}
	if q, run := gauge("sluice_scheduler_queue_depth"), gauge("sluice_scheduler_running"); q != 2 || run != 0 {
		t.Fatalf("before Start: queue %v running %v", q, run)
	}
	clk.Advance(90 * time.Second)
	start(t, s)
	if q, run := gauge("sluice_scheduler_queue_depth"), gauge("sluice_scheduler_running"); q != 1 || run != 1 {
		t.Fatalf("after Start: queue %v running %v", q, run)
	}
	r.finish(t, s, a, nil)
	h := metric(t, reg, "sluice_scheduler_wait_seconds", map[string]string{"kind": "sync"}).GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 180 {
		t.Fatalf("wait histogram: %d samples, sum %v; want 2 and 180 s", h.GetSampleCount(), h.GetSampleSum())
	}
	if m := metric(t, reg, "sluice_scheduler_runs_started_total", map[string]string{"kind": "sync"}); m.GetCounter().GetValue() != 2 {
		t.Fatalf("started = %v, want 2", m.GetCounter().GetValue())
	}
	if m := metric(t, reg, "sluice_scheduler_runs_finished_total", map[string]string{"kind": "sync", "result": "done"}); m.GetCounter().GetValue() != 1 {
		t.Fatalf("finished done = %v, want 1", m.GetCounter().GetValue())
	}
	// A second scheduler on the same registry shares the collectors.
	if _, err := scheduler.New(scheduler.Config{Run: r.Run, Registerer: reg}); err != nil {
		t.Fatalf("second New on the same registry: %v", err)
	}
}
