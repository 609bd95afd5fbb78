package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"

	"github.com/sluicehq/sluice/internal/telemetry"
	"github.com/sluicehq/sluice/store"
)

// Accepted is the answer to a delivery.
type Accepted struct {
	// EventID is the inbox event id (also the processing run's id); for
	// a duplicate, the first delivery's.
	EventID string `json:"event_id"`
	// Duplicate: the webhook-id was accepted before; nothing was stored.
	Duplicate bool `json:"duplicate"`
}

// acceptReq is one delivery waiting for the group commit.
type acceptReq struct {
	a    store.WebhookAccept
	done chan error
}

// forwarded are the request headers the connector sees besides the
// body: the Standard Webhooks id and timestamp and the media type. The
// signature is the host's business, and credentials or cookies a sender
// might add are not the connector's.
var forwarded = []string{HeaderID, HeaderTimestamp, "Content-Type"}

// Accept verifies a delivery to hook and writes it durably before it
// returns; see the package doc for the order of checks. Errors: an
// unknown hook (ErrUnknownHook), a *SignatureError, ErrBadBody, a
// *QueueFullError, ErrUnavailable, or a store failure.
func (s *Service) Accept(ctx context.Context, hook string, h http.Header, body []byte) (Accepted, error) {
	// Shutdown waits for accepts in flight, so none is left waiting on a
	// writer that stopped.
	s.gate.RLock()
	defer s.gate.RUnlock()
	if !s.running.Load() {
		s.metrics.rejected.WithLabelValues("unavailable").Inc()
		return Accepted{}, ErrUnavailable
	}
	e, err := s.hook(ctx, hook)
	if err != nil {
		if errors.Is(err, ErrUnknownHook) {
			s.metrics.rejected.WithLabelValues("unknown_hook").Inc()
		}
		return Accepted{}, err
	}
	now := s.cfg.Now()
	var buf [4][]byte
	id := h.Get(HeaderID)
	if err := s.verify.Verify(e.activeKeys(now, buf[:0]), id, h.Get(HeaderTimestamp), h.Get(HeaderSignature), body, now); err != nil {
		s.metrics.rejected.WithLabelValues("signature").Inc()
		return Accepted{}, err
	}
	if !json.Valid(body) {
		s.metrics.rejected.WithLabelValues("bad_body").Inc()
		return Accepted{}, ErrBadBody
	}
	// Reserve a queue slot before writing: an accepted event always has
	// a place in the queue, so none is ever dropped.
	if depth := s.pending.Add(1); depth > int64(s.cfg.QueueSize) {
		s.pending.Add(-1)
		s.metrics.rejected.WithLabelValues("queue_full").Inc()
		return Accepted{}, &QueueFullError{Depth: int(depth - 1), RetryAfter: s.cfg.RetryAfter}
	}
	evID, err := uuid.NewV7()
	if err != nil {
		s.pending.Add(-1)
		return Accepted{}, err
	}
	headers := make(map[string]string, len(forwarded))
	for _, k := range forwarded {
		if v := h.Get(k); v != "" {
			headers[http.CanonicalHeaderKey(k)] = v
		}
	}
	// The request's trace id is the correlation id the API echoed to the
	// sender: the run, its receipt and any DLQ item carry it.
	corr := telemetry.TraceID(ctx)
	if corr == "" {
		corr = evID.String()
	}
	req := &acceptReq{done: make(chan error, 1), a: store.WebhookAccept{
		Tenant: e.tenant, TTL: s.cfg.DeliveryTTL, Hook: hook,
		Event: store.InboxEvent{ID: evID.String(), Connection: e.conn, WebhookID: id, Headers: headers,
			Body: body, CorrelationID: corr, ReceivedAt: now.UTC()},
	}}
	if err := s.write(ctx, req); err != nil {
		s.pending.Add(-1)
		return Accepted{}, err
	}
	if req.a.Gone {
		// The keys were cached before the endpoint was deleted (with its
		// connection) or replaced: the store refused the delivery.
		s.pending.Add(-1)
		s.keys.Delete(hook)
		s.metrics.rejected.WithLabelValues("unknown_hook").Inc()
		return Accepted{}, ErrUnknownHook
	}
	if req.a.Duplicate {
		s.pending.Add(-1)
		s.metrics.duplicates.WithLabelValues("delivery").Inc()
		return Accepted{EventID: req.a.Existing, Duplicate: true}, nil
	}
	s.metrics.accepted.Inc()
	s.queue <- item{tenant: e.tenant, id: req.a.Event.ID}
	return Accepted{EventID: req.a.Event.ID}, nil
}

// write hands req to the group-commit writer and waits until its group
// committed (or failed).
func (s *Service) write(ctx context.Context, req *acceptReq) error {
	select {
	case s.writes <- req:
	case <-s.stop:
		return ErrUnavailable
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once handed over, the write happens whatever the caller does: wait
	// for it, so the slot accounting stays right.
	return <-req.done
}

// writer is the group commit: it takes every delivery waiting, writes
// them in one transaction, and answers each. While one group commits,
// the next one gathers.
func (s *Service) writer() {
	defer s.wg.Done()
	batch := make([]*acceptReq, 0, s.cfg.BatchMax)
	for {
		var first *acceptReq
		select {
		case first = <-s.writes:
		case <-s.stop:
			// Answer whatever raced with the stop.
			for {
				select {
				case r := <-s.writes:
					r.done <- ErrUnavailable
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
		size := len(first.a.Event.Body)
	gather:
		for len(batch) < s.cfg.BatchMax && size < s.cfg.BatchBytes {
			select {
			case r := <-s.writes:
				batch = append(batch, r)
				size += len(r.a.Event.Body)
			default:
				break gather
			}
		}
		s.commit(batch)
	}
}

// commit writes one group; a group too big for one transaction is split.
func (s *Service) commit(batch []*acceptReq) {
	accepts := make([]*store.WebhookAccept, len(batch))
	for i, r := range batch {
		accepts[i] = &r.a
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = store.AcceptWebhooks(context.Background(), accepts)
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if errors.Is(err, badger.ErrTxnTooBig) && len(batch) > 1 {
		s.commit(batch[:len(batch)/2])
		s.commit(batch[len(batch)/2:])
		return
	}
	if err != nil && len(batch) > 1 && errors.Is(err, store.ErrInvalid) {
		// One bad delivery must not fail its neighbours.
		for _, r := range batch {
			s.commit([]*acceptReq{r})
		}
		return
	}
	s.metrics.batch.Observe(float64(len(batch)))
	for _, r := range batch {
		r.done <- err
	}
}
