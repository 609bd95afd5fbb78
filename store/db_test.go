package store

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpenOptions(t *testing.T) {
	if _, err := Open(Options{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open(zero) = %v, want ErrInvalid", err)
	}
	db, err := Open(Options{InMemory: true, Dir: "ignored"})
	if err != nil {
		t.Fatalf("Open(InMemory): %v", err)
	}
	tn := tenant(t, db, "acme")
	o := obj(tn, "contact", "1", `{"a":1}`)
	commit(t, tn, Page{Connection: "c1", Run: run("r1", "c1"), Objects: []Object{o}})
	if _, err := tn.Object(context.Background(), o.EntityID); err != nil {
		t.Errorf("Object in memory: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := tn.Object(context.Background(), o.EntityID); !errors.Is(err, ErrClosed) {
		t.Errorf("Object after Close = %v, want ErrClosed", err)
	}
}

// recorder is a slog.Handler that keeps every record, with the
// attributes of With, in a sink shared by its derived handlers.
type recorder struct {
	sink  *logSink
	attrs []slog.Attr
}

type logSink struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r recorder) Handle(_ context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(r.attrs...)
	r.sink.mu.Lock()
	defer r.sink.mu.Unlock()
	r.sink.recs = append(r.sink.recs, rec)
	return nil
}
func (r recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return recorder{sink: r.sink, attrs: append(slices.Clone(r.attrs), as...)}
}
func (r recorder) WithGroup(string) slog.Handler { return r }

func TestBadgerLogsGoToInjectedLogger(t *testing.T) {
	sink := &logSink{}
	openDB(t, func(o *Options) { o.Logger = slog.New(recorder{sink: sink}) })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.recs) == 0 {
		t.Fatal("no Badger log line reached the injected logger")
	}
	for _, rec := range sink.recs {
		comp := ""
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "component" {
				comp = a.Value.String()
			}
			return true
		})
		if comp != "badger" || strings.HasSuffix(rec.Message, "\n") {
			t.Errorf("record %q: component=%q (want badger), message must be trimmed", rec.Message, comp)
		}
	}
}

func TestTenantIDValidation(t *testing.T) {
	db := openDB(t)
	tests := []struct {
		id string
		ok bool
	}{
		{"acme", true},
		{"a", true},
		{"0", true},
		{"acme-corp_2", true},
		{strings.Repeat("a", 63), true},
		{"", false},
		{strings.Repeat("a", 64), false},
		{"Acme", false},
		{"-acme", false},
		{"_acme", false},
		{"acme/other", false},
		{"acme.corp", false},
		{"acme corp", false},
		{"t/acme", false},
		{"acme\x00", false},
		{"ácme", false},
	}
	for _, tt := range tests {
		tn, err := db.Tenant(tt.id)
		if tt.ok {
			if err != nil || tn.ID() != tt.id {
				t.Errorf("Tenant(%q) = %v, %v; want ok", tt.id, tn, err)
			}
			continue
		}
		var verr *ValidationError
		if !errors.As(err, &verr) || !errors.Is(err, ErrInvalid) || verr.Field != "tenant" {
			t.Errorf("Tenant(%q) err = %v, want *ValidationError on field tenant", tt.id, err)
		}
	}
}

func TestInvalidArguments(t *testing.T) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	ctx := context.Background()
	calls := map[string]func() error{
		"Checkpoint bad connection": func() error { _, err := tn.Checkpoint(ctx, "Bad", "sync", "s"); return err },
		"Checkpoint bad stream":     func() error { _, err := tn.Checkpoint(ctx, "c1", "sync", "a/b"); return err },
		"Run bad id":                func() error { _, err := tn.Run(ctx, "../x"); return err },
		"Runs bad connection":       func() error { _, err := tn.Runs(ctx, "C", 10); return err },
		"ActiveRun empty conn":      func() error { _, err := tn.ActiveRun(ctx, "", "sync"); return err },
		"Object bad id":             func() error { _, err := tn.Object(ctx, "not-a-uuid"); return err },
		"Object upper-case uuid":    func() error { _, err := tn.Object(ctx, "A23C8ED3-11B2-4171-8DB1-939B09D8C688"); return err },
		"Objects type without conn": func() error { _, _, err := tn.Objects(ctx, ListOptions{Type: "contact"}); return err },
		"Objects bad cursor":        func() error { _, _, err := tn.Objects(ctx, ListOptions{After: "x/y"}); return err },
		"Count type without conn":   func() error { _, err := tn.CountObjects(ctx, "", "contact"); return err },
		"Lineage bad id":            func() error { _, err := tn.Lineage(ctx, "x"); return err },
		"FinishSnapshot bad type":   func() error { _, err := tn.FinishSnapshot(ctx, "c1", "r1", []string{"a/b"}, t0); return err },
		"FinishSnapshot zero time":  func() error { _, err := tn.FinishSnapshot(ctx, "c1", "r1", nil, zeroTime); return err },
		"DiscardStaged bad run":     func() error { _, err := tn.DiscardStaged(ctx, ""); return err },
		"PayloadManifest bad run":   func() error { return tn.PayloadManifest(ctx, "a b", nil) },
		"PutReceipt no envelope":    func() error { return tn.PutReceipt(ctx, Receipt{ID: "r", Kind: "ingest"}) },
		"PutTape empty":             func() error { return tn.PutTape(ctx, "r1", nil) },
		"PutSecret bad name":        func() error { return tn.PutSecret(ctx, "c1", "a/b", []byte("x")) },
		"Secrets bad connection":    func() error { _, err := tn.Secrets(ctx, "c1/x"); return err },
		"PutKey bad name":           func() error { return tn.PutKey(ctx, "", []byte("x")) },
		"PutRun no start":           func() error { r := run("r1", "c1"); r.StartedAt = zeroTime; return tn.PutRun(ctx, r) },
		"PutRun bad connection":     func() error { return tn.PutRun(ctx, run("r1", "C1")) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if keys := dump(t, db); len(keys) != 0 {
		t.Errorf("invalid calls wrote %d keys: %v", len(keys), keys)
	}
}

var zeroTime time.Time

func TestCancelledContext(t *testing.T) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := obj(tn, "contact", "1", `{}`)
	if _, err := tn.CommitPage(ctx, Page{Connection: "c1", Run: run("r1", "c1"), Objects: []Object{o}}); !errors.Is(err, context.Canceled) {
		t.Errorf("CommitPage = %v, want context.Canceled", err)
	}
	if _, err := db.Tenants(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Tenants = %v, want context.Canceled", err)
	}
}
