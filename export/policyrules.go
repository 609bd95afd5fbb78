package export

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/store"
)

// Redactions evaluates a tenant's CEL redaction policy and records the
// decision (*policy.Service implements it).
type Redactions interface {
	DecideRedaction(ctx context.Context, t *store.Tenant, in policy.RedactionInput) (policy.Decision, policy.Verdict, error)
}

var _ Redactions = (*policy.Service)(nil)

// PolicyRules are Rules backed by each tenant's redaction policy (the
// built-in default hides every PII class but "none" from roles without
// PII rights, as DefaultRules does). Every verdict is a recorded
// decision, named in the redaction metadata and listed in the bundle.
type PolicyRules struct {
	Store    *store.DB
	Policies Redactions // nil is policy.Builtin()
}

var _ Rules = PolicyRules{}

// CheckRole implements Rules: the roles are DefaultRules' (auditor, admin,
// pii); the tenant's policy decides what each one sees.
func (p PolicyRules) CheckRole(role string) error { return DefaultRules{}.CheckRole(role) }

// Decide implements Rules. A failed evaluation redacts (the policy
// package refuses on error); a store failure or the end of ctx is
// returned. The exporter calls it once per distinct Field per bundle, so
// a bundle records one decision per distinct input, not one per object.
func (p PolicyRules) Decide(ctx context.Context, f Field) (Verdict, error) {
	if err := p.CheckRole(f.Role); err != nil {
		return Verdict{}, err
	}
	if p.Store == nil {
		return Verdict{}, errors.New("export: PolicyRules.Store is required")
	}
	t, err := p.Store.Tenant(f.Tenant)
	if err != nil {
		return Verdict{}, &ScopeError{Field: "tenant", Reason: err.Error()}
	}
	pols := p.Policies
	if pols == nil {
		pols = policy.Builtin()
	}
	d, v, err := pols.DecideRedaction(ctx, t, policy.RedactionInput{
		Role: f.Role, Connector: f.Connector, ObjectType: f.ObjectType, Field: f.Name, PIIClass: f.Class,
	})
	if err != nil {
		return Verdict{}, fmt.Errorf("export: redaction policy: %w", err)
	}
	reason := v.Reason
	if v.Redact {
		reason = strings.TrimSpace(reason + " (decision " + d.ID + ")")
	}
	return Verdict{Redact: v.Redact, RuleID: v.Rule, Reason: reason, DecisionID: d.ID}, nil
}

// decisionPrefix marks a receipt's policy reference that names a recorded
// decision (receipts made before decisions name an interim rule).
const decisionPrefix = "dec-"

// addDecisions lists the decisions the ingest receipts reference and the
// redaction decisions behind the bundle's verdicts, each once.
func addDecisions(ctx context.Context, t *store.Tenant, runs []ingestRun, b *Bundle) error {
	seen := map[string]bool{}
	add := func(id string) error {
		if seen[id] {
			return nil
		}
		seen[id] = true
		d, err := t.Decision(ctx, id)
		if err != nil {
			return fmt.Errorf("%w: decision %s: %w", ErrInconsistentStore, id, err)
		}
		b.Decisions = append(b.Decisions, Decision{DecisionID: d.ID, Kind: d.Kind, PolicyDigest: d.PolicyDigest,
			InputDigest: d.InputDigest, Result: d.Result, Reasons: orEmpty(d.Reasons)})
		return nil
	}
	for _, r := range runs {
		if strings.HasPrefix(r.pred.Policy.ID, decisionPrefix) {
			if err := add(r.pred.Policy.ID); err != nil {
				return err
			}
		}
	}
	for _, r := range runs {
		for _, id := range r.decisions {
			if err := add(id); err != nil {
				return err
			}
		}
	}
	return nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
