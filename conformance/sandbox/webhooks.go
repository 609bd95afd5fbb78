package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The webhook sender: every mutation becomes an event delivered to each
// subscription as a Standard Webhooks message (webhook-id,
// webhook-timestamp, webhook-signature = v1 HMAC-SHA256 with a whsec_
// secret), signed by the reference library so that a receiver tested
// against the sandbox is tested against the spec, not against our
// reading of it. Like a real SaaS sender it retries failures with
// backoff, honours Retry-After, and on request misbehaves the way real
// senders do: deliberate re-deliveries and duplicates of one message.

// Event types.
const (
	EventUserCreated       = "user.created"
	EventUserUpdated       = "user.updated"
	EventUserDeleted       = "user.deleted"
	EventMembershipAdded   = "membership.added"
	EventMembershipRemoved = "membership.removed"
)

// Bounds of Delivery and of the sender.
const (
	DefaultMaxAttempts = 5
	DefaultBackoff     = 100 * time.Millisecond
	DefaultTimeout     = 10 * time.Second
	MaxDuplicates      = 10
	MaxRetries         = 10
	MaxAttemptsLimit   = 20
	// MaxRetryAfter caps how long a Retry-After answer holds a delivery.
	MaxRetryAfter = 30 * time.Second
	maxBackoff    = 5 * time.Second
	// maxDeliveryLog is how many attempts DeliveryStats.Log keeps.
	maxDeliveryLog = 1000
	// maxEventBody bounds a handcrafted event's body.
	maxEventBody = 1 << 20
)

// Event is one webhook event. Its body on the wire is
//
//	{"id":"evt_…","type":"user.updated","occurred_at":"2026-…Z","data":{…}}
//
// where data is the user (as GET /api/v1/users/{id} serves it; the
// tombstone for user.deleted) or the membership (as listed by
// /api/v1/memberships), or for ticket.created, ticket.updated and
// comment.created the ticket or the comment (tickets.go).
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
	// WebhookID, when set, is the webhook-id header instead of the
	// default "msg_" + ID without its "evt_" prefix: a test can send one
	// event under two message ids.
	WebhookID string `json:"-"`
	// Body, when set, is sent verbatim instead of the JSON of the fields
	// above: a malformed or foreign event, for negative tests.
	Body []byte `json:"-"`
}

func (e *Event) webhookID() string {
	if e.WebhookID != "" {
		return e.WebhookID
	}
	return "msg_" + strings.TrimPrefix(e.ID, "evt_")
}

func (e *Event) body() ([]byte, error) {
	if e.Body != nil {
		return e.Body, nil
	}
	return json.Marshal(e)
}

// Delivery configures one subscription. The zero value delivers every
// event once, unsigned (set Sign), with up to DefaultMaxAttempts failed
// attempts, backoff from DefaultBackoff and a DefaultTimeout per attempt.
type Delivery struct {
	// Sign adds webhook-signature; without it the message carries only
	// webhook-id and webhook-timestamp, and a receiver must refuse it.
	Sign bool
	// Duplicates is how many extra copies of each delivered message are
	// sent after it succeeded: same webhook-id, timestamp, signature and
	// body, as a sender that lost the acknowledgement would. 0..MaxDuplicates.
	Duplicates int
	// Retries is how many times a message acknowledged with 2xx is sent
	// again anyway, as a sender that timed out waiting would: same
	// webhook-id and body, a fresh timestamp and signature. 0..MaxRetries.
	Retries int
	// MaxAttempts bounds the failed attempts (no answer or non-2xx) of one
	// event before it is given up. Zero means DefaultMaxAttempts; at most
	// MaxAttemptsLimit.
	MaxAttempts int
	// Backoff is the wait after the first failed attempt, doubled after
	// each further one up to 5 s; a Retry-After answer (seconds or an
	// HTTP date, capped at MaxRetryAfter) replaces it. Zero means
	// DefaultBackoff.
	Backoff time.Duration
	// Timeout bounds one attempt. Zero means DefaultTimeout.
	Timeout time.Duration
	// Clock stamps webhook-timestamp. Nil means time.Now, the receiver's
	// clock, whatever Config.Clock says: receivers check the timestamp
	// against their own time. A clock in the past makes stale messages.
	Clock func() time.Time
}

