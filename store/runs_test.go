package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

func TestRunRoundTrip(t *testing.T) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	ctx := context.Background()
	r := run("r1", "c1")
	r.Cursors = map[string]string{"contacts": "p2", "companies": "p9"}
	r.Range = &protocol.Range{From: "2024-01-01T00:00:00Z", To: "2024-02-01T00:00:00Z"}
	r.Counts = Counts{Read: 10, Created: 4, Updated: 3, Skipped: 2, Deleted: 1, Errors: 1}
	r.Errors = []RunError{{Type: "rate_limited", Message: "429", Count: 1}}
	r.StartedAt = time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600))
	mustNil(t, tn.PutRun(ctx, r))
	got, err := tn.Run(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	want := r
	want.StartedAt = r.StartedAt.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Run =\n%+v\nwant\n%+v", got, want)
	}
	if _, err := tn.Run(ctx, "r404"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing run: %v", err)
	}
}

func TestRunsAndActiveRun(t *testing.T) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	ctx := context.Background()
	// Five runs on c1, two on c2, started a minute apart, put out of order.
	for _, i := range []int{3, 0, 4, 1, 2} {
		r := run(fmt.Sprintf("c1-r%d", i), "c1")
		r.StartedAt = t0.Add(time.Duration(i) * time.Minute)
		r.State = RunSucceeded
		mustNil(t, tn.PutRun(ctx, r))
	}
	for i := range 2 {
		r := run(fmt.Sprintf("c2-r%d", i), "c2")
		r.StartedAt = t0.Add(time.Duration(i)*time.Minute + 30*time.Second)
		mustNil(t, tn.PutRun(ctx, r))
	}
	ids := func(runs []Run) []string {
		var out []string
		for _, r := range runs {
			out = append(out, r.ID)
		}
		return out
	}
	tests := []struct {
		conn  string
		limit int
		want  []string
	}{
		{"c1", 0, []string{"c1-r4", "c1-r3", "c1-r2", "c1-r1", "c1-r0"}},
		{"c1", 2, []string{"c1-r4", "c1-r3"}},
		{"c2", 10, []string{"c2-r1", "c2-r0"}},
		{"", 4, []string{"c1-r4", "c1-r3", "c1-r2", "c2-r1"}},
		{"c3", 10, nil},
	}
	for _, tt := range tests {
		runs, err := tn.Runs(ctx, tt.conn, tt.limit)
		if err != nil || !slices.Equal(ids(runs), tt.want) {
			t.Errorf("Runs(%q, %d) = %v, %v; want %v", tt.conn, tt.limit, ids(runs), err, tt.want)
		}
	}

	if _, err := tn.ActiveRun(ctx, "c1", "sync"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ActiveRun(c1) = %v, want ErrNotFound (all succeeded)", err)
	}
	active, err := tn.ActiveRun(ctx, "c2", "sync")
	if err != nil || active.ID != "c2-r1" {
		t.Errorf("ActiveRun(c2) = %s, %v; want the latest running, c2-r1", active.ID, err)
	}
	if _, err := tn.ActiveRun(ctx, "c2", "backfill"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ActiveRun(c2, backfill) = %v, want ErrNotFound", err)
	}
	if a, err := tn.ActiveRun(ctx, "c2", ""); err != nil || a.ID != "c2-r1" {
		t.Errorf("ActiveRun(c2, any) = %s, %v", a.ID, err)
	}

	// Finishing a run drops it from the active index; moving its start
	// time moves it in the time index.
	r := active
	r.State, r.FinishedAt = RunFailed, t0.Add(time.Hour)
	r.StartedAt = t0.Add(-time.Hour)
	mustNil(t, tn.PutRun(ctx, r))
	if a, err := tn.ActiveRun(ctx, "c2", "sync"); err != nil || a.ID != "c2-r0" {
		t.Errorf("after finishing c2-r1, ActiveRun = %s, %v; want c2-r0", a.ID, err)
	}
	if runs, _ := tn.Runs(ctx, "c2", 0); !slices.Equal(ids(runs), []string{"c2-r0", "c2-r1"}) {
		t.Errorf("after moving c2-r1, Runs(c2) = %v", ids(runs))
	}
	if runs, _ := tn.Runs(ctx, "", 0); len(runs) != 7 {
		t.Errorf("Runs(all) = %d runs, want 7 (no stale index keys)", len(runs))
	}
}

