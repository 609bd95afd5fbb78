package runs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
)

// TestRunsOfAConnectionThatDoesNotExist: listing the runs of a deleted
// (or never created, or another tenant's) connection is ErrNotFound, as
// on every other connection route, while a disabled connection, which
// the engine cannot run (noConns), still lists its history.
func TestRunsOfAConnectionThatDoesNotExist(t *testing.T) {
	ctx := context.Background()
	db, svc := noConnsService(t)
	acme, _ := db.Tenant("acme")
	globex, _ := db.Tenant("globex")
	now := time.Now().UTC()
	for _, id := range []string{"dir", "gone"} {
		if err := acme.CreateConnection(ctx, store.Connection{ID: id, Connector: "directory", Version: "1.0.0",
			State: "disabled", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := acme.PutRun(ctx, store.Run{ID: "run-" + id, Connection: id, Connector: "directory", Version: "1.0.0",
			Kind: "sync", State: "succeeded", StartedAt: now, FinishedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := acme.DeleteConnection(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	rs, err := svc.Runs(ctx, acme, "dir", 10)
	if err != nil || len(rs) != 1 || rs[0].ID != "run-dir" {
		t.Fatalf("runs of the disabled connection = %+v, %v; want its one run", rs, err)
	}
	for _, c := range []struct {
		name   string
		tenant *store.Tenant
		conn   string
	}{
		{"deleted", acme, "gone"},
		{"never created", acme, "nope"},
		{"another tenant's", globex, "dir"},
	} {
		if rs, err := svc.Runs(ctx, c.tenant, c.conn, 10); !errors.Is(err, store.ErrNotFound) || rs != nil {
			t.Errorf("runs of the %s connection = %+v, %v; want store.ErrNotFound", c.name, rs, err)
		}
	}
}
