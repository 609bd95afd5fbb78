package hostfns

import (
	"errors"
	"fmt"
	"net/netip"
)

// Sentinel errors callers branch on.
var (
	// ErrDeniedAddress is returned by the guarded dialer for a host that
	// resolves only to forbidden addresses (loopback, private, link-local,
	// metadata, CGNAT, multicast, unspecified…).
	ErrDeniedAddress = errors.New("hostfns: address not allowed")
	// ErrUnknownCredential is returned by a [Credentials] that does not
	// hold the named credential; [CredentialChain] then asks the next one.
	ErrUnknownCredential = errors.New("hostfns: unknown credential")
	// ErrRateLimited is returned by [Limiter.Wait] when the wait would
	// outlast the context's deadline.
	ErrRateLimited = errors.New("hostfns: rate limited")
	// ErrNoSchema is wrapped by [CompileSchemas] for an object type that
	// declares no JSON Schema.
	ErrNoSchema = errors.New("hostfns: object type has no schema")
	// ErrBadSchema is wrapped by [CompileSchemas] for a schema that does
	// not compile.
	ErrBadSchema = errors.New("hostfns: bad schema")
	// ErrToken is wrapped by [TokenSource] when the token endpoint fails.
	ErrToken = errors.New("hostfns: oauth2 token")
)

// AddressError says which host and address the dialer refused.
type AddressError struct {
	Host string     // the host name as dialled
	Addr netip.Addr // the first forbidden address it resolved to
}

func (e *AddressError) Error() string {
	if e.Host == e.Addr.String() {
		return fmt.Sprintf("address %s is not allowed (private, loopback, link-local or reserved)", e.Addr)
	}
	return fmt.Sprintf("host %s resolves to %s, which is not allowed (private, loopback, link-local or reserved)", e.Host, e.Addr)
}

// Unwrap makes errors.Is(err, ErrDeniedAddress) hold.
func (e *AddressError) Unwrap() error { return ErrDeniedAddress }

// SchemaError names the object type whose schema failed to compile.
type SchemaError struct {
	Type string
	Err  error
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("object type %q: %v", e.Type, e.Err)
}

func (e *SchemaError) Unwrap() error { return e.Err }
