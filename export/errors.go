package export

import (
	"errors"
	"fmt"
)

// Sentinels callers branch on with errors.Is.
var (
	// ErrInvalidScope: the tenant, time range or role of an export is
	// unusable; the error is a *ScopeError naming the field.
	ErrInvalidScope = errors.New("export: invalid scope")
	// ErrMalformed: the bundle is not a well-formed bundle document.
	ErrMalformed = errors.New("export: malformed bundle")
	// ErrVerification: the bundle is well formed but something in it does
	// not verify; the error is a *VerifyError naming it.
	ErrVerification = errors.New("export: bundle does not verify")
	// ErrInconsistentStore: the store's payload manifest or objects do not
	// match a signed receipt, so no honest bundle can be built.
	ErrInconsistentStore = errors.New("export: store does not match its receipts")
)

// ScopeError names the scope field that was refused. It matches
// ErrInvalidScope.
type ScopeError struct {
	Field  string // "tenant", "from", "to" or "role"
	Reason string
}

func (e *ScopeError) Error() string { return fmt.Sprintf("export: %s: %s", e.Field, e.Reason) }

// Is reports whether target is ErrInvalidScope.
func (e *ScopeError) Is(target error) bool { return target == ErrInvalidScope }

// Parts of a bundle a VerifyError names.
const (
	PartBundle    = "bundle"
	PartKey       = "key"
	PartReceipt   = "receipt"
	PartObject    = "object"
	PartField     = "field"
	PartProof     = "proof"
	PartRedaction = "redaction"
	PartPolicy    = "policy"
	PartDecision  = "decision"
	PartLineage   = "lineage"
)

// VerifyError is the first thing in a bundle that does not verify. It
// matches ErrVerification and unwraps to the cause (a receipt or
// disclosure error, when there is one).
type VerifyError struct {
	Part    string // one of the Part constants
	ID      string // the key, receipt or entity id, or the index of the entry
	Field   string // the field, for PartField and PartRedaction
	Receipt string // the receipt an object or proof is checked against
	Reason  string
	Err     error
}

func (e *VerifyError) Error() string {
	part := e.Part
	if part == PartField {
		part = PartObject // "object E field F" reads better than "field E field F"
	}
	msg := "export: " + part
	if e.ID != "" {
		msg += " " + e.ID
	}
	if e.Field != "" {
		msg += fmt.Sprintf(" field %q", e.Field)
	}
	if e.Receipt != "" {
		msg += " (receipt " + e.Receipt + ")"
	}
	msg += ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrVerification.
func (e *VerifyError) Is(target error) bool { return target == ErrVerification }

// Unwrap returns the cause.
func (e *VerifyError) Unwrap() error { return e.Err }