func TestRunUpsertedByCommitPage(t *testing.T) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	ctx := context.Background()
	a, b := obj(tn, "contact", "1", `{}`), obj(tn, "contact", "2", `{}`)
	// The caller passes the counts before each page and adds the result,
	// as the engine does; the stored run always includes the page.
	r := run("r1", "c1")
	r.Counts.Read = 2
	res := commit(t, tn, Page{Connection: "c1", Run: r, Objects: []Object{a, b}})
	r.Counts.Created += int64(res.Created)
	stored, err := tn.Run(ctx, "r1")
	if err != nil || stored.Counts != (Counts{Read: 2, Created: 2}) {
		t.Errorf("after page 1, stored counts = %+v, %v", stored.Counts, err)
	}
	r.Counts.Read = 4
	r.Connection = "" // defaults to the page's
	res = commit(t, tn, Page{Connection: "c1", Run: r, Objects: []Object{a, withData(b, `{"x":1}`)}})
	r.Counts.Updated += int64(res.Updated)
	r.Counts.Skipped += int64(res.Skipped)
	got, err := tn.ActiveRun(ctx, "c1", "sync")
	if err != nil || got.Connection != "c1" || got.Counts != (Counts{Read: 4, Created: 2, Updated: 1, Skipped: 1}) || got.Counts != r.Counts {
		t.Errorf("ActiveRun = %+v, %v; want counts %+v", got, err, r.Counts)
	}
}

func TestBlobs(t *testing.T) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	ctx := context.Background()

	rc := Receipt{ID: "rcpt-1", RunID: "r1", Kind: "ingest", Envelope: []byte(`{"payload":"x"}`), CreatedAt: t0}
	mustNil(t, tn.PutReceipt(ctx, rc))
	mustNil(t, tn.PutReceipt(ctx, rc)) // idempotent
	changed := rc
	changed.Envelope = []byte(`{"payload":"y"}`)
	if err := tn.PutReceipt(ctx, changed); !errors.Is(err, ErrExists) {
		t.Errorf("overwriting a receipt: %v, want ErrExists", err)
	}
	if got, err := tn.Receipt(ctx, "rcpt-1"); err != nil || !reflect.DeepEqual(got, rc) {
		t.Errorf("Receipt = %+v, %v", got, err)
	}
	if _, err := tn.Receipt(ctx, "rcpt-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing receipt: %v", err)
	}

	if _, err := tn.Tape(ctx, "r1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing tape: %v", err)
	}
	tape := []byte{0, 1, 2, 0xff}
	mustNil(t, tn.PutTape(ctx, "r1", tape))
	if got, _ := tn.Tape(ctx, "r1"); !slices.Equal(got, tape) {
		t.Errorf("Tape = %v", got)
	}

	mustNil(t, tn.PutSecret(ctx, "c1", "default", []byte("s1")))
	mustNil(t, tn.PutSecret(ctx, "c1", "webhook", []byte("s2")))
	mustNil(t, tn.PutSecret(ctx, "c10", "default", []byte("other"))) // c1 is a prefix of c10
	secrets, err := tn.Secrets(ctx, "c1")
	if err != nil || len(secrets) != 2 || string(secrets["default"]) != "s1" || string(secrets["webhook"]) != "s2" {
		t.Errorf("Secrets(c1) = %q, %v", secrets, err)
	}
	mustNil(t, tn.DeleteSecret(ctx, "c1", "webhook"))
	if _, err := tn.Secret(ctx, "c1", "webhook"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted secret: %v", err)
	}
	if s, err := tn.Secrets(ctx, "c2"); err != nil || s == nil || len(s) != 0 {
		t.Errorf("Secrets(c2) = %v, %v; want empty map", s, err)
	}

	mustNil(t, tn.PutKey(ctx, "salt-key", []byte{9, 9}))
	if k, err := tn.Key(ctx, "salt-key"); err != nil || !slices.Equal(k, []byte{9, 9}) {
		t.Errorf("Key = %v, %v", k, err)
	}
	if _, err := tn.Key(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing key: %v", err)
	}
}
