package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

func noSleep(context.Context, time.Duration) error { return nil }

func totalRequests(sb *sandbox.Server) int64 {
	var n int64
	for _, c := range sb.Stats().Requests {
		n += c
	}
	return n
}

// failGroups makes the sandbox answer 500 to every groups request, past
// every retry of the host.
func failGroups(t *testing.T, sb *sandbox.Server) {
	t.Helper()
	if err := sb.SetFaults(sandbox.Faults{ErrorRate: 1, PathPrefix: "/api/v1/groups"}); err != nil {
		t.Fatal(err)
	}
}

// deadLetteredSync runs a sync whose groups page keeps failing and
// returns the dead-letter item it left, with its parsed tape.
func deadLetteredSync(t *testing.T, r *rig, conn engine.Connection) (store.DLQItem, *tape.Tape, []byte) {
	t.Helper()
	ctx := context.Background()
	res, err := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true, PageSize: 100})
	var re *engine.RunError
	if !errors.As(err, &re) || res == nil || res.Run.State != engine.StateFailed {
		t.Fatalf("sync with failing groups: %v (%+v), want a failed run", err, res)
	}
	if res.DLQItem == "" {
		t.Fatal("the failed run names no dead-letter item")
	}
	item, err := conn.Tenant.DLQItem(ctx, res.DLQItem)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := conn.Tenant.DLQTape(ctx, item.ID)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := tape.Parse(raw)
	if err != nil {
		t.Fatalf("the item's tape does not parse: %v", err)
	}
	return item, tp, raw
}

func TestFailingPageLandsInDLQ(t *testing.T) {
	r := newRig(t, rigOptions{sleep: noSleep})
	sb, base := startSandbox(t, sandboxConfig(250))
	failGroups(t, sb)
	mod := r.module("directory", nil)
	conn := r.conn("acme", mod, base)
	ctx := context.Background()

	item, tp, raw := deadLetteredSync(t, r, conn)
	if item.Kind != store.DLQSync || item.Connection != "dir" || item.Attempts != 1 || item.ModuleDigest != mod.Digest {
		t.Fatalf("item = %+v", item)
	}
	if item.ErrorType == "" || !strings.Contains(item.Error, "500") {
		t.Errorf("error type %q, error %q: want a typed error naming the 500", item.ErrorType, item.Error)
	}
	var in struct{ Stream string }
	if err := json.Unmarshal(item.Input, &in); err != nil || in.Stream != "groups" {
		t.Errorf("item input %s: want the groups page", item.Input)
	}
	// The tape holds exactly the failing call, with its own clock and
	// seed, the manifest, and the 500s the connector saw.
	if len(tp.Calls) != 1 || tp.Calls[0].Clock.IsZero() || tp.Calls[0].Seed == "" || len(tp.Manifest) == 0 {
		t.Fatalf("tape = %+v, want one call with its clock, seed and the manifest", tp)
	}
	c := tp.Calls[0]
	if c.Export != "sync" || c.Error == "" || len(c.Exchanges) == 0 || c.Exchanges[0].Response.Status != 500 {
		t.Fatalf("tape call = %+v", c)
	}
	if !bytes.Equal(c.Input, item.Input) {
		t.Errorf("tape input %s differs from the item's %s", c.Input, item.Input)
	}
	// No secret reaches the item or its tape.
	all, _ := json.Marshal(item)
	for _, b := range [][]byte{all, raw} {
		if bytes.Contains(b, []byte(clientSecret)) {
			t.Fatal("the client secret leaked into the dead-letter queue")
		}
	}
	if c.Exchanges[0].Request.Headers["Authorization"] != tape.Redacted {
		t.Errorf("recorded Authorization = %q, want it redacted", c.Exchanges[0].Request.Headers["Authorization"])
	}
	// The users stream before the failing page was committed.
	if n, _ := conn.Tenant.CountObjects(ctx, "dir", "user"); n != 250 {
		t.Errorf("users stored = %d, want 250", n)
	}

	// The next run resumes at the same page, fails again, and counts a
	// second attempt on the same item.
	res, err := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true, PageSize: 100})
	if err == nil || res.DLQItem != item.ID {
		t.Fatalf("second run: %v, item %q; want the same item %s", err, res.DLQItem, item.ID)
	}
	again, _ := conn.Tenant.DLQItem(ctx, item.ID)
	if again.Attempts != 2 || !again.FirstFailure.Equal(item.FirstFailure) || again.RunID != res.Run.ID {
		t.Errorf("after a second failure: %+v", again)
	}
	if n, _ := conn.Tenant.DLQDepth(ctx, "dir"); n != 1 {
		t.Errorf("depth = %d, want 1", n)
	}
}

func TestReplayDLQTapeTwiceIdentical(t *testing.T) {
	r := newRig(t, rigOptions{sleep: noSleep})
	sb, base := startSandbox(t, sandboxConfig(50))
	failGroups(t, sb)
	mod := r.module("directory", nil)
	_, tp, _ := deadLetteredSync(t, r, r.conn("acme", mod, base))
	requests := totalRequests(sb)

	ctx := context.Background()
	first, err := r.eng.Replay(ctx, mod, tp)
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.eng.Replay(ctx, mod, tp)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Identical() || !second.Identical() {
		t.Fatalf("replays differ from the tape:\n%s\n%s", first.Diff(), second.Diff())
	}
	if first.Digest() != second.Digest() {
		t.Fatalf("two replays of one tape: digests %s and %s", first.Digest(), second.Digest())
	}
	if !first.Failed() {
		t.Error("the replayed failing call did not fail")
	}
	if got := totalRequests(sb); got != requests {
		t.Errorf("replay reached the remote: %d requests after, %d before", got, requests)
	}
}

