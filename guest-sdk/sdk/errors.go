package sdk

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Sentinel errors a caller can branch on with errors.Is.
var (
	// ErrNotSupported is returned by Invoke for an export whose handler
	// is nil in the Connector.
	ErrNotSupported = errors.New("sdk: export not supported by this connector")
	// ErrUnknownExport is returned by Invoke for a name that is not an
	// export of the ABI.
	ErrUnknownExport = errors.New("sdk: unknown export")
	// ErrBadInput matches every *InputError: the export's input was not
	// the JSON document the ABI defines.
	ErrBadInput = errors.New("sdk: bad input")
	// ErrHostClosed is returned by Host methods called after the handler
	// that received the Host returned.
	ErrHostClosed = errors.New("sdk: host used after its call returned")
	// ErrHostRefused matches every *HostError: the host refused or
	// failed an HTTP request (sluice_http answered with status 0).
	ErrHostRefused = errors.New("sdk: host refused the request")
	// ErrBadHostReply is returned when a host function answered with
	// something that is not the JSON document the ABI defines.
	ErrBadHostReply = errors.New("sdk: malformed reply from host")
	// ErrEmitRefused matches every *EmitError: the host refused a whole
	// emit batch. The connector should stop and return the error.
	ErrEmitRefused = errors.New("sdk: host refused emit batch")
	// ErrBadRecord is returned by Emit and EmitEdge for a record that
	// cannot be encoded (Data that is not valid JSON, a NaN confidence).
	ErrBadRecord = errors.New("sdk: record cannot be encoded")
	// ErrBadJSON is returned by RawMembers and RawElements for input
	// that is not one valid JSON object or array.
	ErrBadJSON = errors.New("sdk: not the expected JSON value")
	// ErrNilTransport is returned by Invoke when given a nil Transport.
	ErrNilTransport = errors.New("sdk: nil transport")
	// ErrPanic matches every *PanicError.
	ErrPanic = errors.New("sdk: handler panicked")
)

// Error types written in the "type" of the ErrorResponse that a failed
// export reports (see ErrorResponseOf). Host error types such as
// "rate_limited" or "denied_host" pass through unchanged.
const (
	ErrorTypeUnsupported   = "unsupported"
	ErrorTypeBadInput      = "bad_input"
	ErrorTypeUnauthorized  = "unauthorized"
	ErrorTypeRateLimited   = "rate_limited"
	ErrorTypeRemoteError   = "remote_error"
	ErrorTypeRemoteDown    = "remote_unavailable"
	ErrorTypeEmitRefused   = "emit_refused"
	ErrorTypePanic         = "panic"
	ErrorTypeConnector     = "connector_error"
	errorTypeBadHostReply  = "bad_host_reply"
	errorTypeHostClosed    = "host_closed"
	errorTypeUnknownExport = "unknown_export"
)

// InputError reports an export input that could not be decoded.
type InputError struct {
	Export string
	Err    error
}

func (e *InputError) Error() string {
	return fmt.Sprintf("sdk: bad input for %s: %v", e.Export, e.Err)
}

// Unwrap returns the decoding error.
func (e *InputError) Unwrap() error { return e.Err }

// Is reports whether target is ErrBadInput.
func (e *InputError) Is(target error) bool { return target == ErrBadInput }

// HostError is the host's refusal or failure of an HTTP request:
// sluice_http answered with status 0. Type is the host's error class
// ("denied_host", "denied_method", "denied_address", "rate_limited",
// "timeout", "too_large", "transport").
type HostError struct {
	Type    string
	Message string
}

func (e *HostError) Error() string {
	if e.Type == "" {
		return "sdk: host refused request: " + e.Message
	}
	return "sdk: host refused request (" + e.Type + "): " + e.Message
}

// Is reports whether target is ErrHostRefused.
func (e *HostError) Is(target error) bool { return target == ErrHostRefused }

// StatusError is a remote answer outside 2xx, returned by Host.GetJSON.
// It deliberately carries no response body: bodies may hold data the
// connector must not copy into error messages.
type StatusError struct {
	Method string
	URL    string
	Status int
}

func (e *StatusError) Error() string {
	return "sdk: " + e.Method + " " + e.URL + ": remote answered " + strconv.Itoa(e.Status)
}

// EmitError is the host's refusal of a whole emit batch (for example the
// per-call record cap was exceeded). Once returned, every later Emit,
// EmitEdge, Delete and Flush of the same call returns it again.
type EmitError struct {
	Message string
}

func (e *EmitError) Error() string { return "sdk: host refused emit batch: " + e.Message }

// Is reports whether target is ErrEmitRefused.
func (e *EmitError) Is(target error) bool { return target == ErrEmitRefused }

// PanicError is a handler panic recovered by Invoke, so that a connector
// bug fails one call with a clear error instead of trapping the module.
type PanicError struct {
	Export string
	Value  any
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("sdk: %s handler panicked: %v", e.Export, e.Value)
}

// Is reports whether target is ErrPanic.
func (e *PanicError) Is(target error) bool { return target == ErrPanic }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// TypedError lets a handler name the runbook error type of its failure;
// ErrorResponseOf reports Type instead of a derived one.
type TypedError struct {
	Type string
	Err  error
}

func (e *TypedError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *TypedError) Unwrap() error { return e.Err }

// ErrorResponseOf classifies err as the ErrorResponse a failed export
// reports to the host: the Wasm glue writes it, as JSON, as the Extism
// error. Type is, in order: a TypedError's Type, a HostError's Type, a
// class derived from a StatusError's status, a class for the SDK's own
// sentinels, or "connector_error".
func ErrorResponseOf(err error) protocol.ErrorResponse {
	if err == nil {
		return protocol.ErrorResponse{}
	}
	return protocol.ErrorResponse{Type: errorType(err), Message: err.Error()}
}

func errorType(err error) string {
	var te *TypedError
	if errors.As(err, &te) && te.Type != "" {
		return te.Type
	}
	var he *HostError
	if errors.As(err, &he) && he.Type != "" {
		return he.Type
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch {
		case se.Status == 401 || se.Status == 403:
			return ErrorTypeUnauthorized
		case se.Status == 429:
			return ErrorTypeRateLimited
		case se.Status >= 500:
			return ErrorTypeRemoteDown
		}
		return ErrorTypeRemoteError
	}
	for _, c := range []struct {
		target error
		typ    string
	}{
		{ErrNotSupported, ErrorTypeUnsupported},
		{ErrUnknownExport, errorTypeUnknownExport},
		{ErrBadInput, ErrorTypeBadInput},
		{ErrEmitRefused, ErrorTypeEmitRefused},
		{ErrPanic, ErrorTypePanic},
		{ErrBadHostReply, errorTypeBadHostReply},
		{ErrHostClosed, errorTypeHostClosed},
	} {
		if errors.Is(err, c.target) {
			return c.typ
		}
	}
	return ErrorTypeConnector
}