func (d Delivery) validate() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Err: ErrInvalidSubscription, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case d.Duplicates < 0 || d.Duplicates > MaxDuplicates:
		return bad("Duplicates", "%d is outside 0..%d", d.Duplicates, MaxDuplicates)
	case d.Retries < 0 || d.Retries > MaxRetries:
		return bad("Retries", "%d is outside 0..%d", d.Retries, MaxRetries)
	case d.MaxAttempts < 0 || d.MaxAttempts > MaxAttemptsLimit:
		return bad("MaxAttempts", "%d is outside 0..%d", d.MaxAttempts, MaxAttemptsLimit)
	case d.Backoff < 0 || d.Backoff > time.Minute:
		return bad("Backoff", "%v is outside 0..1m", d.Backoff)
	case d.Timeout < 0 || d.Timeout > time.Minute:
		return bad("Timeout", "%v is outside 0..1m", d.Timeout)
	}
	return nil
}

func (d Delivery) withDefaults() Delivery {
	if d.MaxAttempts == 0 {
		d.MaxAttempts = DefaultMaxAttempts
	}
	if d.Backoff == 0 {
		d.Backoff = DefaultBackoff
	}
	if d.Timeout == 0 {
		d.Timeout = DefaultTimeout
	}
	if d.Clock == nil {
		d.Clock = time.Now
	}
	return d
}

// DeliveryAttempt is one POST the sender made.
type DeliveryAttempt struct {
	URL       string `json:"url"`
	EventID   string `json:"event_id"`
	WebhookID string `json:"webhook_id"`
	// Attempt counts the sends of this message to this URL, from 1;
	// duplicates continue the count.
	Attempt   int  `json:"attempt"`
	Duplicate bool `json:"duplicate,omitempty"`
	// Deliberate marks a re-delivery of an acknowledged message (Retries).
	Deliberate bool `json:"deliberate,omitempty"`
	// Status is the answer's status, 0 when there was none (Error says why).
	Status int       `json:"status"`
	Error  string    `json:"error,omitempty"`
	At     time.Time `json:"at"`
}

// DeliveryStats is what the sender did since New. Events, Delivered,
// Failed and Pending count per subscription: an event to two
// subscriptions counts twice.
type DeliveryStats struct {
	Subscriptions int   `json:"subscriptions"`
	Events        int64 `json:"events"`
	// Attempts counts every POST, retries and duplicates included.
	Attempts int64 `json:"attempts"`
	// Delivered counts events acknowledged with 2xx.
	Delivered int64 `json:"delivered"`
	// Retries counts sends after an event's first one, failed or
	// deliberate; Duplicates counts the extra copies.
	Retries    int64 `json:"retries"`
	Duplicates int64 `json:"duplicates"`
	// Failed counts events given up after MaxAttempts failures.
	Failed int64 `json:"failed"`
	// Pending counts events queued or being delivered.
	Pending int64 `json:"pending"`
	// Log holds the latest 1000 attempts, oldest first.
	Log []DeliveryAttempt `json:"log"`
}

// subscription is one receiver and its queue, served in order by one
// goroutine.
type subscription struct {
	url   string
	wh    *standardwebhooks.Webhook // nil when unsigned
	opt   Delivery                  // defaults applied
	queue []Event
	wake  chan struct{}
}

// webhookSender holds the subscriptions. Its lock is taken after
// Server.mu (mutations publish while holding it), never before.
type webhookSender struct {
	mu     sync.Mutex
	subs   []*subscription
	seq    int64
	stats  DeliveryStats // Log and Subscriptions are filled on read
	log    []DeliveryAttempt
	closed bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (h *webhookSender) init() {
	h.ctx, h.cancel = context.WithCancel(context.Background())
}

// close stops every delivery, waits for the goroutines and drops what
// was still queued, so Pending is zero and WaitDeliveries returns.
func (h *webhookSender) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
	h.mu.Lock()
	for _, sub := range h.subs {
		sub.queue = nil
	}
	h.stats.Pending = 0
	h.mu.Unlock()
}

