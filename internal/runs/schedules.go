package runs

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/scheduler"
	"github.com/sluicehq/sluice/store"
)

// Restore is called once at start: every connection with an interval gets
// its periodic sync, and every run a shutdown interrupted is queued again
// under its own id, so the engine resumes it from its last checkpoint.
// It returns how many runs it queued.
func (s *Service) Restore(ctx context.Context) (int, error) {
	tenants, err := s.db.Tenants(ctx)
	if err != nil {
		return 0, err
	}
	resumed := 0
	for _, id := range tenants {
		t, err := s.db.Tenant(id)
		if err != nil {
			return resumed, err
		}
		after := ""
		for {
			conns, next, err := t.Connections(ctx, after, 500)
			if err != nil {
				return resumed, err
			}
			for _, c := range conns {
				n, err := s.restore(ctx, t, c)
				resumed += n
				if err != nil {
					return resumed, err
				}
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	return resumed, nil
}

func (s *Service) restore(ctx context.Context, t *store.Tenant, c store.Connection) (int, error) {
	if c.Interval > 0 {
		if err := s.sched.SetSchedule(t.ID(), c.ID, c.Interval); err != nil {
			return 0, fmt.Errorf("runs: schedule %s/%s: %w", t.ID(), c.ID, err)
		}
	}
	n := 0
	for _, kind := range []string{scheduler.KindSync, scheduler.KindBackfill} {
		run, err := t.ActiveRun(ctx, c.ID, kind)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		_, err = s.sched.Submit(ctx, scheduler.Job{Tenant: t.ID(), Connection: c.ID, Kind: kind,
			Full: run.Full, Range: run.Range, RunID: run.ID, CorrelationID: run.CorrelationID})
		if errors.Is(err, scheduler.ErrBusy) {
			continue // one job per connection: the other kind resumes next
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Connections wraps the API's connections backend so that creating,
// updating, disabling or deleting a connection keeps its periodic sync in
// step with its interval.
func (s *Service) Connections(next api.Connections) api.Connections {
	return &scheduledConnections{Connections: next, s: s}
}

type scheduledConnections struct {
	api.Connections
	s *Service
}

func (c *scheduledConnections) follow(t *store.Tenant, conn store.Connection) error {
	if conn.Interval > 0 && conn.State != "disabled" {
		return c.s.sched.SetSchedule(t.ID(), conn.ID, conn.Interval)
	}
	c.s.sched.RemoveSchedule(t.ID(), conn.ID)
	return nil
}

func (c *scheduledConnections) Create(ctx context.Context, t *store.Tenant, req api.ConnectionRequest) (store.Connection, error) {
	conn, err := c.Connections.Create(ctx, t, req)
	if err != nil {
		return conn, err
	}
	return conn, c.follow(t, conn)
}

func (c *scheduledConnections) Update(ctx context.Context, t *store.Tenant, id string, req api.ConnectionUpdate) (store.Connection, error) {
	conn, err := c.Connections.Update(ctx, t, id, req)
	if err != nil {
		return conn, err
	}
	return conn, c.follow(t, conn)
}

func (c *scheduledConnections) Disable(ctx context.Context, t *store.Tenant, id string) (store.Connection, error) {
	conn, err := c.Connections.Disable(ctx, t, id)
	if err != nil {
		return conn, err
	}
	return conn, c.follow(t, conn)
}

// Delete stops the connection's job before the store deletes the
// connection: a sync still running would commit its next page after the
// cascade, writing back a running run record and a checkpoint that a
// connection recreated under the same id would resume from. The schedule
// goes first, so no periodic sync comes due in between. If the job does
// not stop within StopTimeout the connection is not deleted (503, retry).
func (c *scheduledConnections) Delete(ctx context.Context, t *store.Tenant, id string) error {
	// Held until the store delete is done: a sync asked for meanwhile is
	// refused (409) instead of racing the cascade.
	release := c.s.sched.Hold(t.ID(), id)
	defer release()
	c.s.sched.RemoveSchedule(t.ID(), id)
	sctx, cancel := context.WithTimeout(ctx, c.s.stopTimeout)
	defer cancel()
	if _, err := c.s.sched.Cancel(sctx, t.ID(), id); err != nil {
		c.reschedule(ctx, t, id)
		return &api.StatusError{Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("the connection's run did not stop within %s, so the connection was not deleted; retry", c.s.stopTimeout),
			Err:    fmt.Errorf("runs: delete connection %s/%s: %w", t.ID(), id, err)}
	}
	if err := c.Connections.Delete(ctx, t, id); err != nil {
		c.reschedule(ctx, t, id)
		return err
	}
	return nil
}

// reschedule restores the periodic sync of a connection Delete left in
// place; a connection that is gone or unreadable keeps none (Restore
// sets it again at the next start).
func (c *scheduledConnections) reschedule(ctx context.Context, t *store.Tenant, id string) {
	if conn, err := t.Connection(context.WithoutCancel(ctx), id); err == nil {
		_ = c.follow(t, conn)
	}
}
