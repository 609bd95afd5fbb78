package scheduler

import (
	"context"
	"log/slog"
	"sync"
)

// Cancel stops the connection's job, for a connection being deleted: a
// queued job is dropped and never starts; a running job's context is
// canceled and Cancel waits until its RunFunc has returned, or for ctx.
// It returns how many jobs it stopped, 0 for an idle connection (at most
// 1: a connection has one job at a time). A stopped job ends Canceled
// (a running job that still returned nil ends Done), is not listed by
// Pending, and the connection takes new jobs at once.
//
// If ctx ends first Cancel returns a *StillRunningError: the job has been
// told to stop but still holds its connection, so the caller must not
// delete what the run writes to. Cancel leaves the connection's schedule
// alone; call RemoveSchedule first so no periodic sync comes due
// meanwhile.
func (s *Scheduler) Cancel(ctx context.Context, tenant, connection string) (int, error) {
	s.mu.Lock()
	key := connKey{tenant, connection}
	e := s.busy[key]
	switch {
	case e == nil:
		s.mu.Unlock()
		return 0, nil
	case e.status == Queued:
		s.dropLocked(key, e)
		s.mu.Unlock()
		return 1, nil
	}
	e.canceled = true
	e.cancel()
	s.mu.Unlock()

	select {
	case <-e.done:
		return 1, nil
	case <-ctx.Done():
		// A run that returned at the same moment has stopped after all.
		select {
		case <-e.done:
			return 1, nil
		default:
		}
		return 0, &StillRunningError{Tenant: tenant, Connection: connection, RunID: e.job.RunID, Err: ctx.Err()}
	}
}

// dropLocked removes a queued job: it ends Canceled without having
// started, so it counts in no run metric; the queue depth drops.
func (s *Scheduler) dropLocked(key connKey, e *entry) {
	s.q.remove(e)
	delete(s.busy, key)
	e.status, e.err, e.finishedAt = Canceled, ErrCanceled, s.clock.Now()
	s.retireLocked(e)
	close(e.done)
	s.m.gauges(s.q.size, s.running)
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "run canceled before it started", jobAttrs(e.job)...)
}

// Hold keeps the connection from taking jobs until release is called:
// Submit (and a periodic sync coming due) is refused with a *BusyError
// whose Held is set. Deleting a connection holds it from before Cancel
// until the store delete is done, so no job starts in between. Holds
// nest; release is idempotent.
func (s *Scheduler) Hold(tenant, connection string) (release func()) {
	key := connKey{tenant, connection}
	s.mu.Lock()
	s.held[key]++
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.held[key]--; s.held[key] <= 0 {
				delete(s.held, key)
			}
		})
	}
}
