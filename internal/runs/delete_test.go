package runs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/scheduler"
	"github.com/sluicehq/sluice/store"
)

var dirStreams = []string{"users", "groups", "memberships"}

// TestDeleteStopsTheRunningSync: deleting a connection while its sync
// runs (the remote answers slowly) stops the sync before the store
// cascade, so nothing of the run outlives the connection: no checkpoint,
// no run left running, and a connection recreated under the same id
// syncs from empty cursors.
func TestDeleteStopsTheRunningSync(t *testing.T) {
	env := newTraceEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tn, err := env.db.Tenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.sb.SetFaults(sandbox.Faults{LatencyRate: 1, Latency: 400 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	runID, _ := env.submitSync(t, `{}`, nil) // incremental: it resumes a checkpoint

	// Delete once the first page is committed, while a later page's
	// request is still waiting on the remote.
	for !hasCheckpoint(t, tn, "dir") {
		if st, _ := env.svc.sched.State(runID); st.Status != scheduler.Running {
			t.Fatalf("run %s is %s before its first checkpoint (%v)", runID, st.Status, st.Err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("no checkpoint committed")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if resp, b := env.do(t, "DELETE", "/v1/tenants/acme/connections/dir", "", nil, nil); resp.StatusCode != 204 {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}
	// Delete returned after the job had stopped: the scheduler has its
	// end recorded, as canceled.
	st, ok := env.svc.sched.State(runID)
	if !ok || st.Status != scheduler.Canceled || !errors.Is(st.Err, scheduler.ErrCanceled) {
		t.Errorf("job after the delete: %s, %v; want canceled", st.Status, st.Err)
	}
	// Let a run the delete did not stop end, so what it writes after the
	// cascade is seen below.
	if _, err := env.svc.sched.Wait(ctx, runID); err != nil {
		t.Fatal(err)
	}
	if hasCheckpoint(t, tn, "dir") {
		t.Fatal("a checkpoint of the deleted connection exists")
	}
	run, err := tn.Run(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	if run.State == "running" || !slices.ContainsFunc(run.Errors, func(e store.RunError) bool { return e.Type == store.RunConnectionDeleted }) {
		t.Fatalf("run after the delete: %s, errors %+v; want ended by the delete", run.State, run.Errors)
	}

	if err := env.sb.SetFaults(sandbox.Faults{}); err != nil {
		t.Fatal(err)
	}
	if resp, b := env.do(t, "POST", "/v1/tenants/acme/connections", "application/json", env.connBody, nil); resp.StatusCode != 201 {
		t.Fatalf("recreate: %d %s", resp.StatusCode, b)
	}
	again, _ := env.submitSync(t, `{}`, nil)
	if err := env.svc.Wait(ctx, again); err != nil {
		t.Fatalf("sync of the recreated connection: %v", err)
	}
	run = env.run(t, again)
	if run.State != "succeeded" || len(run.CursorsIn) == 0 {
		t.Fatalf("sync of the recreated connection: %s, cursors in %v", run.State, run.CursorsIn)
	}
	for stream, cursor := range run.CursorsIn {
		if cursor != "" {
			t.Errorf("recreated connection's sync started %s from %q, want an empty cursor", stream, cursor)
		}
	}
}

// submitSync asks for a sync of "dir" through the API with body and
// headers, and returns its run id and the answer.
func (e *traceEnv) submitSync(t *testing.T, body string, hdr map[string]string) (string, *http.Response) {
	t.Helper()
	resp, b := e.do(t, "POST", "/v1/tenants/acme/connections/dir/sync", "application/json", []byte(body), hdr)
	if resp.StatusCode != 202 {
		t.Fatalf("sync: %d %s", resp.StatusCode, b)
	}
	var acc struct {
		RunID string `json:"run_id"`
	}
	if err := json.Unmarshal(b, &acc); err != nil || acc.RunID == "" {
		t.Fatalf("sync answer %s: %v", b, err)
	}
	return acc.RunID, resp
}

// hasCheckpoint reports whether any sync checkpoint of the connection is
// stored.
func hasCheckpoint(t *testing.T, tn *store.Tenant, conn string) bool {
	t.Helper()
	for _, s := range dirStreams {
		_, err := tn.Checkpoint(context.Background(), conn, "sync", s)
		switch {
		case err == nil:
			return true
		case !errors.Is(err, store.ErrNotFound):
			t.Fatal(err)
		}
	}
	return false
}
