package secrets

import (
	"errors"
	"fmt"
)

// Sentinels callers branch on with errors.Is. No error of this package
// contains a secret value or key material.
var (
	// ErrNotFound: the secret (or, for RewrapDEK, the tenant's data key)
	// does not exist.
	ErrNotFound = errors.New("secrets: not found")
	// ErrInvalid: an argument was refused; the error is a *FieldError.
	ErrInvalid = errors.New("secrets: invalid argument")
	// ErrSealed: a sealed secret does not open: it was tampered with,
	// copied from another tenant, connection or name, or sealed under a
	// data key the tenant no longer has.
	ErrSealed = errors.New("secrets: sealed secret does not open")
	// ErrDataKey: the tenant's data key cannot be made or unwrapped (the
	// KMS failed or refused, or the record is damaged).
	ErrDataKey = errors.New("secrets: tenant data key unavailable")
	// ErrUnknownKey: the tenant's data key was wrapped by a KMS key this
	// vault has neither as Config.KMS nor in Config.Retired. It also
	// matches ErrDataKey.
	ErrUnknownKey = errors.New("secrets: data key wrapped by a KMS key this vault does not have")
)

// FieldError names the argument refused, for a problem+json "field". It
// matches ErrInvalid and, when the store refused it, store.ErrInvalid.
type FieldError struct {
	Field  string // "value", "connection", "secret name", "tenant"
	Reason string
	Err    error // the store's *ValidationError, or nil
}

func (e *FieldError) Error() string { return fmt.Sprintf("secrets: invalid %s: %s", e.Field, e.Reason) }

// Unwrap returns ErrInvalid and the store's error, if any.
func (e *FieldError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalid}
	}
	return []error{ErrInvalid, e.Err}
}

// SecretError is a failure about one secret, named, never shown.
type SecretError struct {
	Op         string // "put", "rotate", "delete", "open"
	Tenant     string
	Connection string
	Name       string
	Err        error
}

func (e *SecretError) Error() string {
	return fmt.Sprintf("secrets: %s secret %q of connection %q (tenant %q): %v", e.Op, e.Name, e.Connection, e.Tenant, e.Err)
}

// Unwrap returns the cause.
func (e *SecretError) Unwrap() error { return e.Err }

// DataKeyError is a failure about a tenant's data key. It matches
// ErrDataKey, and its Err (ErrUnknownKey, a kms error, a store error).
type DataKeyError struct {
	Tenant string
	KeyID  string // the KMS key involved, if known
	Reason string
	Err    error
}

func (e *DataKeyError) Error() string {
	s := fmt.Sprintf("secrets: data key of tenant %q: %s", e.Tenant, e.Reason)
	if e.KeyID != "" {
		s += " (KMS key " + e.KeyID + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrDataKey and the cause.
func (e *DataKeyError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrDataKey}
	}
	return []error{ErrDataKey, e.Err}
}
