package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Action records (package actions gives them meaning; doc.go lists the
// keys):
//
//	ar/{run}                     ActionRun, JSON.
//	arc/{conn}/{run}             action runs of a connection, empty; run ids are UUIDv7, so key order
//	                             is creation order.
//	aik/{conn}/{sha256(key)}     idempotency key → IdempotencyEntry JSON; the key is outside input, so
//	                             its segment is a SHA-256 (lower-case hex). Badger TTL IdempotencyTTL.
//	ad/{nanos}/{run}             due index: the run has something due at {nanos}; value the DueKind as
//	                             a JSON string ("inverse": revoke an expired grant; "expire": a pending
//	                             approval times out).
//	ap/policy                    ActionPolicy, JSON: the tenant's rules.
const (
	kActionRun      = "ar/"
	kActionRunConn  = "arc/"
	kActionIdem     = "aik/"
	kActionDue      = "ad/"
	kActionPolicy   = "ap/"
	maxParamsBytes  = 64 << 10
	maxActionListed = 1000
)

// IdempotencyTTL is how long an Idempotency-Key maps to its run.
const IdempotencyTTL = 24 * time.Hour

// Action run states.
const (
	ActionPendingApproval = "pending_approval"
	ActionRunning         = "running"
	ActionSucceeded       = "succeeded"
	ActionFailed          = "failed"
	ActionRejected        = "rejected"
	ActionExpired         = "expired"
)

// Due kinds of the due index.
const (
	DueInverse = "inverse"
	DueExpire  = "expire"
)

// ActionRun is one request to run a connector action, from submission to
// its outcome. Approvals live in the record itself, so an approval and
// the state change it causes are one write.
type ActionRun struct {
	ID           string `json:"id"`
	Connection   string `json:"connection"`
	Connector    string `json:"connector"`
	Version      string `json:"version"`
	ModuleDigest string `json:"module_digest"`
	Action       string `json:"action"`
	Destructive  bool   `json:"destructive,omitempty"`
	// Params is the action's parameters as submitted (tenant data, kept
	// to run the action after approval and its inverse at expiry).
	Params    json.RawMessage `json:"params,omitempty"`
	Requester string          `json:"requester"`
	Approvals []Approval      `json:"approvals,omitempty"`
	State     string          `json:"state"`
	Preflight Preflight       `json:"preflight"`
	// TTL is the grant's time to live (0: none); ExpiresAt is when its
	// inverse is due, once the grant executed.
	TTL       time.Duration `json:"ttl,omitempty"`
	ExpiresAt time.Time     `json:"expires_at,omitzero"`
	// InverseOf is the run this one undoes; InverseRun the run that
	// undid this one.
	InverseOf      string            `json:"inverse_of,omitempty"`
	InverseRun     string            `json:"inverse_run,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	CorrelationID  string            `json:"correlation_id"`
	RemoteChanges  []string          `json:"remote_change_ids,omitempty"`
	Outputs        map[string]string `json:"outputs,omitempty"`
	Error          *RunError         `json:"error,omitempty"`
	ReceiptID      string            `json:"receipt_id,omitempty"`
	DLQItem        string            `json:"dlq_item,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	FinishedAt     time.Time         `json:"finished_at,omitzero"`
}

// Approval is one principal's approval of a run.
type Approval struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// Preflight is the policy decision recorded before a run.
type Preflight struct {
	Allowed           bool     `json:"allowed"`
	RequiredScopes    []string `json:"required_scopes"`
	GrantedScopes     []string `json:"granted_scopes"`
	RequiredApprovals int      `json:"required_approvals"`
	Reasons           []string `json:"reasons,omitempty"`
	Digest            string   `json:"digest"`
	// DecisionID names the recorded decision of the tenant's CEL action
	// policy (package policy).
	DecisionID string `json:"decision_id,omitempty"`
}

// ActionPolicy is a tenant's rules for actions. The zero value requires
// one approval of destructive actions and denies nothing.
type ActionPolicy struct {
	// RequiredApprovals of a destructive action: 1 or 2 (0 means 1).
	RequiredApprovals int `json:"required_approvals"`
	// Denied actions are refused by the preflight, on every connection.
	Denied    []string  `json:"denied,omitempty"`
	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// IdempotencyEntry is what an idempotency key maps to: the run and the
// digest of the request that created it, so a repeat with another body
// can be told apart.
type IdempotencyEntry struct {
	Run     string `json:"run"`
	Request string `json:"request"`
}

// DueItem is one entry of the due index.
type DueItem struct {
	Run  string
	Kind string
	At   time.Time
}

func (r *ActionRun) normalize() {
	r.CreatedAt, r.UpdatedAt, r.ExpiresAt, r.FinishedAt = utc(r.CreatedAt), utc(r.UpdatedAt), utc(r.ExpiresAt), utc(r.FinishedAt)
	for i := range r.Approvals {
		r.Approvals[i].At = utc(r.Approvals[i].At)
	}
}

func validateActionRun(r *ActionRun) error {
	err := firstErr(
		checkName("action_run.id", r.ID),
		checkID("action_run.connection", r.Connection),
		checkName("action_run.action", r.Action),
		checkName("action_run.state", r.State),
		checkLen("action_run.requester", r.Requester, maxFieldLen),
	)
	if err != nil {
		return err
	}
	switch {
	case len(r.Params) > maxParamsBytes:
		return invalid("action_run.params", "", fmt.Sprintf("must be at most %d bytes", maxParamsBytes))
	case r.TTL < 0:
		return invalid("action_run.ttl", r.TTL.String(), "must not be negative")
	case r.CreatedAt.IsZero():
		return invalid("action_run.created_at", "", "must be set")
	}
	if r.InverseOf != "" {
		return checkName("action_run.inverse_of", r.InverseOf)
	}
	return nil
}

// idemKey is aik/{conn}/{sha256(key)}.
func (t *Tenant) idemKey(conn, key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return t.key(kActionIdem, conn, hex.EncodeToString(sum[:]))
}

// CreateActionRun stores a new run with its connection index and, if
// r.IdempotencyKey is set, maps the key to it (for IdempotencyTTL), in
// one transaction. If the key already maps to a run, nothing is written
// and that run's entry is returned with existing = true; a key whose run
// predates the connection's CreatedAt (made for an earlier connection
// under the same id) is taken over instead. request is the digest of the
// request, kept with the key.
func (t *Tenant) CreateActionRun(ctx context.Context, r ActionRun, request string) (entry IdempotencyEntry, existing bool, err error) {
	if err := validateActionRun(&r); err != nil {
		return entry, false, err
	}
	if len(r.IdempotencyKey) > maxFieldLen {
		return entry, false, invalid("action_run.idempotency_key", r.IdempotencyKey, fmt.Sprintf("must be at most %d bytes", maxFieldLen))
	}
	if err := ctx.Err(); err != nil {
		return entry, false, err
	}
	r.normalize()
	val, err := marshal(&r)
	if err != nil {
		return entry, false, invalid("action_run", r.ID, err.Error())
	}
	err = t.db.update("create action run", func(txn *badger.Txn) error {
		if r.IdempotencyKey != "" {
			ik := t.idemKey(r.Connection, r.IdempotencyKey)
			item, err := txn.Get(ik)
			switch {
			case err == nil:
				if err := item.Value(func(v []byte) error { return unmarshal(v, &entry) }); err != nil {
					return err
				}
				stale, err := t.staleIdemTxn(txn, r.Connection, entry)
				if err != nil || !stale {
					existing = true
					return err
				}
			case !errors.Is(err, badger.ErrKeyNotFound):
				return err
			}
			entry = IdempotencyEntry{Run: r.ID, Request: request}
			ev, err := marshal(&entry)
			if err != nil {
				return err
			}
			if err := txn.SetEntry(badger.NewEntry(ik, ev).WithTTL(IdempotencyTTL)); err != nil {
				return err
			}
		}
		rk := t.key(kActionRun, r.ID)
		if _, err := txn.Get(rk); err == nil {
			return fmt.Errorf("store: action run %q: %w", r.ID, ErrExists)
		}
		if err := txn.Set(rk, val); err != nil {
			return err
		}
		if err := txn.Set(t.key(kActionRunConn, r.Connection, r.ID), nil); err != nil {
			return err
		}
		return t.setDueTxn(txn, &r, nil)
	})
	return entry, existing, err
}

// ActionRun returns one run; ErrNotFound if there is none.
func (t *Tenant) ActionRun(ctx context.Context, id string) (ActionRun, error) {
	var r ActionRun
	if err := checkName("action run id", id); err != nil {
		return r, err
	}
	err := t.getJSON(ctx, t.key(kActionRun, id), "action run", id, &r)
	return r, err
}

// UpdateActionRun reads a run, lets fn change it and writes it back in
// one transaction, moving its due index entry. ID, Connection and
// CreatedAt cannot change. Nothing is written if fn fails (its error is
// returned as is) or on a concurrent write (ErrConflict: call again).
func (t *Tenant) UpdateActionRun(ctx context.Context, id string, fn func(*ActionRun) error) (ActionRun, error) {
	var r ActionRun
	if err := checkName("action run id", id); err != nil {
		return r, err
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	err := t.db.update("update action run", func(txn *badger.Txn) error {
		old, err := t.loadActionRun(txn, id)
		if err != nil {
			return err
		}
		r = old
		r.Approvals = append([]Approval(nil), old.Approvals...)
		if err := fn(&r); err != nil {
			return err
		}
		if r.ID != old.ID || r.Connection != old.Connection || !r.CreatedAt.Equal(old.CreatedAt) {
			return invalid("action_run", id, "id, connection and created_at cannot change")
		}
		if err := validateActionRun(&r); err != nil {
			return err
		}
		r.normalize()
		val, err := marshal(&r)
		if err != nil {
			return invalid("action_run", id, err.Error())
		}
		if err := txn.Set(t.key(kActionRun, id), val); err != nil {
			return err
		}
		return t.setDueTxn(txn, &r, &old)
	})
	return r, err
}

func (t *Tenant) loadActionRun(txn *badger.Txn, id string) (ActionRun, error) {
	var r ActionRun
	item, err := txn.Get(t.key(kActionRun, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return r, notFound("action run", id)
	}
	if err != nil {
		return r, err
	}
	return r, item.Value(func(v []byte) error { return unmarshal(v, &r) })
}

// dueOf says what a run has due and when: a succeeded grant with an
// expiry and no inverse yet is due for its inverse; a pending run with
// an expiry is due to expire.
func dueOf(r *ActionRun) (string, time.Time, bool) {
	switch {
	case r.ExpiresAt.IsZero():
		return "", time.Time{}, false
	case r.State == ActionSucceeded && r.InverseRun == "" && r.InverseOf == "":
		return DueInverse, r.ExpiresAt, true
	case r.State == ActionPendingApproval:
		return DueExpire, r.ExpiresAt, true
	}
	return "", time.Time{}, false
}

// setDueTxn makes the due index agree with r (old: the stored version).
func (t *Tenant) setDueTxn(txn *badger.Txn, r, old *ActionRun) error {
	if old != nil {
		if _, at, ok := dueOf(old); ok {
			if err := txn.Delete(t.key(kActionDue, nanosString(at), old.ID)); err != nil {
				return err
			}
		}
	}
	kind, at, ok := dueOf(r)
	if !ok {
		return nil
	}
	if err := checkTime("action_run.expires_at", at); err != nil {
		return err
	}
	v, _ := json.Marshal(kind)
	return txn.Set(t.key(kActionDue, nanosString(at), r.ID), v)
}

// ActionRuns lists a connection's runs, newest first, from just before
// the run id before ("" starts at the newest), at most limit (0 means
// 100, at most 1000). next is the before of the following page.
func (t *Tenant) ActionRuns(ctx context.Context, connection, before string, limit int) (out []ActionRun, next string, err error) {
	if err := checkID("connection", connection); err != nil {
		return nil, "", err
	}
	if before != "" {
		if err := checkName("before", before); err != nil {
			return nil, "", err
		}
	}
	limit = min(clampLimit(limit), maxActionListed)
	prefix := t.prefixOf(kActionRunConn, connection)
	var seek []byte
	if before != "" { // the last key below before: before itself is skipped below
		seek = append(bytes.Clone(prefix), before...)
	}
	err = t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, seek, true, func(item *badger.Item) (bool, error) {
			id := string(item.Key()[len(prefix):])
			if id == before {
				return true, nil
			}
			if len(out) == limit {
				next = out[len(out)-1].ID
				return false, nil
			}
			r, err := t.loadActionRun(txn, id)
			if err != nil {
				return false, err
			}
			out = append(out, r)
			return true, nil
		})
	})
	return out, next, err
}

// RunningActionRuns returns the tenant's runs in state running last
// updated at or before before (zero: every one), in id (creation) order.
// No index holds the state, so it reads every action run of the tenant:
// it is for reconciliation after a restart, not for a hot path.
func (t *Tenant) RunningActionRuns(ctx context.Context, before time.Time) ([]ActionRun, error) {
	var out []ActionRun
	err := t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, t.prefixOf(kActionRun), nil, false, func(item *badger.Item) (bool, error) {
			var r ActionRun
			if err := item.Value(func(v []byte) error { return unmarshal(v, &r) }); err != nil {
				return false, err
			}
			if r.State == ActionRunning && (before.IsZero() || !r.UpdatedAt.After(before)) {
				out = append(out, r)
			}
			return true, nil
		})
	})
	return out, err
}

