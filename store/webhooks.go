package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Webhook intake records (testdata/golden_webhooks pins the exact bytes):
//
//	t/{tenant}/wh/{conn}               WebhookEndpoint, JSON: the connection's hook id and its signing
//	                                   secrets, each sealed by the caller (package secrets), newest first.
//	t/{tenant}/wi/{event}              InboxEvent, JSON: an accepted, not yet processed delivery; {event}
//	                                   is a UUIDv7, so the inbox lists in acceptance order. Deleted in the
//	                                   transaction that commits its processing (Page.Webhook) or by
//	                                   DeleteInboxEvent after a dead-letter item was written.
//	t/{tenant}/wd/{conn}/{sha256(id)}  delivery de-dup key: the webhook-id header's hash; value the
//	                                   inbox event id as a JSON string; Badger TTL (the de-dup window).
//	t/{tenant}/we/{conn}/{sha256(id)}  event de-dup key: an event id the connector returned; value the
//	                                   inbox event id that processed it, JSON string; Badger TTL.
//	p/hook/{hook}                      HookRoute, JSON: the tenant and connection of a hook id. Written
//	                                   and deleted with the endpoint record, in the same transaction.
//
// webhook-id and event ids are outside input of any shape: their keys
// hold a SHA-256 (lower-case hex) so a key segment stays a name.
const (
	kWebhookEndpoint = "wh/"
	kInbox           = "wi/"
	kDeliveryKey     = "wd/"
	kEventKey        = "we/"
	kHookRoute       = "hook/" // under p/
)

// Bounds of webhook records.
const (
	// MaxInboxBody caps the body of one inbox event.
	MaxInboxBody = 8 << 20
	maxHeaders   = 64
	maxHeaderLen = 8 << 10
	// maxEventIDs caps the event ids one processing may record.
	maxEventIDs = 1000
)

// WebhookEndpoint is a connection's webhook endpoint: the hook id in its
// URL and the secrets that may sign deliveries, newest first. Every
// secret whose ExpiresAt is zero or in the future verifies.
type WebhookEndpoint struct {
	Connection string          `json:"connection"`
	Hook       string          `json:"hook"`
	Secrets    []WebhookSecret `json:"secrets"`
	CreatedAt  time.Time       `json:"created_at"`
	RotatedAt  time.Time       `json:"rotated_at,omitzero"`
}

