package scheduler

import (
	"container/heap"
	"context"
	"time"

	"github.com/sluicehq/sluice/internal/telemetry"
)

// schedule is one connection's periodic sync.
type schedule struct {
	key   connKey
	every time.Duration
	next  time.Time
	index int // in the heap
}

// scheduleHeap orders schedules by next due time.
type scheduleHeap []*schedule

func (h scheduleHeap) Len() int           { return len(h) }
func (h scheduleHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h scheduleHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *scheduleHeap) Push(x any) {
	sc := x.(*schedule)
	sc.index = len(*h)
	*h = append(*h, sc)
}
func (h *scheduleHeap) Pop() any {
	old := *h
	sc := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	sc.index = -1
	return sc
}

// SetSchedule makes the scheduler submit a sync of the connection every
// interval, the first one interval from now. Setting the same interval
// again keeps the due time; a new interval restarts it from now. A due
// sync is skipped while the connection has a job queued or running, or
// while the queue is full; missed intervals are not made up.
func (s *Scheduler) SetSchedule(tenant, connection string, every time.Duration) error {
	if err := checkID("tenant", tenant); err != nil {
		return err
	}
	if err := checkID("connection", connection); err != nil {
		return err
	}
	if every < s.minInterval {
		return &FieldError{Field: "every", Reason: "shorter than " + s.minInterval.String()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	key := connKey{tenant, connection}
	sc := s.schedByConn[key]
	switch {
	case sc == nil:
		sc = &schedule{key: key, every: every, next: s.clock.Now().Add(every)}
		s.schedByConn[key] = sc
		heap.Push(&s.scheds, sc)
	case sc.every == every:
		return nil
	default:
		sc.every, sc.next = every, s.clock.Now().Add(every)
		heap.Fix(&s.scheds, sc.index)
	}
	s.poke()
	return nil
}

// RemoveSchedule stops a connection's periodic syncs and reports whether
// it had a schedule. A job already queued or running is not touched.
func (s *Scheduler) RemoveSchedule(tenant, connection string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := connKey{tenant, connection}
	sc := s.schedByConn[key]
	if sc == nil {
		return false
	}
	delete(s.schedByConn, key)
	heap.Remove(&s.scheds, sc.index)
	s.poke()
	return true
}

// poke wakes the loop to look at the schedules again.
func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// loop submits due syncs until ctx is done, then stops the scheduler.
func (s *Scheduler) loop(ctx context.Context) {
	defer s.wg.Done()
	for {
		var (
			t     Timer
			fired <-chan time.Time
		)
		if next, ok := s.nextDue(); ok {
			t = s.clock.NewTimer(next.Sub(s.clock.Now()))
			fired = t.C()
		}
		select {
		case <-ctx.Done():
			stopTimer(t)
			s.stop()
			return
		case <-s.wake:
			stopTimer(t)
		case <-fired:
			s.fireDue()
		}
	}
}

func stopTimer(t Timer) {
	if t != nil {
		t.Stop()
	}
}

func (s *Scheduler) nextDue() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.scheds) == 0 {
		return time.Time{}, false
	}
	return s.scheds[0].next, true
}

// fireDue submits a sync for every schedule due by now and moves each to
// its first due time after now.
func (s *Scheduler) fireDue() {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.scheds) > 0 && !s.scheds[0].next.After(now) {
		sc := s.scheds[0]
		j := Job{Tenant: sc.key.tenant, Connection: sc.key.connection, Kind: KindSync, CorrelationID: telemetry.NewTraceID().String()}
		if _, err := s.submitLocked(j); err != nil {
			s.m.rejected(sourceSchedule, err)
		}
		missed := now.Sub(sc.next) / sc.every
		sc.next = sc.next.Add((missed + 1) * sc.every)
		heap.Fix(&s.scheds, 0)
	}
}
