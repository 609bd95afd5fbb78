package dlq_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/dlq"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

func TestLiveReplayAfterFaultClearedRemovesItem(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tn := r.conn.Tenant
	item := r.failedPage(t)

	// The remote still fails: the replay fails, is on the record, and the
	// item stays with one attempt more.
	res, err := r.svc.Replay(ctx, tn, item.ID, dlq.ModeLive, "key-admin")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != receipt.ReplayFailed || res.Removed || res.Error == "" {
		t.Fatalf("replay against a failing remote = %+v", res)
	}
	if p := r.replayReceipt(t, res.ReceiptID); p.Status != receipt.ReplayFailed || p.DLQItemID != item.ID || p.Error == nil {
		t.Errorf("failed replay's receipt = %+v", p)
	}
	again, err := tn.DLQItem(ctx, item.ID)
	if err != nil || again.Attempts != item.Attempts+1 {
		t.Fatalf("item after a failed live replay: %+v, %v; want one attempt more", again, err)
	}
	if _, err := tn.DLQTape(ctx, item.ID); err != nil {
		t.Errorf("the item lost its tape: %v", err)
	}

	if err := r.sb.SetFaults(sandbox.Faults{}); err != nil {
		t.Fatal(err)
	}
	res, err = r.svc.Replay(ctx, tn, item.ID, dlq.ModeLive, "key-admin")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != receipt.ReplaySucceeded || !res.Removed || res.RunID == "" {
		t.Fatalf("replay after the fault cleared = %+v", res)
	}
	// The receipt references the item and verifies.
	v, err := receipt.Verify(res.Envelope, r.keys(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Replay()
	if err != nil {
		t.Fatal(err)
	}
	if p.DLQItemID != item.ID || p.Kind != "sync" || p.Mode != "live" || p.OriginalRunID != item.RunID ||
		p.ReplayRunID != res.RunID || p.IngestReceiptID == "" || p.RequestedBy != "key-admin" ||
		len(p.Digests.Emits) == 0 || p.Digests.Tape == "" || v.Subject[0].Name != "dlq-item/"+item.ID {
		t.Fatalf("replay receipt = %+v", p)
	}
	if _, err := tn.DLQItem(ctx, item.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("item after a successful replay: %v, want gone", err)
	}
	rm, err := tn.DLQRemoval(ctx, item.ID)
	if err != nil || rm.Reason != store.DLQReplayed || rm.ReceiptID != res.ReceiptID || rm.By != "key-admin" {
		t.Errorf("removal record = %+v, %v", rm, err)
	}
	if n, _ := tn.CountObjects(ctx, "dir", "group"); n == 0 {
		t.Error("the replayed page committed no group")
	}
	if _, err := r.svc.Replay(ctx, tn, item.ID, dlq.ModeLive, "key-admin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("replay of a removed item: %v, want ErrNotFound", err)
	}
}

func TestTapeReplayOfTheSameModuleFails(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	item := r.failedPage(t)
	res, err := r.svc.Replay(ctx, r.conn.Tenant, item.ID, dlq.ModeTape, "key-reviewer")
	if err != nil {
		t.Fatal(err)
	}
	// The module that failed fails the same way on the same answers: the
	// replay is identical to the tape, and unsuccessful.
	if res.Status != receipt.ReplayFailed || res.Removed || res.Report == nil || !res.Report.Identical() {
		t.Fatalf("tape replay = %+v", res)
	}
	p := r.replayReceipt(t, res.ReceiptID)
	if p.Mode != "tape" || p.ReplayRunID != "" || p.Differences != 0 || p.Digests.Tape == "" {
		t.Errorf("tape replay receipt = %+v", p)
	}
	again, _ := r.conn.Tenant.DLQItem(ctx, item.ID)
	if again.Attempts != item.Attempts {
		t.Errorf("a tape replay counted an attempt: %d → %d", item.Attempts, again.Attempts)
	}
}

func TestDeleteIsRecorded(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tn := r.conn.Tenant
	item := r.failedPage(t)
	if got := depthOf(t, r, "acme", "dir"); got != 1 {
		t.Fatalf("depth gauge = %v, want 1", got)
	}
	rm, err := r.svc.Delete(ctx, tn, item.ID, "key-ops")
	if err != nil {
		t.Fatal(err)
	}
	if rm.Reason != store.DLQDeleted || rm.By != "key-ops" || rm.Connection != "dir" || rm.At.IsZero() {
		t.Errorf("removal = %+v", rm)
	}
	stored, err := tn.DLQRemoval(ctx, item.ID)
	if err != nil || stored != rm {
		t.Errorf("stored removal = %+v, %v", stored, err)
	}
	if _, err := r.svc.Delete(ctx, tn, item.ID, "key-ops"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if got := depthOf(t, r, "acme", "dir"); got != 0 {
		t.Errorf("depth gauge after delete = %v, want 0", got)
	}
}

func TestReplayRefusals(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tn := r.conn.Tenant
	now := time.Now()
	put := func(it store.DLQItem) {
		t.Helper()
		it.Connection, it.Attempts, it.FirstFailure, it.LastFailure = "dir", 1, now, now
		if err := tn.PutDLQItem(ctx, it, nil); err != nil {
			t.Fatal(err)
		}
	}
	put(store.DLQItem{ID: "no-tape", Kind: store.DLQSync, Input: json.RawMessage(`{"stream":"users"}`)})
	put(store.DLQItem{ID: "bad-hook", Kind: store.DLQWebhook, Input: json.RawMessage(`{"x":1}`)})
	put(store.DLQItem{ID: "other-conn", Kind: store.DLQSync})
	other, _ := tn.DLQItem(ctx, "other-conn")
	other.ID, other.Connection = "gone-conn", "gone"
	if err := tn.PutDLQItem(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, id, mode string
		want           error
	}{
		{"bad mode", "no-tape", "dry", dlq.ErrInvalidMode},
		{"no tape", "no-tape", dlq.ModeTape, dlq.ErrNoTape},
		{"webhook without a request", "bad-hook", dlq.ModeLive, dlq.ErrNotReplayableLive},
		{"missing item", "nope", dlq.ModeLive, store.ErrNotFound},
		{"connection gone", "gone-conn", dlq.ModeLive, store.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := r.svc.Replay(ctx, tn, c.id, c.mode, "key-admin"); !errors.Is(err, c.want) {
				t.Fatalf("Replay = %v, want %v", err, c.want)
			}
		})
	}
	// None of the refusals removed or changed an item.
	if n, _ := tn.DLQDepth(ctx, "dir"); n != 3 {
		t.Errorf("depth after refusals = %d, want 3", n)
	}
	if _, err := dlq.New(dlq.Config{}); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("New without backends: %v", err)
	}
}

// depthOf gathers the depth gauge of one connection from the registry;
// -1 if the series is absent.
func depthOf(t *testing.T, r *rig, tenant, conn string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sluice_dlq_depth" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["tenant"] == tenant && labels["connection"] == conn {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

func TestLiveReplayOfWebhookItems(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tn := r.conn.Tenant
	now := time.Now().UTC()
	put := func(id, body string) {
		t.Helper()
		in := `{"headers":{"webhook-id":"` + id + `"},"body":` + body + `}`
		it := store.DLQItem{ID: id, Connection: "dir", Kind: store.DLQWebhook, Input: json.RawMessage(in),
			ErrorType: "remote_error", Error: "x", Attempts: 1, FirstFailure: now, LastFailure: now, RunID: id}
		if err := tn.PutDLQItem(ctx, it, nil); err != nil {
			t.Fatal(err)
		}
	}
	put("hook-ok", `{"id":"evt_1","type":"user.created","occurred_at":"2026-01-02T03:04:05Z","data":{"id":"u-77","email":"u77@example.com","name":"Ursula","status":"active","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T03:04:05Z"}}`)
	put("hook-bad", `{"id":"evt_2","type":"user.teleported","occurred_at":"2026-01-02T03:04:05Z","data":{}}`)

	res, err := r.svc.Replay(ctx, tn, "hook-ok", dlq.ModeLive, "key-admin")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != receipt.ReplaySucceeded || !res.Removed {
		t.Fatalf("webhook live replay = %+v", res)
	}
	if p := r.replayReceipt(t, res.ReceiptID); p.Kind != "webhook" || p.IngestReceiptID == "" || p.ReplayRunID != res.RunID {
		t.Errorf("webhook replay receipt = %+v", p)
	}
	if n, _ := tn.CountObjects(ctx, "dir", "user"); n != 1 {
		t.Errorf("users after the replayed event = %d, want 1", n)
	}

	// An event the connector still refuses: the replay fails, the item
	// counts an attempt, and the engine's item for the replay's own event
	// is folded into it, so the queue does not grow.
	res, err = r.svc.Replay(ctx, tn, "hook-bad", dlq.ModeLive, "key-admin")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != receipt.ReplayFailed || res.Removed || !strings.Contains(res.Error, "teleported") {
		t.Fatalf("failing webhook replay = %+v", res)
	}
	if it, _ := tn.DLQItem(ctx, "hook-bad"); it.Attempts != 2 {
		t.Errorf("attempts = %d, want 2", it.Attempts)
	}
	if n, _ := tn.DLQDepth(ctx, "dir"); n != 1 {
		t.Errorf("depth after a failed webhook replay = %d, want 1 (the replay's own item folded)", n)
	}
	if rm, err := tn.DLQRemoval(ctx, res.RunID); err != nil || !strings.Contains(rm.By, "hook-bad") {
		t.Errorf("the folded item's removal = %+v, %v", rm, err)
	}
}

func TestLiveReplayOfAnExecuteItem(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tn := r.conn.Tenant
	now := time.Now().UTC()
	it := store.DLQItem{ID: "exec-1", Connection: "dir", Kind: store.DLQExecute,
		Input:     json.RawMessage(`{"action":"create_user","correlation_id":"corr-exec-1","params":{"email":"new@example.com","name":"New Person"}}`),
		ErrorType: "remote_error", Error: "POST /api/v1/users: 503", Attempts: 1, FirstFailure: now, LastFailure: now,
		RunID: "act-run-1", CorrelationID: "corr-exec-1"}
	if err := tn.PutDLQItem(ctx, it, nil); err != nil {
		t.Fatal(err)
	}
	// The rig's connection was not granted users:write: the replay is
	// refused before anything runs, and the item stays as it was.
	if _, err := r.svc.Replay(ctx, tn, "exec-1", dlq.ModeLive, "key-admin"); !errors.Is(err, engine.ErrScopeNotGranted) {
		t.Fatalf("execute replay without the scope: %v, want ErrScopeNotGranted", err)
	}
	// Granted, the action runs once with the original correlation id.
	conn := r.conn
	conn.Scopes = append([]string{"users:write"}, conn.Scopes...)
	svc, err := dlq.New(dlq.Config{Store: r.db, Engine: r.eng, Connections: conns{"acme/dir": conn}, Signer: receipt.NewSigner(r.key)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Replay(ctx, tn, "exec-1", dlq.ModeLive, "key-admin")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != receipt.ReplaySucceeded || !res.Removed {
		t.Fatalf("execute replay = %+v", res)
	}
	changes := r.sb.Changes()
	if len(changes) != 1 || changes[0].CorrelationID != "corr-exec-1" {
		t.Fatalf("remote changes = %+v, want one with the original correlation id", changes)
	}
	if p := r.replayReceipt(t, res.ReceiptID); p.Kind != "execute" || p.OriginalRunID != "act-run-1" || p.Digests.Output == "" {
		t.Errorf("execute replay receipt = %+v", p)
	}
}