// WebhookSecret is one signing secret, sealed by the caller; the store
// never sees it in the clear.
type WebhookSecret struct {
	ID        string    `json:"id"`
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt ends the secret's rotation overlap; zero means current.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// HookRoute maps a hook id to its tenant and connection.
type HookRoute struct {
	Tenant     string    `json:"tenant"`
	Connection string    `json:"connection"`
	CreatedAt  time.Time `json:"created_at"`
}

// InboxEvent is an accepted webhook delivery, stored before the sender
// is answered. Body holds the exact bytes that were signed.
type InboxEvent struct {
	ID         string            `json:"id"`
	Connection string            `json:"connection"`
	WebhookID  string            `json:"webhook_id"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       []byte            `json:"body"`
	// CorrelationID links the processing run, its receipt and any DLQ
	// item to the delivery.
	CorrelationID string    `json:"correlation_id,omitempty"`
	ReceivedAt    time.Time `json:"received_at"`
}

// WebhookAccept is one delivery for AcceptWebhooks. Duplicate and
// Existing are set by the call.
type WebhookAccept struct {
	Tenant *Tenant
	Event  InboxEvent
	// TTL is how long the webhook-id is remembered (must be positive).
	TTL time.Duration
	// Hook, if set, is the hook id the delivery came in through: it is
	// accepted only if the hook still routes to the tenant and the
	// event's connection when the transaction commits. An intake that
	// verified with cached keys thus never stores a delivery for an
	// endpoint deleted (with its connection) or replaced meanwhile.
	Hook string
	// Duplicate reports that the webhook-id was already accepted; then
	// nothing was written and Existing is the first delivery's event id.
	Duplicate bool
	Existing  string
	// Gone reports that Hook no longer routes to the event's connection;
	// nothing was written.
	Gone bool
}

// WebhookCommit, set on a Page, finishes the processing of one inbox
// event in the page's transaction: the inbox entry is deleted and the
// event ids are remembered for TTL. If every event id was already
// remembered, CommitPage writes nothing and fails with ErrDuplicateEvent.
type WebhookCommit struct {
	InboxID  string
	EventIDs []string
	TTL      time.Duration
}

func (e *WebhookEndpoint) normalize() {
	e.CreatedAt, e.RotatedAt = utc(e.CreatedAt), utc(e.RotatedAt)
	for i := range e.Secrets {
		s := &e.Secrets[i]
		s.CreatedAt, s.ExpiresAt = utc(s.CreatedAt), utc(s.ExpiresAt)
	}
}

func (e *WebhookEndpoint) validate(conn string) error {
	err := firstErr(checkID("webhook.connection", e.Connection), sameAs("webhook.connection", e.Connection, conn),
		checkName("webhook.hook", e.Hook))
	if err != nil {
		return err
	}
	if len(e.Secrets) == 0 || len(e.Secrets) > 16 {
		return invalid("webhook.secrets", "", "must hold 1 to 16 secrets")
	}
	for i, s := range e.Secrets {
		if err := firstErr(checkName(fmt.Sprintf("webhook.secrets[%d].id", i), s.ID),
			checkLen(fmt.Sprintf("webhook.secrets[%d].sealed", i), string(s.Sealed), 4096)); err != nil {
			return err
		}
	}
	if e.CreatedAt.IsZero() {
		return invalid("webhook.created_at", "", "must be set")
	}
	return nil
}

// PutWebhookEndpoint creates or replaces the connection's endpoint and
// its hook route in one transaction; a replaced endpoint with another
// hook id loses its old route.
func (t *Tenant) PutWebhookEndpoint(ctx context.Context, e WebhookEndpoint) error {
	if e.Connection == "" {
		return invalid("webhook.connection", "", "must be set")
	}
	if err := e.validate(e.Connection); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	e.normalize()
	val, err := marshal(&e)
	if err != nil {
		return invalid("webhook", e.Connection, err.Error())
	}
	route, err := marshal(&HookRoute{Tenant: t.id, Connection: e.Connection, CreatedAt: e.CreatedAt})
	if err != nil {
		return err
	}
	key := t.key(kWebhookEndpoint, e.Connection)
	p := t.db.Platform()
	return t.db.update("put webhook endpoint", func(txn *badger.Txn) error {
		old, found, err := getEndpoint(txn, key)
		if err != nil {
			return err
		}
		if found && old.Hook != e.Hook {
			if err := txn.Delete(p.t.key(kHookRoute, old.Hook)); err != nil {
				return err
			}
		}
		rk := p.t.key(kHookRoute, e.Hook)
		if item, err := txn.Get(rk); err == nil {
			var r HookRoute
			if err := item.Value(func(v []byte) error { return unmarshal(v, &r) }); err != nil {
				return err
			}
			if r.Tenant != t.id || r.Connection != e.Connection {
				return fmt.Errorf("store: hook %q: %w", e.Hook, ErrExists)
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if err := txn.Set(rk, route); err != nil {
			return err
		}
		return txn.Set(key, val)
	})
}

func getEndpoint(txn *badger.Txn, key []byte) (WebhookEndpoint, bool, error) {
	var e WebhookEndpoint
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return e, false, nil
	}
	if err != nil {
		return e, false, err
	}
	err = item.Value(func(v []byte) error { return unmarshal(v, &e) })
	return e, err == nil, err
}

// WebhookEndpoint returns the connection's endpoint; ErrNotFound if none.
func (t *Tenant) WebhookEndpoint(ctx context.Context, conn string) (WebhookEndpoint, error) {
	var e WebhookEndpoint
	if err := checkID("connection", conn); err != nil {
		return e, err
	}
	err := t.getJSON(ctx, t.key(kWebhookEndpoint, conn), "webhook endpoint", conn, &e)
	return e, err
}

// DeleteWebhookEndpoint removes the connection's endpoint and its hook
// route; ErrNotFound if none.
func (t *Tenant) DeleteWebhookEndpoint(ctx context.Context, conn string) error {
	if err := checkID("connection", conn); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return t.db.update("delete webhook endpoint", func(txn *badger.Txn) error {
		found, err := t.deleteEndpointTxn(txn, conn)
		if err == nil && !found {
			err = notFound("webhook endpoint", conn)
		}
		return err
	})
}

// HookRoute returns the tenant and connection of a hook id; ErrNotFound
// if the hook is unknown. A malformed hook id is ErrNotFound too: it is
// outside input from an unauthenticated caller.
func (p *Platform) HookRoute(ctx context.Context, hook string) (HookRoute, error) {
	var r HookRoute
	if !validName(hook, maxNameLen) {
		return r, notFound("hook", "")
	}
	err := p.t.getJSON(ctx, p.t.key(kHookRoute, hook), "hook", hook, &r)
	return r, err
}

func idHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func (e *InboxEvent) validate() error {
	err := firstErr(checkName("event.id", e.ID), checkID("event.connection", e.Connection),
		checkLen("event.webhook_id", e.WebhookID, maxFieldLen), checkTime("event.received_at", e.ReceivedAt))
	switch {
	case err != nil:
		return err
	case len(e.Body) > MaxInboxBody:
		return invalid("event.body", "", fmt.Sprintf("must be at most %d bytes", MaxInboxBody))
	case len(e.Headers) > maxHeaders:
		return invalid("event.headers", "", fmt.Sprintf("at most %d headers", maxHeaders))
	case len(e.CorrelationID) > maxFieldLen:
		return invalid("event.correlation_id", e.CorrelationID, fmt.Sprintf("must be at most %d bytes", maxFieldLen))
	}
	for k, v := range e.Headers {
		if len(k)+len(v) > maxHeaderLen {
			return invalid("event.headers", k, fmt.Sprintf("a header must be at most %d bytes", maxHeaderLen))
		}
	}
	e.ReceivedAt = e.ReceivedAt.UTC()
	return nil
}

// AcceptWebhooks stores deliveries durably, in one transaction (the
// group commit of the intake): each one is refused because its Hook no
// longer routes to its connection (Gone set, nothing written), is a
// duplicate of a webhook-id accepted within its TTL (Duplicate set,
// nothing written), or is written to the inbox with its de-dup key. Two
// deliveries of the same webhook-id in one batch: the first wins. On
// error nothing is written.
func AcceptWebhooks(ctx context.Context, batch []*WebhookAccept) error {
	if len(batch) == 0 {
		return nil
	}
	var db *DB
	for i, a := range batch {
		if a.Tenant == nil {
			return invalid(fmt.Sprintf("batch[%d].tenant", i), "", "must be set")
		}
		if db == nil {
			db = a.Tenant.db
		} else if a.Tenant.db != db {
			return invalid(fmt.Sprintf("batch[%d].tenant", i), a.Tenant.id, "must belong to the same store")
		}
		if a.TTL <= 0 {
			return invalid(fmt.Sprintf("batch[%d].ttl", i), a.TTL.String(), "must be positive")
		}
		if err := a.Event.validate(); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.update("accept webhooks", func(txn *badger.Txn) error {
		seen := map[string]string{}
		routes := map[routeKey]bool{}
		for _, w := range batch {
			w.Duplicate, w.Existing, w.Gone = false, "", false
			t, ev := w.Tenant, &w.Event
			if w.Hook != "" {
				ok, err := routesTo(txn, routes, w.Hook, t, ev.Connection)
				if err != nil {
					return err
				}
				if !ok {
					w.Gone = true
					continue
				}
			}
			dk := t.key(kDeliveryKey, ev.Connection, idHash(ev.WebhookID))
			if id, ok := seen[string(dk)]; ok {
				w.Duplicate, w.Existing = true, id
				continue
			}
			item, err := txn.Get(dk)
			switch {
			case err == nil:
				w.Duplicate = true
				if err := item.Value(func(v []byte) error { return unmarshal(v, &w.Existing) }); err != nil {
					return err
				}
				continue
			case !errors.Is(err, badger.ErrKeyNotFound):
				return err
			}
			val, err := marshal(ev)
			if err != nil {
				return invalid("event", ev.ID, err.Error())
			}
			// Small batches are the common case: exact allocations beat an
			// arena's 64 KiB chunk here.
			if err := txn.SetEntry(badger.NewEntry(dk, []byte(`"`+ev.ID+`"`)).WithTTL(w.TTL)); err != nil {
				return err
			}
			if err := txn.Set(t.key(kInbox, ev.ID), val); err != nil {
				return err
			}
			seen[string(dk)] = ev.ID
		}
		return nil
	})
}

type routeKey struct{ hook, tenant, conn string }

// routesTo reports whether hook routes to tenant t's connection conn,
// remembering each answer in memo for the rest of the batch. The route
// is read in the accept transaction, so a deletion of the endpoint that
// commits first makes the accept a conflict (the intake retries and
// finds the hook gone), never a stored delivery.
func routesTo(txn *badger.Txn, memo map[routeKey]bool, hook string, t *Tenant, conn string) (bool, error) {
	id := routeKey{hook, t.id, conn}
	if ok, seen := memo[id]; seen {
		return ok, nil
	}
	ok := false
	if validName(hook, maxNameLen) {
		item, err := txn.Get(t.db.Platform().t.key(kHookRoute, hook))
		switch {
		case err == nil:
			var r HookRoute
			if err := item.Value(func(v []byte) error { return unmarshal(v, &r) }); err != nil {
				return false, err
			}
			ok = r.Tenant == t.id && r.Connection == conn
		case !errors.Is(err, badger.ErrKeyNotFound):
			return false, err
		}
	}
	memo[id] = ok
	return ok, nil
}

// InboxEvents lists the tenant's pending inbox events in acceptance
// order, from just after the event id after, at most limit (clamped as
// ListOptions.Limit); next is the after of the following page.
func (t *Tenant) InboxEvents(ctx context.Context, after string, limit int) (out []InboxEvent, next string, err error) {
	if after != "" {
		if err := checkName("after", after); err != nil {
			return nil, "", err
		}
	}
	return listAfter(ctx, t, t.prefixOf(kInbox), after, clampLimit(limit), func(e *InboxEvent) string { return e.ID })
}

// InboxEvent returns one pending inbox event; ErrNotFound if it was
// processed (or never accepted).
func (t *Tenant) InboxEvent(ctx context.Context, id string) (InboxEvent, error) {
	var e InboxEvent
	if err := checkName("event id", id); err != nil {
		return e, err
	}
	err := t.getJSON(ctx, t.key(kInbox, id), "inbox event", id, &e)
	return e, err
}

// DeleteInboxEvent removes a pending inbox event (after its dead-letter
// item was written); a missing one is not an error.
func (t *Tenant) DeleteInboxEvent(ctx context.Context, id string) error {
	if err := checkName("event id", id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return t.db.update("delete inbox event", func(txn *badger.Txn) error { return txn.Delete(t.key(kInbox, id)) })
}

// EventSeen reports whether the connector's event id was processed
// within its TTL, and by which inbox event.
func (t *Tenant) EventSeen(ctx context.Context, conn, eventID string) (string, bool, error) {
	if err := firstErr(checkID("connection", conn), checkLen("event id", eventID, maxFieldLen)); err != nil {
		return "", false, err
	}
	var by string
	err := t.get(ctx, t.key(kEventKey, conn, idHash(eventID)), "event", "", func(v []byte) error { return unmarshal(v, &by) })
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	return by, err == nil, err
}

func (c *WebhookCommit) validate() error {
	if err := checkName("webhook.inbox_id", c.InboxID); err != nil {
		return err
	}
	if c.TTL <= 0 {
		return invalid("webhook.ttl", c.TTL.String(), "must be positive")
	}
	if len(c.EventIDs) > maxEventIDs {
		return invalid("webhook.event_ids", "", fmt.Sprintf("at most %d event ids", maxEventIDs))
	}
	for i, id := range c.EventIDs {
		if err := checkLen(fmt.Sprintf("webhook.event_ids[%d]", i), id, maxFieldLen); err != nil {
			return err
		}
	}
	return nil
}

// webhookCommitTxn is CommitPage's part for Page.Webhook: it runs before
// anything else is written, so a duplicate aborts the whole page.
func (w *pageWriter) webhookCommitTxn(c *WebhookCommit) error {
	p := w.t.prefix
	keys := make([][]byte, len(c.EventIDs))
	fresh := len(c.EventIDs) == 0
	for i, id := range c.EventIDs {
		keys[i] = w.a.key(p, kEventKey, w.conn, idHash(id))
		switch _, err := w.txn.Get(keys[i]); {
		case errors.Is(err, badger.ErrKeyNotFound):
			fresh = true
		case err != nil:
			return err
		}
	}
	if !fresh {
		return ErrDuplicateEvent
	}
	for _, k := range keys {
		if err := w.txn.SetEntry(badger.NewEntry(k, w.a.quoted(c.InboxID)).WithTTL(c.TTL)); err != nil {
			return err
		}
	}
	return w.txn.Delete(w.a.key(p, kInbox, c.InboxID))
}
