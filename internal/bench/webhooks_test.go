package bench_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/internal/wasmbuild"
)

// The webhook benchmark runs end to end on a small load and reports
// every figure; the figures are measured, never asserted.
func TestWebhooksSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := bench.Webhooks(ctx, bench.WebhooksConfig{
		Events: 500, Concurrency: 8,
		ManifestPath: filepath.Join(root, "connectors-wasm", "directory", "connector.json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	for name, v := range map[string]float64{
		"accepted": rep.AcceptedPerS, "p99": rep.AcceptP99Ms, "noop": rep.HTTPNoopPerS,
		"badger": rep.BadgerPerS, "e2e": rep.E2EPerS,
	} {
		if !(v > 0) {
			t.Errorf("%s = %v, want a positive measurement", name, v)
		}
	}
	if rep.Non2xx != 0 || rep.E2EObjects != 500 {
		t.Fatalf("non-2xx %d, objects %d; want every event accepted and stored", rep.Non2xx, rep.E2EObjects)
	}
}

// BenchmarkWebhookIntake reports accepted events/s through the whole
// intake (HTTP, verification, group-committed inbox write) in process.
func BenchmarkWebhookIntake(b *testing.B) {
	root, err := wasmbuild.Root()
	if err != nil {
		b.Fatal(err)
	}
	rep, err := bench.Webhooks(context.Background(), bench.WebhooksConfig{
		Events: max(b.N, 100), Concurrency: 32,
		ManifestPath: filepath.Join(root, "connectors-wasm", "directory", "connector.json"),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rep.AcceptedPerS, "accepted/s")
	b.ReportMetric(rep.AcceptP99Ms, "p99-ms")
	b.ReportMetric(rep.AcceptBadgerRatio, "accept/badger")
	b.ReportMetric(rep.AcceptHTTPRate, "accept/http-noop")
	b.ReportMetric(rep.E2EPerS, "e2e/s")
}
