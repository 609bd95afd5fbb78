package scheduler

import (
	"context"
	"fmt"
)

// Start starts queued jobs and periodic syncs, and returns at once. Runs'
// contexts derive from ctx; when ctx is done the scheduler stops as if
// Shutdown had begun (call Shutdown to wait for the runs).
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.started:
		return ErrStarted
	}
	s.base, s.cancel = context.WithCancel(ctx)
	s.started = true
	s.wg.Add(1)
	go s.loop(s.base)
	s.dispatchLocked()
	return nil
}

// Shutdown stops taking jobs and periodic syncs, cancels the running
// jobs' contexts and waits for their RunFuncs to return, or for ctx. It
// returns ctx's error (wrapped) if ctx ended first; the runs then go on
// in the background until they notice the cancellation. Call Pending
// afterwards for the jobs to persist. Calling Shutdown again waits
// again.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	s.stop()
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel == nil { // never started: nothing runs
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("scheduler: shutdown: %w", ctx.Err())
	}
}

// stop makes the scheduler refuse jobs and start none.
func (s *Scheduler) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.closedc)
	}
}

// Pending returns the jobs accepted but not completed, in submission
// order: queued jobs, running jobs and jobs interrupted by Shutdown. After
// Shutdown it is the list to persist and Submit again (run ids included)
// after a restart; a sync run again continues from the connection's last
// committed checkpoint.
func (s *Scheduler) Pending() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	es := s.q.queued()
	for _, e := range s.busy {
		if e.status == Running {
			es = append(es, e)
		}
	}
	es = append(es, s.interrupted...)
	sts := states(es)
	out := make([]Job, len(sts))
	for i, st := range sts {
		out[i] = st.Job
	}
	return out
}
