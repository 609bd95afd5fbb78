package registry

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels callers branch on with errors.Is. Every refusal is an *Error
// that matches exactly one of them (the three bundle sentinels also
// match ErrInvalid). The HTTP status each one maps to is in its comment.
var (
	// ErrInvalid: the upload or an argument is invalid (422 for an
	// upload's content, 400 for a malformed argument of a read).
	ErrInvalid = errors.New("registry: invalid")
	// ErrBadBundle: the bundle cannot be read as a bundle: not a tar.gz
	// or multipart body, unsafe paths, links, duplicate, unknown or
	// missing files (400). Matches ErrInvalid.
	ErrBadBundle = fmt.Errorf("%w: malformed bundle", ErrInvalid)
	// ErrTooLarge: the bundle or one of its files is over its size
	// limit (413). Matches ErrInvalid.
	ErrTooLarge = fmt.Errorf("%w: too large", ErrInvalid)
	// ErrUnsupportedMediaType: the body is neither tar.gz nor
	// multipart/form-data (415). Matches ErrInvalid.
	ErrUnsupportedMediaType = fmt.Errorf("%w: unsupported media type", ErrInvalid)
	// ErrConflict: the version exists with different bytes (409).
	ErrConflict = errors.New("registry: version exists with different content")
	// ErrForbidden: the connector id belongs to another partner (403).
	ErrForbidden = errors.New("registry: connector owned by another partner")
	// ErrNotFound: no such connector, version or runbook (404).
	ErrNotFound = errors.New("registry: not found")
)

// Codes name what went wrong, in Error.Code and FieldError.Code: stable,
// machine-readable strings for problem+json types.
const (
	CodeMalformedBundle     = "malformed_bundle"       // ErrBadBundle: not gzip, not tar, bad multipart
	CodeUnsafePath          = "unsafe_path"            // ErrBadBundle: absolute path, "..", backslash
	CodeNotRegularFile      = "not_regular_file"       // ErrBadBundle: symlink, hard link, device
	CodeDuplicateEntry      = "duplicate_entry"        // ErrBadBundle
	CodeUnknownFile         = "unknown_file"           // ErrBadBundle: not module.wasm, connector.json or runbooks/*.md
	CodeMissingFile         = "missing_file"           // ErrBadBundle: no module.wasm or connector.json
	CodeEmptyFile           = "empty_file"             // ErrBadBundle
	CodeTooLarge            = "too_large"              // ErrTooLarge
	CodeUnsupportedMedia    = "unsupported_media_type" // ErrUnsupportedMediaType
	CodeInvalidManifest     = "invalid_manifest"       // ErrInvalid
	CodeRunbookMissing      = "runbook_missing"        // ErrInvalid: the manifest names a runbook the bundle lacks
	CodeRunbookUnreferenced = "runbook_unreferenced"   // ErrInvalid: the bundle has a runbook the manifest does not name
	CodeForbiddenImport     = "forbidden_import"       // ErrInvalid: the module imports outside the sandbox
	CodeInvalidModule       = "invalid_module"         // ErrInvalid: not a loadable Wasm module
	CodeDiscoverFailed      = "discover_failed"        // ErrInvalid: discover() failed
	CodeDiscoverMismatch    = "discover_mismatch"      // ErrInvalid: discover() disagrees with the manifest
	CodeBreakingChange      = "breaking_change"        // ErrInvalid: a minor or patch version breaks a schema
	CodeMigrationRequired   = "migration_required"     // ErrInvalid: a breaking major version has no migration
	CodeInvalidMigration    = "invalid_migration"      // ErrInvalid: migration.from is not the previous major
	CodeInvalidArgument     = "invalid_argument"       // ErrInvalid: a malformed id, version, partner or error type
	CodeVersionConflict     = "version_conflict"       // ErrConflict
	CodeNotOwner            = "not_owner"              // ErrForbidden
	CodeNotFound            = "not_found"              // ErrNotFound
)

// FieldError is one problem, naming the field it is about. Field is the
// bundle file ("module.wasm", "runbooks/auth.md", "bundle" for the body
// as a whole), a JSON pointer into the manifest as
// "connector.json#/object_types/0/schema", or a parameter name
// ("partner", "id", "version", "error_type").
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e FieldError) String() string { return e.Field + ": " + e.Message }

// Error is a refused request. It matches its Kind (one of the sentinels)
// and its cause with errors.Is and errors.As.
type Error struct {
	Kind error
	// Code is Errors' code when they all share one, else the category
	// of Kind (CodeMalformedBundle, CodeInvalidManifest).
	Code    string
	Message string
	// Errors lists every problem found; never empty.
	Errors []FieldError
	// BreakingChanges lists each change that breaks a schema, for
	// CodeBreakingChange and CodeMigrationRequired.
	BreakingChanges []Change
	// Err is the underlying cause, if any: a *manifest.ValidationError,
	// an *engine.ImportError, an *engine.CallError.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("registry: ")
	b.WriteString(e.Message)
	for i, fe := range e.Errors {
		if i == 8 {
			fmt.Fprintf(&b, "; and %d more", len(e.Errors)-i)
			break
		}
		b.WriteString("; ")
		b.WriteString(fe.String())
	}
	return b.String()
}

// Unwrap returns Kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// newError builds an *Error; its Code is the problems' shared code, or
// fallback when they differ.
func newError(kind error, fallback, msg string, errs ...FieldError) *Error {
	code := fallback
	for i, fe := range errs {
		if i == 0 {
			code = fe.Code
		} else if fe.Code != code {
			code = fallback
			break
		}
	}
	return &Error{Kind: kind, Code: code, Message: msg, Errors: errs}
}

func fieldErr(field, code, format string, args ...any) FieldError {
	return FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)}
}

func notFound(field, format string, args ...any) *Error {
	fe := fieldErr(field, CodeNotFound, format, args...)
	return newError(ErrNotFound, CodeNotFound, fe.Message, fe)
}

func invalidArg(field, format string, args ...any) *Error {
	fe := fieldErr(field, CodeInvalidArgument, format, args...)
	return newError(ErrInvalid, CodeInvalidArgument, fe.Message, fe)
}

// manifestField is the Field of a problem at a JSON pointer (without its
// leading '/') of connector.json.
func manifestField(pointer string) string {
	if pointer == "" {
		return fileManifest
	}
	return fileManifest + "#/" + strings.TrimPrefix(pointer, "/")
}