// DueActions lists the due index entries at or before now, oldest first,
// at most limit (0 means 100).
func (t *Tenant) DueActions(ctx context.Context, now time.Time, limit int) ([]DueItem, error) {
	if err := checkTime("now", now); err != nil {
		return nil, err
	}
	limit = clampLimit(limit)
	prefix := t.prefixOf(kActionDue)
	end := nanosString(now)
	var out []DueItem
	err := t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, nil, false, func(item *badger.Item) (bool, error) {
			rest := string(item.Key()[len(prefix):])
			if len(rest) < nanosLen+2 || rest[:nanosLen] > end {
				return false, nil
			}
			d := DueItem{Run: rest[nanosLen+1:]}
			var ns int64
			if _, err := fmt.Sscan(rest[:nanosLen], &ns); err != nil {
				return false, fmt.Errorf("store: due index key %q: %w", rest, err)
			}
			d.At = time.Unix(0, ns).UTC()
			if err := item.Value(func(v []byte) error { return unmarshal(v, &d.Kind) }); err != nil {
				return false, err
			}
			out = append(out, d)
			return len(out) < limit, nil
		})
	})
	return out, err
}

// IdempotentRun returns what an idempotency key of a connection maps to;
// ErrNotFound if nothing (never used, expired, or used for a run that
// predates the connection's CreatedAt: an earlier connection's).
func (t *Tenant) IdempotentRun(ctx context.Context, connection, key string) (IdempotencyEntry, error) {
	var e IdempotencyEntry
	if err := firstErr(checkID("connection", connection), checkLen("idempotency key", key, maxFieldLen)); err != nil {
		return e, err
	}
	if err := t.getJSON(ctx, t.idemKey(connection, key), "idempotency key", "(hashed)", &e); err != nil {
		return e, err
	}
	err := t.db.view(func(txn *badger.Txn) error {
		stale, err := t.staleIdemTxn(txn, connection, e)
		if err == nil && stale {
			e, err = IdempotencyEntry{}, notFound("idempotency key", "(hashed)")
		}
		return err
	})
	return e, err
}

// PutActionPolicy stores the tenant's action policy.
func (t *Tenant) PutActionPolicy(ctx context.Context, p ActionPolicy) error {
	if p.RequiredApprovals < 0 || p.RequiredApprovals > 2 {
		return invalid("action_policy.required_approvals", fmt.Sprint(p.RequiredApprovals), "must be 1 or 2 (0 means 1)")
	}
	for i, a := range p.Denied {
		if err := checkName(fmt.Sprintf("action_policy.denied[%d]", i), a); err != nil {
			return err
		}
	}
	p.UpdatedAt = utc(p.UpdatedAt)
	val, err := marshal(&p)
	if err != nil {
		return invalid("action_policy", "", err.Error())
	}
	return t.set(ctx, "put action policy", t.key(kActionPolicy, "policy"), val)
}

// ActionPolicy returns the tenant's action policy; the zero policy if
// none was stored.
func (t *Tenant) ActionPolicy(ctx context.Context) (ActionPolicy, error) {
	var p ActionPolicy
	err := t.getJSON(ctx, t.key(kActionPolicy, "policy"), "action policy", t.id, &p)
	if errors.Is(err, ErrNotFound) {
		return ActionPolicy{}, nil
	}
	return p, err
}
