package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

func TestSync10kUsersThenUnchanged(t *testing.T) {
	const users = 10_000
	r := newRig(t, rigOptions{})
	_, base := startSandbox(t, sandboxConfig(users))
	mod := r.module("directory", nil)
	conn := r.conn("acme", mod, base)
	ctx := context.Background()

	first, err := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true, PageSize: 1000})
	if err != nil {
		t.Fatalf("first sync: %v", err)
	}
	groups := users / 20
	wantObjects := int64(users + groups)
	c := first.Run.Counts
	if c.Created != wantObjects || c.Updated != 0 || c.Skipped != 0 || c.Errors != 0 {
		t.Fatalf("first sync counts = %+v, want created=%d", c, wantObjects)
	}
	if n, err := conn.Tenant.CountObjects(ctx, conn.ID, "user"); err != nil || n != users {
		t.Fatalf("stored users = %d, %v; want %d", n, err, users)
	}
	edges, _, err := conn.Tenant.Edges(ctx, store.ListOptions{Connection: conn.ID, Limit: 10})
	if err != nil || len(edges) == 0 || edges[0].Type != "member_of" {
		t.Fatalf("edges = %v, %v; want member_of edges", edges, err)
	}

	second, err := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true, PageSize: 1000})
	if err != nil {
		t.Fatalf("second sync: %v", err)
	}
	c = second.Run.Counts
	if c.Created != 0 || c.Updated != 0 || c.Skipped != wantObjects || c.Deleted != 0 {
		t.Fatalf("second sync counts = %+v, want skipped=%d and nothing else", c, wantObjects)
	}

	// Both receipts verify, and their payload roots agree: the same
	// objects were observed.
	v1, err := receipt.Verify(first.Envelope, r.keys())
	if err != nil {
		t.Fatal(err)
	}
	v2, err := receipt.Verify(second.Envelope, r.keys())
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := v1.Ingest()
	p2, _ := v2.Ingest()
	if p1.Payload.Root == "" || p1.Payload.Root != p2.Payload.Root {
		t.Fatalf("payload roots differ: %q vs %q", p1.Payload.Root, p2.Payload.Root)
	}
	if p1.Payload.Count != wantObjects {
		t.Fatalf("payload count = %d, want %d", p1.Payload.Count, wantObjects)
	}
	if p1.TenantID != "acme" || p1.ModuleDigest != mod.Digest || p1.Status != "succeeded" || p1.CursorOut["users"] == "" {
		t.Fatalf("receipt fields wrong: %+v", p1)
	}
}

func TestIncrementalSyncAndSnapshotDeletion(t *testing.T) {
	r := newRig(t, rigOptions{})
	sb, base := startSandbox(t, sandboxConfig(200))
	mod := r.module("directory", nil)
	conn := r.conn("acme", mod, base)
	ctx := context.Background()
	if _, err := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.UpdateUser("u-0000007", map[string]any{"title": "Chief Tester"}); err != nil {
		t.Fatal(err)
	}
	inc, err := r.eng.Sync(ctx, conn, engine.RunOptions{Streams: []string{"users"}})
	if err != nil {
		t.Fatal(err)
	}
	if c := inc.Run.Counts; c.Updated != 1 || c.Created != 0 || c.Read != 1 {
		t.Fatalf("incremental counts = %+v, want exactly one update", c)
	}

	if err := sb.DeleteUser("u-0000009"); err != nil {
		t.Fatal(err)
	}
	// An incremental run never deletes.
	inc2, err := r.eng.Sync(ctx, conn, engine.RunOptions{Streams: []string{"users"}})
	if err != nil {
		t.Fatal(err)
	}
	if inc2.Run.Counts.Deleted != 0 {
		t.Fatalf("incremental run deleted %d objects", inc2.Run.Counts.Deleted)
	}
	full, err := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true, Streams: []string{"users"}})
	if err != nil {
		t.Fatal(err)
	}
	if full.Run.Counts.Deleted != 1 {
		t.Fatalf("full snapshot deleted %d, want 1", full.Run.Counts.Deleted)
	}
	if n, _ := conn.Tenant.CountObjects(ctx, conn.ID, "user"); n != 199 {
		t.Fatalf("users after deletion = %d, want 199", n)
	}
}

