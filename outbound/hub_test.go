package outbound_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/outbound"
	"github.com/sluicehq/sluice/store"
)

func objs(n int) []store.Object {
	out := make([]store.Object, n)
	for i := range out {
		src := string(rune('a' + i))
		out[i] = store.Object{EntityID: store.EntityID("acme", "dir", "user", src), Type: "user", SourceID: src,
			Digest: "d" + src, Data: json.RawMessage(`{"v":"` + src + `"}`), ObservedAt: time.Unix(0, 0)}
	}
	return out
}

func TestDeliverToSubscribersAndFile(t *testing.T) {
	dir := t.TempDir()
	h := outbound.New(outbound.Config{FileDir: dir, Buffer: 8})
	sub, err := h.Subscribe("acme", "dir")
	if err != nil {
		t.Fatal(err)
	}
	other, err := h.Subscribe("acme", "other")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Deliver(context.Background(), "acme", "dir", "r1", objs(3)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		var rec outbound.Record
		if err := json.Unmarshal(<-sub.C, &rec); err != nil || rec.RunID != "r1" || rec.SourceID != string(rune('a'+i)) {
			t.Fatalf("record %d: %+v, %v", i, rec, err)
		}
	}
	select {
	case l := <-other.C:
		t.Fatalf("another connection's subscriber got %s", l)
	default:
	}
	b, err := os.ReadFile(filepath.Join(dir, "acme", "dir.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 3 {
		t.Errorf("file sink has %d lines, want 3", n)
	}
	if fi, err := os.Stat(filepath.Join(dir, "acme", "dir.ndjson")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file sink mode %v, %v; want 0600", fi.Mode(), err)
	}
	if h.Undelivered() != 0 {
		t.Errorf("undelivered %d", h.Undelivered())
	}
}

// A full subscriber holds the run back until its context ends; a
// cancelled one is skipped; after Close nothing is accepted.
func TestBackPressureCancelAndClose(t *testing.T) {
	h := outbound.New(outbound.Config{Buffer: 1})
	sub, err := h.Subscribe("acme", "dir")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.Deliver(ctx, "acme", "dir", "r1", objs(3)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deliver to a full subscriber: %v, want the context's error", err)
	}
	sub.Cancel()
	sub.Cancel() // twice is fine
	if h.Subscribers("acme", "dir") != 0 {
		t.Error("cancelled subscriber still counted")
	}
	if err := h.Deliver(context.Background(), "acme", "dir", "r2", objs(1)); err != nil || h.Undelivered() != 1 {
		t.Errorf("deliver with no one listening: %v, undelivered %d", err, h.Undelivered())
	}
	h.Close()
	if _, err := h.Subscribe("acme", "dir"); !errors.Is(err, outbound.ErrClosed) {
		t.Errorf("subscribe after close: %v", err)
	}
	if err := h.Deliver(context.Background(), "acme", "dir", "r3", objs(1)); !errors.Is(err, outbound.ErrClosed) {
		t.Errorf("deliver after close: %v", err)
	}
}