// Subscribe delivers every later event to url, a http(s) URL on a
// loopback host (127.0.0.0/8, ::1 or localhost: the sandbox never sends
// anywhere else, and re-checks the address it dials). secret is a
// Standard Webhooks secret "whsec_" + base64 key, required when o.Sign.
// Errors: *FieldError wrapping ErrInvalidSubscription, ErrClosed.
func (s *Server) Subscribe(url, secret string, o Delivery) error {
	if err := checkHookURL(url); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	sub := &subscription{url: url, opt: o.withDefaults(), wake: make(chan struct{}, 1)}
	if o.Sign || secret != "" {
		wh, err := parseSecret(secret)
		if err != nil {
			return err
		}
		if o.Sign {
			sub.wh = wh
		}
	}
	h := &s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	h.subs = append(h.subs, sub)
	h.wg.Add(1)
	go h.serve(sub, newHookClient())
	return nil
}

// parseSecret accepts only the spec's "whsec_" + standard base64 form:
// the reference library would take a bare key too, but a receiver
// configured with the prefixed secret must see the same key.
func parseSecret(secret string) (*standardwebhooks.Webhook, error) {
	key, ok := strings.CutPrefix(secret, "whsec_")
	if !ok || len(key) < 4 {
		return nil, &FieldError{Err: ErrInvalidSubscription, Field: "secret", Reason: `want "whsec_" followed by a base64 key`}
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return nil, &FieldError{Err: ErrInvalidSubscription, Field: "secret", Reason: "the key after whsec_ is not standard base64"}
	}
	return wh, nil
}

// Emit sends a handcrafted event to every subscription. An empty ID gets
// the next "evt_…" id, a zero OccurredAt gets Config.Clock(). Data must
// be JSON unless Body is set. Errors wrap ErrInvalidEvent.
func (s *Server) Emit(ev Event) error {
	if ev.Body == nil {
		if ev.Type == "" {
			return fmt.Errorf("%w: type is empty", ErrInvalidEvent)
		}
		if len(ev.Data) == 0 {
			ev.Data = json.RawMessage(`{}`)
		}
		if !json.Valid(ev.Data) {
			return fmt.Errorf("%w: data is not JSON", ErrInvalidEvent)
		}
	} else if len(ev.Body) > maxEventBody {
		return fmt.Errorf("%w: body over %d bytes", ErrInvalidEvent, maxEventBody)
	}
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = s.cfg.Clock().UTC().Truncate(time.Second)
	}
	s.hooks.enqueue(ev)
	return nil
}

// Deliveries returns what the webhook sender did so far.
func (s *Server) Deliveries() DeliveryStats {
	h := &s.hooks
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.stats
	st.Subscriptions = len(h.subs)
	st.Log = append([]DeliveryAttempt(nil), h.log...)
	return st
}

// WaitDeliveries blocks until no event is queued or being delivered, or
// ctx ends (its error is returned).
func (s *Server) WaitDeliveries(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		s.hooks.mu.Lock()
		pending := s.hooks.stats.Pending
		s.hooks.mu.Unlock()
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sandbox: %d webhook deliveries pending: %w", pending, ctx.Err())
		case <-t.C:
		}
	}
}

// publishUser and publish queue the event of a mutation; the caller
// holds s.mu, so events leave in the order the mutations were made.
func (s *Server) publishUser(typ string, u User) { s.publish(typ, u, u.UpdatedAt) }

func (s *Server) publish(typ string, data any, at time.Time) {
	raw, err := json.Marshal(data)
	if err != nil {
		return // User and Membership always encode
	}
	s.hooks.enqueue(Event{Type: typ, OccurredAt: at, Data: raw})
}

