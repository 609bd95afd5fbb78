package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Policy records (package policy gives them meaning; doc.go lists the
// keys):
//
//	pol/{kind}                   TenantPolicy, JSON: the tenant's CEL expression replacing the built-in
//	                             default of one policy kind (ingest, action, redaction).
//	dec/{decision}               PolicyDecision, JSON. Decision ids are content addressed (policy digest
//	                             and input digest), so evaluating the same policy on the same input again
//	                             finds the record it wrote the first time: the first write wins.
const (
	kPolicy   = "pol/"
	kDecision = "dec/"
	// maxExpressionLen caps a stored CEL expression (bytes).
	maxExpressionLen = 16 << 10
	// maxReasons caps the reasons of one decision.
	maxReasons = 1000
)

// TenantPolicy is a tenant's CEL expression for one policy kind.
type TenantPolicy struct {
	Kind       string    `json:"kind"`
	Expression string    `json:"expression"`
	Digest     string    `json:"digest"` // the policy digest (package policy)
	UpdatedBy  string    `json:"updated_by,omitempty"`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`
}

// PolicyDecision is one recorded evaluation of a policy: which policy
// (its digest), on which input (the SHA-256 of its canonical JSON), with
// which result and why. Receipts reference decisions by id.
type PolicyDecision struct {
	ID           string    `json:"decision_id"`
	Kind         string    `json:"kind"`
	PolicyDigest string    `json:"policy_digest"`
	InputDigest  string    `json:"input_digest"`
	Result       string    `json:"result"`
	Reasons      []string  `json:"reasons"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
}

// PutPolicy stores the tenant's policy of p.Kind, replacing any earlier
// one. The caller compiles the expression first; the store only bounds it.
func (t *Tenant) PutPolicy(ctx context.Context, p TenantPolicy) error {
	if err := firstErr(checkName("policy.kind", p.Kind), checkDigest("policy.digest", p.Digest),
		checkLen("policy.expression", p.Expression, maxExpressionLen)); err != nil {
		return err
	}
	p.UpdatedAt = utc(p.UpdatedAt)
	val, err := marshal(&p)
	if err != nil {
		return invalid("policy", p.Kind, err.Error())
	}
	return t.set(ctx, "put policy", t.key(kPolicy, p.Kind), val)
}

// Policy returns the tenant's policy of kind; ErrNotFound if the tenant
// keeps the built-in default.
func (t *Tenant) Policy(ctx context.Context, kind string) (TenantPolicy, error) {
	var p TenantPolicy
	if err := checkName("policy.kind", kind); err != nil {
		return p, err
	}
	err := t.getJSON(ctx, t.key(kPolicy, kind), "policy", kind, &p)
	return p, err
}

// PutDecision records d unless a decision with its id is already stored
// (ids are content addressed: the stored one is the same decision, made
// earlier).
func (t *Tenant) PutDecision(ctx context.Context, d PolicyDecision) error {
	if err := firstErr(checkName("decision.decision_id", d.ID), checkName("decision.kind", d.Kind),
		checkDigest("decision.policy_digest", d.PolicyDigest), checkDigest("decision.input_digest", d.InputDigest),
		checkName("decision.result", d.Result)); err != nil {
		return err
	}
	if len(d.Reasons) > maxReasons {
		return invalid("decision.reasons", fmt.Sprint(len(d.Reasons)), fmt.Sprintf("at most %d reasons", maxReasons))
	}
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	d.CreatedAt = utc(d.CreatedAt)
	val, err := marshal(&d)
	if err != nil {
		return invalid("decision", d.ID, err.Error())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	key := t.key(kDecision, d.ID)
	// Most puts repeat a stored decision (the same policy on the same
	// input): a read-only look first keeps them off the write path.
	err = t.db.view(func(txn *badger.Txn) error {
		_, err := txn.Get(key)
		return err
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("store: read decision %q: %w", d.ID, err)
	}
	return t.db.update("put decision", func(txn *badger.Txn) error {
		_, err := txn.Get(key)
		if err == nil {
			return nil
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return txn.Set(key, val)
	})
}

// Decision returns a recorded policy decision; ErrNotFound if none.
func (t *Tenant) Decision(ctx context.Context, id string) (PolicyDecision, error) {
	var d PolicyDecision
	if err := checkName("decision_id", id); err != nil {
		return d, err
	}
	err := t.getJSON(ctx, t.key(kDecision, id), "decision", id, &d)
	return d, err
}