func TestReplayRecordedRun(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, base := startSandbox(t, sandboxConfig(120))
	mod := r.module("directory", nil)
	ctx := context.Background()
	res, err := r.eng.Sync(ctx, r.conn("acme", mod, base), engine.RunOptions{Full: true, PageSize: 50, Record: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.DLQItem != "" {
		t.Errorf("a succeeded run names dead-letter item %s", res.DLQItem)
	}
	b, _ := json.Marshal(res.Tape)
	tp, err := tape.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.eng.Replay(ctx, mod, tp)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Identical() || len(rep.Calls) != len(tp.Calls) || len(rep.Calls) < 4 {
		t.Fatalf("replay of a recorded run (%d calls):\n%s", len(tp.Calls), rep.Diff())
	}

	// One byte of one response body changed: the emitted batch differs.
	ex := &tp.Calls[0].Exchanges[0].Response
	i := bytes.Index(ex.Body, []byte(`"name":"`)) + len(`"name":"`)
	ex.Body = bytes.Clone(ex.Body)
	ex.Body[i] ^= 0x01
	rep, err = r.eng.Replay(ctx, mod, tp)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Identical() {
		t.Fatal("a changed response byte replayed identically")
	}
	d := rep.Differences[0]
	if d.Call != 0 || !strings.HasPrefix(d.Field, "emits[") || d.Want == d.Got {
		t.Errorf("first difference %+v, want an emit digest of call 0", d)
	}
	if !strings.Contains(rep.Diff(), "call 0 (sync):") {
		t.Errorf("diff does not name the call:\n%s", rep.Diff())
	}

	// A tape whose recorded request differs from what the module asks.
	tp.Calls[0].Exchanges[0].Response = res.Tape.Calls[0].Exchanges[0].Response
	tp.Calls[0].Exchanges[0].Request.URL += "&x=1"
	rep, err = r.eng.Replay(ctx, mod, tp)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Identical() || !strings.Contains(rep.Diff(), "exchanges[0].request") {
		t.Fatalf("a diverged request was not reported:\n%s", rep.Diff())
	}

	// Another module than the tape's is reported as such.
	other := r.module("random-id", nil)
	rep, err = r.eng.Replay(ctx, other, tp)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Identical() || rep.Differences[0].Field != "module_digest" {
		t.Errorf("replay with another module: %+v", rep.Differences)
	}
}

func TestReplayRefusesBadInput(t *testing.T) {
	r := newRig(t, rigOptions{})
	mod := r.module("directory", nil)
	ctx := context.Background()
	if _, err := r.eng.Replay(ctx, nil, &tape.Tape{Version: 1}); err == nil {
		t.Error("a nil module replayed")
	}
	if _, err := r.eng.Replay(ctx, mod, &tape.Tape{Version: 9}); !errors.Is(err, tape.ErrInvalid) {
		t.Errorf("tape version 9: %v, want tape.ErrInvalid", err)
	}
}

func TestReplayPageLive(t *testing.T) {
	r := newRig(t, rigOptions{sleep: noSleep})
	sb, base := startSandbox(t, sandboxConfig(60))
	failGroups(t, sb)
	mod := r.module("directory", nil)
	conn := r.conn("acme", mod, base)
	item, _, _ := deadLetteredSync(t, r, conn)
	ctx := context.Background()

	// While the remote still fails, the live replay fails and says so.
	lr, err := r.eng.ReplayPage(ctx, conn, item)
	if err == nil || lr == nil || lr.Run.State != engine.StateFailed {
		t.Fatalf("live replay against a failing remote: %v, %+v", err, lr)
	}

	if err := sb.SetFaults(sandbox.Faults{}); err != nil {
		t.Fatal(err)
	}
	lr, err = r.eng.ReplayPage(ctx, conn, item)
	if err != nil {
		t.Fatalf("live replay after the fault cleared: %v", err)
	}
	if lr.Run.State != engine.StateSucceeded || lr.Run.Kind != engine.KindSync || lr.Run.Counts.Created == 0 {
		t.Fatalf("replay run = %+v", lr.Run)
	}
	if lr.Call.Export != "replay" || lr.Call.Error != "" || len(lr.Call.Emits) == 0 {
		t.Errorf("replayed call = %+v, want the replay export with emits", lr.Call)
	}
	if n, _ := conn.Tenant.CountObjects(ctx, "dir", "group"); n == 0 {
		t.Error("the replayed groups page committed nothing")
	}
	v, err := receipt.Verify(lr.Envelope, r.keys())
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Ingest(); err != nil || p.RunID != lr.Run.ID || p.Status != receipt.StatusSucceeded {
		t.Fatalf("ingest receipt of the replay: %+v, %v", p, err)
	}
	// The stream's checkpoint still belongs to the failed run: the next
	// sync resumes there rather than skipping past the page.
	if ck, err := conn.Tenant.Checkpoint(ctx, "dir", "sync", "groups"); err == nil && ck.RunID == lr.Run.ID {
		t.Error("the replay moved the stream's checkpoint")
	}

	bad := item
	bad.Kind = store.DLQWebhook
	if _, err := r.eng.ReplayPage(ctx, conn, bad); !errors.Is(err, engine.ErrNotReplayable) {
		t.Errorf("a webhook item as a page: %v, want ErrNotReplayable", err)
	}
	bad = item
	bad.Input = json.RawMessage(`{"cursor":"x"}`)
	if _, err := r.eng.ReplayPage(ctx, conn, bad); !errors.Is(err, engine.ErrNotReplayable) {
		t.Errorf("an input without a stream: %v, want ErrNotReplayable", err)
	}
}