// enqueue numbers ev when it has no id and queues it for every
// subscription.
func (h *webhookSender) enqueue(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	if ev.ID == "" {
		ev.ID = fmt.Sprintf("evt_%08d", h.seq)
	}
	if h.closed {
		return
	}
	for _, sub := range h.subs {
		sub.queue = append(sub.queue, ev)
		h.stats.Events++
		h.stats.Pending++
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
}

// next pops the subscription's next event, waiting for one.
func (h *webhookSender) next(sub *subscription) (Event, bool) {
	for {
		h.mu.Lock()
		if len(sub.queue) > 0 {
			ev := sub.queue[0]
			sub.queue = sub.queue[1:]
			h.mu.Unlock()
			return ev, true
		}
		h.mu.Unlock()
		select {
		case <-h.ctx.Done():
			return Event{}, false
		case <-sub.wake:
		}
	}
}

func (h *webhookSender) serve(sub *subscription, c *hookClient) {
	defer h.wg.Done()
	defer c.close()
	for {
		ev, ok := h.next(sub)
		if !ok {
			return
		}
		delivered := h.deliver(sub, c, &ev)
		h.mu.Lock()
		h.stats.Pending--
		if delivered {
			h.stats.Delivered++
		} else {
			h.stats.Failed++
		}
		h.mu.Unlock()
	}
}

// note records one attempt.
func (h *webhookSender) note(a DeliveryAttempt) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stats.Attempts++
	switch {
	case a.Duplicate:
		h.stats.Duplicates++
	case a.Attempt > 1:
		h.stats.Retries++
	}
	if len(h.log) >= maxDeliveryLog {
		h.log = append(h.log[:0], h.log[len(h.log)-maxDeliveryLog+1:]...)
	}
	h.log = append(h.log, a)
}

// deliver sends one event until acknowledged (and re-sent Retries
// times), or MaxAttempts failures, then sends the duplicates. It reports
// whether the event was acknowledged.
func (h *webhookSender) deliver(sub *subscription, c *hookClient, ev *Event) bool {
	o := sub.opt
	body, err := ev.body()
	if err != nil {
		h.note(DeliveryAttempt{URL: sub.url, EventID: ev.ID, Error: "encoding: " + err.Error(), At: time.Now().UTC()})
		return false
	}
	msg := message{id: ev.webhookID(), body: body}
	attempt, failures, deliberate, again := 0, 0, o.Retries, false
	for {
		attempt++
		msg.sign(sub.wh, o.Clock())
		status, retryAfter, err := c.post(h.ctx, sub.url, &msg, o.Timeout)
		h.note(newAttempt(sub.url, ev.ID, &msg, attempt, status, err, again))
		again = false
		var wait time.Duration
		switch {
		case h.ctx.Err() != nil:
			return false
		case err == nil && status/100 == 2 && deliberate == 0:
			h.duplicates(sub, c, ev, &msg, attempt)
			return true
		case err == nil && status/100 == 2:
			deliberate--
			again = true
			wait = o.Backoff
		default:
			failures++
			if failures >= o.MaxAttempts {
				return false
			}
			wait = min(o.Backoff<<(failures-1), maxBackoff)
			if retryAfter > 0 {
				wait = retryAfter
			}
		}
		select {
		case <-h.ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

// duplicates re-sends the acknowledged message byte for byte.
func (h *webhookSender) duplicates(sub *subscription, c *hookClient, ev *Event, msg *message, attempt int) {
	for range sub.opt.Duplicates {
		attempt++
		status, _, err := c.post(h.ctx, sub.url, msg, sub.opt.Timeout)
		a := newAttempt(sub.url, ev.ID, msg, attempt, status, err, false)
		a.Duplicate = true
		h.note(a)
		if h.ctx.Err() != nil {
			return
		}
	}
}

func newAttempt(url, eventID string, msg *message, attempt, status int, err error, deliberate bool) DeliveryAttempt {
	a := DeliveryAttempt{URL: url, EventID: eventID, WebhookID: msg.id, Attempt: attempt, Status: status,
		Deliberate: deliberate, At: time.Now().UTC()}
	if err != nil {
		a.Error = err.Error()
	}
	return a
}
