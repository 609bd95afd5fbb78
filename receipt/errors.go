package receipt

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels callers branch on. Every error the package returns for one of
// these conditions matches it with errors.Is.
var (
	// ErrMalformed: the input is not a well-formed envelope, statement,
	// predicate or JSON object.
	ErrMalformed = errors.New("receipt: malformed input")
	// ErrBadSignature: the envelope has no signature, or a signature by a
	// known key does not verify (the envelope was altered).
	ErrBadSignature = errors.New("receipt: bad signature")
	// ErrUnknownKey: no signature on the envelope names a trusted key.
	ErrUnknownKey = errors.New("receipt: unknown signing key")
	// ErrInvalidPredicate: a predicate fails its checks before signing.
	ErrInvalidPredicate = errors.New("receipt: invalid predicate")
	// ErrInvalidKey: key material or a salt key is unusable.
	ErrInvalidKey = errors.New("receipt: invalid key")
	// ErrInsecureKeyFile: a key file is readable by group or others.
	ErrInsecureKeyFile = errors.New("receipt: key file permissions too open")
	// ErrOutOfOrder: payload leaves were not added in ascending entity id
	// order.
	ErrOutOfOrder = errors.New("receipt: entity ids out of order")
	// ErrBadProof: an inclusion proof does not lead to the expected root.
	ErrBadProof = errors.New("receipt: inclusion proof does not verify")
)

// MalformedError says what about the input is malformed. It matches
// ErrMalformed.
type MalformedError struct {
	What string // the part of the input, e.g. "envelope", "statement"
	Err  error  // the cause
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("receipt: malformed %s: %v", e.What, e.Err)
}

// Is reports whether target is ErrMalformed.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// Unwrap returns the cause.
func (e *MalformedError) Unwrap() error { return e.Err }

func malformed(what, format string, args ...any) error {
	return &MalformedError{What: what, Err: fmt.Errorf(format, args...)}
}

// SignatureError is a signature that does not verify. It matches
// ErrBadSignature.
type SignatureError struct {
	KeyID  string // the key id the signature names; empty if none
	Reason string
}

func (e *SignatureError) Error() string {
	if e.KeyID == "" {
		return "receipt: bad signature: " + e.Reason
	}
	return fmt.Sprintf("receipt: bad signature by %q: %s", e.KeyID, e.Reason)
}

// Is reports whether target is ErrBadSignature.
func (e *SignatureError) Is(target error) bool { return target == ErrBadSignature }

// UnknownKeyError lists the key ids the envelope's signatures name, none
// of which is trusted. It matches ErrUnknownKey.
type UnknownKeyError struct {
	KeyIDs []string
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("receipt: no trusted key among signature key ids [%s]", strings.Join(e.KeyIDs, ", "))
}

// Is reports whether target is ErrUnknownKey.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrUnknownKey }

// PredicateError names the predicate field that fails its checks. It
// matches ErrInvalidPredicate.
type PredicateError struct {
	Field  string // JSON name of the field; empty for the predicate as a whole
	Reason string
}

func (e *PredicateError) Error() string {
	if e.Field == "" {
		return "receipt: invalid predicate: " + e.Reason
	}
	return fmt.Sprintf("receipt: invalid predicate field %s: %s", e.Field, e.Reason)
}

// Is reports whether target is ErrInvalidPredicate.
func (e *PredicateError) Is(target error) bool { return target == ErrInvalidPredicate }

// OrderError is a payload leaf added out of ascending entity id order. It
// matches ErrOutOfOrder.
type OrderError struct {
	Index    int64  // position the leaf would have taken
	Previous string // entity id of the last leaf added
	EntityID string // entity id refused
}

func (e *OrderError) Error() string {
	return fmt.Sprintf("receipt: entity id %q at leaf %d does not sort after %q", e.EntityID, e.Index, e.Previous)
}

// Is reports whether target is ErrOutOfOrder.
func (e *OrderError) Is(target error) bool { return target == ErrOutOfOrder }

// ErrBadDisclosure: a disclosed object does not check out: a revealed
// value does not match its digest, a digest or salt is malformed, or its
// object digest is not in the signed payload tree.
var ErrBadDisclosure = errors.New("receipt: disclosure does not verify")

// DisclosureError names the object, and the field if one is to blame, of
// a disclosure that does not verify. It matches ErrBadDisclosure, and
// ErrBadProof when the inclusion proof failed.
type DisclosureError struct {
	EntityID string
	Field    string // empty when the object as a whole fails
	Reason   string
	Err      error // the cause, if any
}

func (e *DisclosureError) Error() string {
	msg := fmt.Sprintf("receipt: object %s", e.EntityID)
	if e.Field != "" {
		msg += fmt.Sprintf(" field %s", clip(e.Field))
	}
	msg += ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrBadDisclosure.
func (e *DisclosureError) Is(target error) bool { return target == ErrBadDisclosure }

// Unwrap returns the cause.
func (e *DisclosureError) Unwrap() error { return e.Err }
