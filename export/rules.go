package export

import (
	"context"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Roles of DefaultRules.
const (
	RoleAuditor = "auditor" // sees no PII value
	RoleAdmin   = "admin"   // sees everything
	RolePII     = "pii"     // sees everything, PII included
)

// Field is one field of one exported object, as a Rules implementation
// sees it. It carries neither the value nor the object's id on purpose:
// a verdict is about a kind of field (tenant, role, connector, type, name,
// class), so every object of a type asks the same few questions and the
// exporter asks each once per bundle. Every field is comparable: Field is
// the memo key.
type Field struct {
	// Tenant is the tenant whose data is exported (its policies decide).
	Tenant     string
	Role       string
	Connector  string
	ObjectType string
	Name       string
	// Class is the field's PII class from the manifest's field policy
	// (protocol.PII*); empty when the manifest is unknown or does not
	// name the field.
	Class string
}

// Verdict is what Rules decided for one field.
type Verdict struct {
	Redact bool
	RuleID string // names the rule, for the redaction metadata
	Reason string
	// DecisionID names the recorded policy decision behind the verdict,
	// if one was recorded (PolicyRules); the bundle lists it.
	DecisionID string
}

// Rules decides which fields a role sees. A CEL implementation (tenant
// policies) plugs in here; DefaultRules is the built-in one.
type Rules interface {
	// CheckRole refuses a role the rules do not know.
	CheckRole(role string) error
	// Decide decides one field for f.Role, which CheckRole accepted. The
	// verdict must depend on f alone: the exporter asks once per distinct
	// Field per bundle and reuses the verdict for every object. ctx is the
	// export's; an implementation that does I/O stops when it is done.
	Decide(ctx context.Context, f Field) (Verdict, error)
}

// verdicts memoises one bundle's verdicts by Field, so a bundle of many
// objects of few types evaluates (and, for PolicyRules, records) each
// distinct decision once, and every object of the bundle is redacted by
// the same verdict even if the policy changes while it is built. It is
// per bundle, not per Exporter: the next bundle sees the policy as it is
// then. Errors are not kept; they end the export.
type verdicts struct {
	rules Rules
	memo  map[Field]Verdict
}

func newVerdicts(r Rules) *verdicts { return &verdicts{rules: r, memo: map[Field]Verdict{}} }

func (v *verdicts) decide(ctx context.Context, f Field) (Verdict, error) {
	if got, ok := v.memo[f]; ok {
		return got, nil
	}
	got, err := v.rules.Decide(ctx, f)
	if err != nil {
		return Verdict{}, err
	}
	v.memo[f] = got
	return got, nil
}

// DefaultRules: "auditor" sees fields of class none only (a field whose
// class is unknown is redacted too: the safe side); "admin" and "pii" see
// everything.
type DefaultRules struct{}

var piiClasses = []string{protocol.PIIContact, protocol.PIIIdentifier, protocol.PIISensitive, protocol.PIICredential}

// CheckRole implements Rules.
func (DefaultRules) CheckRole(role string) error {
	switch role {
	case RoleAuditor, RoleAdmin, RolePII:
		return nil
	}
	return &ScopeError{Field: "role", Reason: fmt.Sprintf("%.64q is not auditor, admin or pii", role)}
}

// Decide implements Rules. It does no I/O, so ctx is unused.
func (r DefaultRules) Decide(_ context.Context, f Field) (Verdict, error) {
	if err := r.CheckRole(f.Role); err != nil {
		return Verdict{}, err
	}
	if f.Role != RoleAuditor {
		return Verdict{RuleID: "default/full-access"}, nil
	}
	switch {
	case f.Class == protocol.PIINone:
		return Verdict{RuleID: "default/auditor-no-pii"}, nil
	case slices.Contains(piiClasses, f.Class):
		return Verdict{Redact: true, RuleID: "default/auditor-no-pii",
			Reason: fmt.Sprintf("PII class %s is not disclosed to role %s", f.Class, f.Role)}, nil
	default:
		return Verdict{Redact: true, RuleID: "default/auditor-unclassified",
			Reason: fmt.Sprintf("field has no PII class in the manifest of %s; not disclosed to role %s", f.Connector, f.Role)}, nil
	}
}
