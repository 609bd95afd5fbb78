package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/store"
)

// item is one queued event. Only its id is held: the body is read back
// from the inbox when its turn comes, so a full queue of large bodies
// costs the store's memory, not the heap's.
type item struct {
	tenant *store.Tenant
	id     string
}

// Start re-queues every event left in the inboxes by an earlier process,
// then starts the group-commit writer and the workers, and opens the
// intake. It returns when the intake is open; recovered events are
// queued in the background, ahead of new ones only as far as the queue
// allows. ctx bounds the inbox scan; the workers run until Shutdown. A
// Service starts once; after Shutdown, make a new one.
func (s *Service) Start(ctx context.Context) error {
	if s.running.Load() || s.queue != nil {
		return fmt.Errorf("%w: Start called twice", ErrInvalid)
	}
	recovered, err := s.scanInbox(ctx)
	if err != nil {
		return fmt.Errorf("webhooks: recover inbox: %w", err)
	}
	s.queue = make(chan item, s.cfg.QueueSize)
	s.writes = make(chan *acceptReq, s.cfg.BatchMax)
	s.stop = make(chan struct{})
	workCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopWork = cancel
	s.wg.Add(1 + s.cfg.Workers)
	go s.writer()
	for range s.cfg.Workers {
		go s.worker(workCtx)
	}
	if len(recovered) > 0 {
		// Counted before the intake opens, so new deliveries see the
		// backlog and get 429s rather than crowding it out.
		s.pending.Add(int64(len(recovered)))
		s.log.InfoContext(ctx, "webhook events recovered from the inbox", "count", len(recovered))
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for i, it := range recovered {
				select {
				case s.queue <- it:
				case <-s.stop:
					s.pending.Add(-int64(len(recovered) - i))
					return
				}
			}
		}()
	}
	s.running.Store(true)
	return nil
}

// scanInbox lists every pending event of every tenant, oldest first per
// tenant. Only ids are kept: the bodies are read when processed.
func (s *Service) scanInbox(ctx context.Context) ([]item, error) {
	tenants, err := s.cfg.Store.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	var out []item
	for _, id := range tenants {
		t, err := s.cfg.Store.Tenant(id)
		if err != nil {
			return nil, err
		}
		after := ""
		for {
			evs, next, err := t.InboxEvents(ctx, after, 1000)
			if err != nil {
				return nil, err
			}
			for _, ev := range evs {
				out = append(out, item{tenant: t, id: ev.ID})
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	return out, nil
}

// Shutdown closes the intake (Accept answers ErrUnavailable), lets the
// workers finish the event in hand until ctx ends, then interrupts them.
// Events still queued stay in the inbox for the next Start.
func (s *Service) Shutdown(ctx context.Context) error {
	s.gate.Lock()
	wasRunning := s.running.Swap(false)
	s.gate.Unlock()
	if !wasRunning {
		return nil
	}
	close(s.stop)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.stopWork()
		return nil
	case <-ctx.Done():
		s.stopWork()
		<-done
		return ctx.Err()
	}
}

func (s *Service) worker(ctx context.Context) {
	defer s.wg.Done()
	for {
		// Stop first: a closed intake takes no more from the queue.
		select {
		case <-s.stop:
			return
		default:
		}
		select {
		case it := <-s.queue:
			s.process(ctx, it)
			s.pending.Add(-1)
		case <-s.stop:
			return
		}
	}
}

// process runs one event to an end: processed, duplicate or dead
// letter. The inbox is the truth: an event no longer there was finished.
func (s *Service) process(ctx context.Context, it item) {
	log := s.log.With("tenant", it.tenant.ID(), "event", it.id)
	var last error
	for attempt := 0; attempt <= s.cfg.Retries; attempt++ {
		if attempt > 0 {
			s.metrics.processed.WithLabelValues("retried").Inc()
			select {
			case <-time.After(time.Duration(attempt*attempt) * 100 * time.Millisecond):
			case <-ctx.Done():
				return
			}
		}
		ev, err := it.tenant.InboxEvent(ctx, it.id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return // finished by an earlier attempt
		case err != nil:
			last = err
			continue
		}
		conn, err := s.cfg.Connections.Connection(ctx, it.tenant, ev.Connection)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			last = fmt.Errorf("connection %s: %w", ev.Connection, err)
			continue
		}
		res, err := s.cfg.Engine.Webhook(ctx, conn, engine.WebhookEvent{
			ID: ev.ID, Headers: ev.Headers, Body: ev.Body, CorrelationID: ev.CorrelationID,
			ReceivedAt: ev.ReceivedAt, EventTTL: s.cfg.EventTTL,
		})
		if ctx.Err() != nil {
			return // shutting down: the event stays in the inbox
		}
		switch {
		case err == nil && res.Duplicate:
			s.metrics.duplicates.WithLabelValues("event").Inc()
			s.metrics.processed.WithLabelValues("duplicate").Inc()
			return
		case err == nil:
			s.metrics.processed.WithLabelValues("processed").Inc()
			return
		}
		var re *engine.RunError
		if errors.As(err, &re) {
			if _, lerr := it.tenant.InboxEvent(ctx, it.id); errors.Is(lerr, store.ErrNotFound) {
				s.metrics.processed.WithLabelValues("dead_lettered").Inc()
				log.WarnContext(ctx, "webhook event dead-lettered", "error_type", re.Type)
				return
			}
		}
		last = err
	}
	// Failed outside the connector every time: a DLQ item without a
	// tape, so the event is not retried forever nor lost.
	if err := s.deadLetter(ctx, it, last); errors.Is(err, store.ErrNotFound) {
		// Dropped from the inbox meanwhile: its connection was deleted.
		log.InfoContext(ctx, "webhook event dropped with its connection")
		return
	} else if err != nil {
		log.ErrorContext(ctx, "webhook event could not be dead-lettered; it stays in the inbox", "err", err)
		return
	}
	s.metrics.processed.WithLabelValues("dead_lettered").Inc()
	log.WarnContext(ctx, "webhook event dead-lettered", "error_type", "host_error", "err", last)
}

func (s *Service) deadLetter(ctx context.Context, it item, cause error) error {
	ev, err := it.tenant.InboxEvent(ctx, it.id)
	if err != nil {
		return err
	}
	input, err := json.Marshal(map[string]any{"headers": ev.Headers, "body": json.RawMessage(ev.Body)})
	if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	msg := "event could not be processed"
	if cause != nil {
		msg = truncate(cause.Error(), 4096)
	}
	dlq := store.DLQItem{ID: ev.ID, Connection: ev.Connection, Kind: store.DLQWebhook, Input: input,
		ErrorType: "host_error", Error: msg, Attempts: s.cfg.Retries + 1, FirstFailure: now, LastFailure: now,
		RunID: ev.ID, CorrelationID: ev.CorrelationID}
	if err := it.tenant.PutDLQItem(ctx, dlq, nil); err != nil {
		return err
	}
	return it.tenant.DeleteInboxEvent(ctx, ev.ID)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
