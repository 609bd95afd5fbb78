package connections_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/store"
)

// A connection created again under a deleted one's id syncs from the
// beginning: the engine neither reads the old stream cursors nor resumes
// the old connection's interrupted run, which the delete ended as failed
// at the manager's clock.
func TestRecreatedConnectionSyncsFromScratch(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acme := r.tenant("acme")
	must(r.m.Create(ctx, acme, r.clientCredentials("dir")))(t)
	conn := must(r.m.Connection(ctx, acme, "dir"))(t)
	first := must(r.eng.Sync(ctx, conn, engine.RunOptions{}))(t)
	cursors := 0
	for _, c := range first.Run.Cursors {
		if c != "" {
			cursors++
		}
	}
	if first.Run.State != engine.StateSucceeded || cursors == 0 {
		t.Fatalf("first sync = %s with cursors %v; the test needs cursors to inherit", first.Run.State, first.Run.Cursors)
	}
	// What a host stopped mid-run leaves: a running run of this module.
	noErr(t, acme.PutRun(ctx, store.Run{ID: "interrupted", Connection: "dir", Connector: "directory", Version: "1.0.0",
		ModuleDigest: conn.Module.Digest, Kind: engine.KindSync, State: engine.StateRunning,
		Streams: first.Run.Streams, Cursors: first.Run.Cursors, StartedAt: time.Now().UTC()}))

	r.clock.Advance(time.Minute)
	deletedAt := r.clock.Now()
	noErr(t, r.m.Delete(ctx, acme, "dir"))
	must(r.m.Create(ctx, acme, r.clientCredentials("dir")))(t)
	again := must(r.eng.Sync(ctx, must(r.m.Connection(ctx, acme, "dir"))(t), engine.RunOptions{}))(t)

	if again.Run.ID == "interrupted" {
		t.Fatal("the recreated connection resumed the old connection's interrupted run")
	}
	for stream, c := range again.Run.CursorsIn {
		if c != "" {
			t.Errorf("stream %s of the recreated connection started from the old cursor %q", stream, c)
		}
	}
	old := must(acme.Run(ctx, "interrupted"))(t)
	if old.State != engine.StateFailed || !old.FinishedAt.Equal(deletedAt) ||
		len(old.Errors) != 1 || old.Errors[0].Type != store.RunConnectionDeleted {
		t.Errorf("interrupted run after the delete = %s finished %v errors %+v", old.State, old.FinishedAt, old.Errors)
	}
}
