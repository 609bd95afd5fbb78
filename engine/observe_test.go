package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/store"
)

func TestBoundedLabel(t *testing.T) {
	b := newBoundedLabel(2, "other")
	for _, c := range []struct{ in, want string }{
		{"http_5xx", "http_5xx"},
		{"egress_denied", "egress_denied"},
		{"http_5xx", "http_5xx"},           // seen: kept
		{"third", "other"},                 // over the cap
		{"Has Spaces", "other"},            // not an identifier
		{strings.Repeat("a", 49), "other"}, // too long
	} {
		if got := b.value(c.in); got != c.want {
			t.Errorf("value(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestObservabilityMetrics(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	o := newObservability(1, func() time.Time { return now })
	reg := prometheus.NewPedanticRegistry()
	for _, c := range o.collectors() {
		reg.MustRegister(c)
	}
	o.meter("acme", store.Usage{Records: 3, Bytes: 10, RemoteCalls: 2, WasmMillis: 5, Runs: 1})
	o.meter("globex", store.Usage{Records: 4}) // past the one-tenant label limit
	o.noteError("sync", "http_5xx")
	o.noteError("sync", "http_5xx")
	o.committed("acme", "crm", []store.Object{
		{UpdatedAt: "2026-01-01T11:59:00Z"}, {UpdatedAt: "2026-01-01T11:58:00Z"}, {UpdatedAt: "not a time"}, {},
	})
	o.committed("acme", "crm", []store.Object{{UpdatedAt: "2026-01-01T11:00:00Z"}}) // older: newest stays
	want := `
# HELP sluice_ingest_lag_seconds Now minus the newest source updated_at committed for the connection (sync, backfill or webhook).
# TYPE sluice_ingest_lag_seconds gauge
sluice_ingest_lag_seconds{connection="crm",tenant="acme"} 60
# HELP sluice_run_errors_total Errors noted on runs, by run kind and error type (first 64 types, then "other").
# TYPE sluice_run_errors_total counter
sluice_run_errors_total{kind="sync",type="http_5xx"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sluice_ingest_lag_seconds", "sluice_run_errors_total"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(o.usage.WithLabelValues("acme", "records")); got != 3 {
		t.Errorf("acme records %v", got)
	}
	if got := testutil.ToFloat64(o.usage.WithLabelValues("_other", "records")); got != 4 {
		t.Errorf("_other records %v", got)
	}
	now = now.Add(time.Minute) // no new commit: the lag grows
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP sluice_ingest_lag_seconds Now minus the newest source updated_at committed for the connection (sync, backfill or webhook).
# TYPE sluice_ingest_lag_seconds gauge
sluice_ingest_lag_seconds{connection="crm",tenant="acme"} 120
`), "sluice_ingest_lag_seconds"); err != nil {
		t.Error(err)
	}
}