func TestReceiptTamperAndForeignKeyFail(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, base := startSandbox(t, sandboxConfig(50))
	res, err := r.eng.Sync(context.Background(), r.conn("acme", r.module("directory", nil), base), engine.RunOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := receipt.Verify(res.Envelope, r.keys()); err != nil {
		t.Fatalf("untouched receipt: %v", err)
	}
	for i := range res.Envelope {
		if res.Envelope[i] == '"' || res.Envelope[i] == '{' || res.Envelope[i] == '}' || res.Envelope[i] == ':' || res.Envelope[i] == ',' {
			continue
		}
		bad := append([]byte(nil), res.Envelope...)
		bad[i] ^= 0x01
		if _, err := receipt.Verify(bad, r.keys()); err == nil {
			t.Fatalf("receipt with byte %d changed (%q) verified", i, res.Envelope[i])
		}
	}
	other := newRig(t, rigOptions{})
	if _, err := receipt.Verify(res.Envelope, other.keys()); err == nil {
		t.Fatal("receipt verified with another key set")
	}
}

func TestBackfillStaysInRange(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, base := startSandbox(t, sandboxConfig(1000))
	mod := r.module("directory", nil)
	conn := r.conn("acme", mod, base)
	res, err := r.eng.Backfill(context.Background(), conn, rangeOf("2021-01-01T00:00:00Z", "2022-01-01T00:00:00Z"), engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Run.Counts
	if c.Created == 0 || c.Errors != 0 || c.Created == 1000 {
		t.Fatalf("backfill counts = %+v, want a strict subset with no errors", c)
	}

	bad := r.module("out-of-range", nil)
	res, err = r.eng.Backfill(context.Background(), r.conn("acme", bad, base), rangeOf("2021-01-01T00:00:00Z", "2022-01-01T00:00:00Z"), engine.RunOptions{})
	if err != nil && !errors.Is(err, engine.ErrRunFailed) {
		t.Fatal(err)
	}
	if res.Run.Counts.Errors == 0 {
		t.Fatalf("out-of-range objects were not counted as errors: %+v", res.Run.Counts)
	}
}

// Every run is metered per tenant, connector and day: records, remote
// calls, bytes, Wasm time and runs.
func TestRunsAreMetered(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, base := startSandbox(t, sandboxConfig(300))
	conn := r.conn("acme", r.module("directory", nil), base)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true, Streams: []string{"users"}, PageSize: 100}); err != nil {
			t.Fatal(err)
		}
	}
	day := time.Now().UTC().Format(store.DayLayout)
	recs, err := conn.Tenant.Usage(ctx, day, day)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("usage records = %+v, want one (directory, today)", recs)
	}
	u := recs[0].Usage
	if u.Runs != 2 || u.Records != 600 || u.RemoteCalls < 6 || u.Bytes == 0 {
		t.Fatalf("usage = %+v, want 2 runs, 600 records, at least 6 remote calls and some bytes", u)
	}
	if other, _ := r.tenant("globex").Usage(ctx, day, day); len(other) != 0 {
		t.Fatalf("another tenant was metered: %+v", other)
	}
	st := r.eng.ConnectionStats("acme", conn.ID, conn.Module.Manifest)
	if st.Samples < 6 || st.LatencyP50 <= 0 || st.LatencyP95 < st.LatencyP50 || st.TokensLeft <= 0 {
		t.Fatalf("connection stats = %+v, want latencies of the calls made and a token bucket", st)
	}
	if other := r.eng.ConnectionStats("globex", conn.ID, conn.Module.Manifest); other.Samples != 0 {
		t.Fatalf("another tenant's connection has latencies: %+v", other)
	}
}
