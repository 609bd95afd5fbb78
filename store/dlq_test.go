package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func dlqItem(id, conn, kind string) DLQItem {
	return DLQItem{
		ID: id, Connection: conn, Kind: kind,
		Input:     json.RawMessage(`{"stream":"users","cursor":"p2"}`),
		ErrorType: "remote_5xx", Error: "GET /api/v1/users: 500 after 4 attempts",
		Attempts: 4, FirstFailure: t0, LastFailure: t0.Add(3 * time.Second),
		RunID: "r9", CorrelationID: "corr-1", ModuleDigest: "sha256:abc",
	}
}

// writeDLQGolden writes one queued item with its tape, one without, and a
// removal record, for TestGolden.
func writeDLQGolden(t *testing.T, tn *Tenant) {
	ctx := context.Background()
	mustNil(t, tn.PutDLQItem(ctx, dlqItem("0190a0b0-0000-7000-8000-000000000001", "c1", DLQSync), []byte(`{"version":1,"run_id":"r9"}`)))
	w := dlqItem("0190a0b0-0000-7000-8000-000000000002", "c1", DLQWebhook)
	w.Input, w.RunID, w.CorrelationID, w.ModuleDigest = nil, "", "", ""
	mustNil(t, tn.PutDLQItem(ctx, w, nil))
	gone := dlqItem("0190a0b0-0000-7000-8000-000000000003", "c1", DLQExecute)
	mustNil(t, tn.PutDLQItem(ctx, gone, []byte(`{"version":1}`)))
	mustNil(t, tn.RemoveDLQItem(ctx, gone.ID, DLQRemoval{Reason: DLQReplayed, By: "key:k1", ReceiptID: "rcpt-replay-1", At: t0.Add(time.Hour)}))
}

func TestDLQPutGetTape(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	it := dlqItem("i1", "c1", DLQSync)
	mustNil(t, tn.PutDLQItem(ctx, it, []byte(`{"version":1}`)))
	got, err := tn.DLQItem(ctx, "i1")
	mustNil(t, err)
	if got.Kind != DLQSync || got.Attempts != 4 || !got.LastFailure.Equal(it.LastFailure) || string(got.Input) != string(it.Input) {
		t.Fatalf("DLQItem = %+v", got)
	}
	tp, err := tn.DLQTape(ctx, "i1")
	mustNil(t, err)
	if string(tp) != `{"version":1}` {
		t.Errorf("tape = %s", tp)
	}
	// A second failure of the same item replaces it; a nil tape removes the old one.
	it.Attempts = 8
	mustNil(t, tn.PutDLQItem(ctx, it, nil))
	if got, _ := tn.DLQItem(ctx, "i1"); got.Attempts != 8 {
		t.Errorf("attempts after re-put = %d, want 8", got.Attempts)
	}
	if _, err := tn.DLQTape(ctx, "i1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("tape after nil re-put: %v, want ErrNotFound", err)
	}
	if n, _ := tn.DLQDepth(ctx, "c1"); n != 1 {
		t.Errorf("depth after re-put = %d, want 1", n)
	}
	// Moving an item to another connection would orphan its index entry.
	it.Connection = "c2"
	if err := tn.PutDLQItem(ctx, it, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("re-put under another connection: %v, want ErrInvalid", err)
	}
	if _, err := tn.DLQItem(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing item: %v, want ErrNotFound", err)
	}
}

func TestDLQValidation(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	cases := []struct {
		name, field string
		mod         func(*DLQItem)
		tape        []byte
	}{
		{"empty id", "dlq.id", func(i *DLQItem) { i.ID = "" }, nil},
		{"slash in id", "dlq.id", func(i *DLQItem) { i.ID = "a/b" }, nil},
		{"bad connection", "dlq.connection", func(i *DLQItem) { i.Connection = "C 1" }, nil},
		{"unknown kind", "dlq.kind", func(i *DLQItem) { i.Kind = "health" }, nil},
		{"bad error type", "dlq.error_type", func(i *DLQItem) { i.ErrorType = "has space" }, nil},
		{"input not JSON", "dlq.input", func(i *DLQItem) { i.Input = json.RawMessage(`{`) }, nil},
		{"input too big", "dlq.input", func(i *DLQItem) { i.Input = json.RawMessage(`"` + strings.Repeat("x", MaxDLQInput) + `"`) }, nil},
		{"error too long", "dlq.error", func(i *DLQItem) { i.Error = strings.Repeat("e", MaxDLQError+1) }, nil},
		{"negative attempts", "dlq.attempts", func(i *DLQItem) { i.Attempts = -1 }, nil},
		{"no first failure", "dlq.first_failure", func(i *DLQItem) { i.FirstFailure = time.Time{} }, nil},
		{"last before first", "dlq.last_failure", func(i *DLQItem) { i.LastFailure = t0.Add(-time.Second) }, nil},
		{"bad run id", "dlq.run_id", func(i *DLQItem) { i.RunID = "r 1" }, nil},
		{"tape too big", "dlq.tape", func(*DLQItem) {}, make([]byte, MaxDLQTape+1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			it := dlqItem("i1", "c1", DLQSync)
			c.mod(&it)
			err := tn.PutDLQItem(ctx, it, c.tape)
			var verr *ValidationError
			if !errors.As(err, &verr) || verr.Field != c.field {
				t.Fatalf("PutDLQItem = %v, want a ValidationError on %s", err, c.field)
			}
		})
	}
	if n, _ := tn.DLQDepth(ctx, ""); n != 0 {
		t.Errorf("refused items were stored: depth %d", n)
	}
}

