package engine_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/engine"
)

// A run cancelled by its caller (server shutdown) is not failed: it keeps
// its checkpoint, and the next run of the same kind resumes it, even a
// full snapshot or a backfill.
func TestCancelledFullSyncResumes(t *testing.T) {
	r := newRig(t, rigOptions{})
	sb, _ := startSandbox(t, sandboxConfig(1000))
	ctx, cancel := context.WithCancel(context.Background())
	var pages atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/api/v1/users" && pages.Add(1) == 4 {
			cancel()
		}
		sb.Handler().ServeHTTP(w, req)
	}))
	defer srv.Close()
	mod := r.module("directory", nil)
	conn := r.conn("acme", mod, srv.URL)

	res, err := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true, PageSize: 100, Streams: []string{"users"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run err = %v, want context.Canceled", err)
	}
	if res == nil || res.Run.State != engine.StateRunning || len(res.Envelope) != 0 {
		t.Fatalf("interrupted run = %+v, want still running and no receipt yet", res)
	}
	done, err := r.eng.Sync(context.Background(), conn, engine.RunOptions{Full: true, PageSize: 100, Streams: []string{"users"}})
	if err != nil {
		t.Fatal(err)
	}
	if done.Run.ID != res.Run.ID || done.Run.Counts.Created != 1000 || done.Run.State != engine.StateSucceeded {
		t.Fatalf("resumed run %s (was %s) counts %+v state %s", done.Run.ID, res.Run.ID, done.Run.Counts, done.Run.State)
	}
	if got := pages.Load(); got > 4+10+1 {
		t.Fatalf("resume re-read from the start: %d users pages for 10 pages of data", got)
	}
}
