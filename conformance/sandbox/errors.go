package sandbox

import (
	"errors"
	"fmt"
)

// Sentinels callers branch on with errors.Is.
var (
	// ErrInvalidConfig: a Config field is out of range.
	ErrInvalidConfig = errors.New("sandbox: invalid config")
	// ErrNotLoopback: Start was asked to listen on a non-loopback address.
	ErrNotLoopback = errors.New("sandbox: address is not loopback")
	// ErrAlreadyStarted: Start was called twice.
	ErrAlreadyStarted = errors.New("sandbox: server already started")
	// ErrClosed: Start was called after Close.
	ErrClosed = errors.New("sandbox: server closed")
	// ErrUnknownUser: no user has this id.
	ErrUnknownUser = errors.New("sandbox: unknown user")
	// ErrUserDeleted: the user was deleted and cannot change any more.
	ErrUserDeleted = errors.New("sandbox: user deleted")
	// ErrInvalidPatch: a user patch names a field that cannot be set or
	// holds a value of the wrong type.
	ErrInvalidPatch = errors.New("sandbox: invalid user patch")
	// ErrInvalidFaults: a Faults field is out of range.
	ErrInvalidFaults = errors.New("sandbox: invalid faults")
	// ErrInvalidQuery: a list query parameter is unknown, repeated or malformed.
	ErrInvalidQuery = errors.New("sandbox: invalid query")
	// ErrInvalidCursor: a cursor is malformed, from another resource or
	// filter set, or past the end.
	ErrInvalidCursor = errors.New("sandbox: invalid cursor")
)

// FieldError says which field of a Config, Faults, user patch, list
// query, write body or webhook subscription was rejected and why. It
// unwraps to one of the sentinels of this file.
type FieldError struct {
	Err    error  // ErrInvalidConfig, ErrInvalidFaults, ErrInvalidPatch, ErrInvalidQuery, ErrInvalidCursor, ErrInvalidUser, ErrInvalidBody or ErrInvalidSubscription
	Field  string // the field or query parameter
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s: %s", e.Err, e.Field, e.Reason)
}

func (e *FieldError) Unwrap() error { return e.Err }

// AddrError is returned by Start and Run for an address they refuse.
// It unwraps to ErrNotLoopback.
type AddrError struct {
	Addr   string
	Reason string
}

func (e *AddrError) Error() string {
	return fmt.Sprintf("%v: %q: %s", ErrNotLoopback, e.Addr, e.Reason)
}

func (e *AddrError) Unwrap() error { return ErrNotLoopback }

// UserError names the user an UpdateUser or DeleteUser call could not
// change. It unwraps to ErrUnknownUser or ErrUserDeleted.
type UserError struct {
	ID  string
	Err error
}

func (e *UserError) Error() string { return fmt.Sprintf("%v: %q", e.Err, e.ID) }

func (e *UserError) Unwrap() error { return e.Err }

// Errors of the write API (writes.go).
var (
	// ErrInvalidUser: a new user's field is missing or malformed.
	ErrInvalidUser = errors.New("sandbox: invalid user")
	// ErrInvalidBody: a write's body is not the one JSON object it takes.
	ErrInvalidBody = errors.New("sandbox: invalid request body")
	// ErrEmailTaken: a live user already has the email.
	ErrEmailTaken = errors.New("sandbox: email already in use")
	// ErrTooManyUsers: MaxCreatedUsers users were created already.
	ErrTooManyUsers = errors.New("sandbox: too many created users")
	// ErrUnknownGroup: no group has this id.
	ErrUnknownGroup = errors.New("sandbox: unknown group")
	// ErrNotMember: the user is not in the group.
	ErrNotMember = errors.New("sandbox: user is not a member of the group")
	// ErrInvalidSubscription: a webhook subscription's URL, secret or
	// delivery options are refused.
	ErrInvalidSubscription = errors.New("sandbox: invalid webhook subscription")
	// ErrInvalidEvent: a handcrafted event lacks a type or its data is
	// not JSON.
	ErrInvalidEvent = errors.New("sandbox: invalid event")
)

// Errors of the ticket API (tickets.go).
var (
	// ErrUnknownTicket: no ticket has this id.
	ErrUnknownTicket = errors.New("sandbox: unknown ticket")
	// ErrInvalidTicket: a new ticket, ticket patch or comment has a
	// missing, unknown or malformed field.
	ErrInvalidTicket = errors.New("sandbox: invalid ticket")
)

// TicketError names the ticket an UpdateTicket or AddComment call could
// not find. It unwraps to ErrUnknownTicket.
type TicketError struct {
	ID  string
	Err error
}

func (e *TicketError) Error() string { return fmt.Sprintf("%v: %q", e.Err, e.ID) }

func (e *TicketError) Unwrap() error { return e.Err }