func TestDLQTenantIsolation(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	acme, globex := tenant(t, db, "acme"), tenant(t, db, "globex")
	mustNil(t, acme.PutDLQItem(ctx, dlqItem("i1", "c1", DLQSync), []byte(`{"version":1}`)))
	if _, err := globex.DLQItem(ctx, "i1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("globex reads acme's item: %v", err)
	}
	if _, err := globex.DLQTape(ctx, "i1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("globex reads acme's tape: %v", err)
	}
	if items, _, _ := globex.DLQItems(ctx, "c1", "", 0); len(items) != 0 {
		t.Errorf("globex lists %d of acme's items", len(items))
	}
	if n, _ := globex.DLQDepth(ctx, "c1"); n != 0 {
		t.Errorf("globex depth = %d", n)
	}
	err := globex.RemoveDLQItem(ctx, "i1", DLQRemoval{Reason: DLQDeleted, By: "key:x", At: t0})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("globex removes acme's item: %v", err)
	}
	if _, err := acme.DLQItem(ctx, "i1"); err != nil {
		t.Errorf("acme's item after globex's attempt: %v", err)
	}
}

func TestDLQListPagination(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	for i := range 7 {
		conn := "c1"
		if i%3 == 2 {
			conn = "c2"
		}
		mustNil(t, tn.PutDLQItem(ctx, dlqItem(fmt.Sprintf("i%02d", i), conn, DLQBackfill), nil))
	}
	cases := []struct {
		conn  string
		limit int
		pages [][]string
	}{
		{"c1", 2, [][]string{{"i00", "i01"}, {"i03", "i04"}, {"i06"}}},
		{"c1", 5, [][]string{{"i00", "i01", "i03", "i04", "i06"}}},
		{"c2", 1, [][]string{{"i02"}, {"i05"}}},
		{"", 4, [][]string{{"i00", "i01", "i02", "i03"}, {"i04", "i05", "i06"}}},
		{"c3", 0, [][]string{nil}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%d", c.conn, c.limit), func(t *testing.T) {
			after := ""
			for p, want := range c.pages {
				items, next, err := tn.DLQItems(ctx, c.conn, after, c.limit)
				mustNil(t, err)
				var ids []string
				for _, it := range items {
					ids = append(ids, it.ID)
				}
				if strings.Join(ids, ",") != strings.Join(want, ",") {
					t.Fatalf("page %d = %v, want %v", p, ids, want)
				}
				if last := p == len(c.pages)-1; last != (next == "") {
					t.Fatalf("page %d next = %q", p, next)
				}
				after = next
			}
		})
	}
	depths, err := tn.DLQDepths(ctx)
	mustNil(t, err)
	if depths["c1"] != 5 || depths["c2"] != 2 || len(depths) != 2 {
		t.Errorf("DLQDepths = %v", depths)
	}
	if _, _, err := tn.DLQItems(ctx, "C1", "", 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad connection: %v", err)
	}
	if _, _, err := tn.DLQItems(ctx, "c1", "a/b", 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad after: %v", err)
	}
}

func TestDLQRemove(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	mustNil(t, tn.PutDLQItem(ctx, dlqItem("i1", "c1", DLQSync), []byte(`{"version":1}`)))
	bad := []struct {
		name, field string
		r           DLQRemoval
	}{
		{"no reason", "dlq_removal.reason", DLQRemoval{By: "key:k", At: t0}},
		{"no by", "dlq_removal.by", DLQRemoval{Reason: DLQDeleted, At: t0}},
		{"bad receipt", "dlq_removal.receipt_id", DLQRemoval{Reason: DLQReplayed, By: "key:k", ReceiptID: "a b", At: t0}},
		{"no time", "dlq_removal.at", DLQRemoval{Reason: DLQDeleted, By: "key:k"}},
	}
	for _, c := range bad {
		var verr *ValidationError
		if err := tn.RemoveDLQItem(ctx, "i1", c.r); !errors.As(err, &verr) || verr.Field != c.field {
			t.Errorf("%s: %v, want ValidationError on %s", c.name, err, c.field)
		}
	}
	if _, err := tn.DLQRemoval(ctx, "i1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removal of a queued item: %v, want ErrNotFound", err)
	}
	mustNil(t, tn.RemoveDLQItem(ctx, "i1", DLQRemoval{ItemID: "ignored", Reason: DLQDeleted, By: "key:k", At: t0}))
	r, err := tn.DLQRemoval(ctx, "i1")
	mustNil(t, err)
	if r.ItemID != "i1" || r.Connection != "c1" || r.Reason != DLQDeleted || r.By != "key:k" || !r.At.Equal(t0) {
		t.Errorf("removal = %+v", r)
	}
	if _, err := tn.DLQItem(ctx, "i1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("item after removal: %v", err)
	}
	if _, err := tn.DLQTape(ctx, "i1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("tape after removal: %v", err)
	}
	if n, _ := tn.DLQDepth(ctx, "c1"); n != 0 {
		t.Errorf("depth after removal = %d", n)
	}
	if err := tn.RemoveDLQItem(ctx, "i1", DLQRemoval{Reason: DLQDeleted, By: "key:k", At: t0}); !errors.Is(err, ErrNotFound) {
		t.Errorf("second removal: %v, want ErrNotFound", err)
	}
}
