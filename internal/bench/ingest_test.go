package bench_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/internal/wasmbuild"
)

// The load generator itself works end to end on a small data set and
// reports every figure; the figures are measured, never asserted.
func TestIngestSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wasm, err := wasmbuild.Build(ctx, "connectors-wasm", "./directory")
	if err != nil {
		t.Fatal(err)
	}
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := bench.Ingest(ctx, bench.IngestConfig{
		Users: 300, ModulePath: wasm, PageSize: 100, ColdStarts: 3, Calls: 10,
		ManifestPath: filepath.Join(root, "connectors-wasm", "directory", "connector.json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]float64{
		"e2e": rep.E2ERecordsPerS, "native": rep.NativeRecordsPerS, "badger": rep.BadgerRecordsPerS,
		"no-interrupts": rep.NoInterruptsRecordsPerS, "cold p50": rep.ColdStartP50Ms, "call": rep.CallOverheadUs,
	} {
		if !(v > 0) {
			t.Errorf("%s = %v, want a positive measurement", name, v)
		}
	}
	if rep.Users != 300 || rep.Machine.CPUs == 0 {
		t.Fatalf("report = %+v", rep)
	}
}
