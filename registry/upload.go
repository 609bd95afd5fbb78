package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
	"github.com/sluicehq/sluice/manifest"
)

// maxPartnerLen bounds a partner id (the store's limit on owners).
const maxPartnerLen = 256

func checkPartner(partner string) error {
	if partner == "" || len(partner) > maxPartnerLen ||
		strings.ContainsFunc(partner, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return invalidArg("partner", "the partner id must be 1-%d printable bytes", maxPartnerLen)
	}
	return nil
}

// checkBundle applies ParseBundle's rules on files to a Bundle built by
// other means.
func checkBundle(b *Bundle) error {
	if b == nil {
		return malformed("no bundle")
	}
	var errs []FieldError
	if len(b.Module) == 0 {
		errs = append(errs, fieldErr(fileModule, CodeMissingFile, "the bundle has no module.wasm"))
	}
	switch {
	case len(b.Manifest) == 0:
		errs = append(errs, fieldErr(fileManifest, CodeMissingFile, "the bundle has no connector.json"))
	case len(b.Manifest) > manifest.MaxSize:
		errs = append(errs, fieldErr(fileManifest, CodeTooLarge, "connector.json is %d bytes, the limit is %d", len(b.Manifest), manifest.MaxSize))
	}
	if len(b.Runbooks) > MaxRunbooks {
		errs = append(errs, fieldErr(dirRunbooks, CodeTooLarge, "%d runbooks, the limit is %d", len(b.Runbooks), MaxRunbooks))
	}
	for _, path := range sortedKeys(b.Runbooks) {
		switch md := b.Runbooks[path]; {
		case !validRunbookPath(path):
			errs = append(errs, fieldErr(entryField(path), CodeUnknownFile, "unknown file %s; runbooks are runbooks/NAME.md", quoteName(path)))
		case len(md) == 0:
			errs = append(errs, fieldErr(path, CodeEmptyFile, "%s is empty", path))
		case len(md) > MaxRunbookBytes:
			errs = append(errs, fieldErr(path, CodeTooLarge, "%s is %d bytes, the limit is %d", path, len(md), MaxRunbookBytes))
		}
	}
	if len(errs) > 0 {
		return newError(ErrBadBundle, CodeMalformedBundle, "the bundle is not valid", errs...)
	}
	return nil
}

// parseManifest validates connector.json and the runbooks it names.
func parseManifest(b *Bundle) (*protocol.Manifest, *semver.Version, error) {
	m, err := manifest.Parse(b.Manifest)
	if err != nil {
		var ve *manifest.ValidationError
		if !errors.As(err, &ve) {
			return nil, nil, fmt.Errorf("registry: %w", err) // the schema itself failed: ours, not the partner's
		}
		errs := make([]FieldError, len(ve.Problems))
		for i, p := range ve.Problems {
			errs[i] = FieldError{Field: manifestField(p.Field), Code: CodeInvalidManifest, Message: p.Message}
		}
		e := newError(ErrInvalid, CodeInvalidManifest, "connector.json is not a valid manifest", errs...)
		e.Err = err
		return nil, nil, e
	}
	version, err := semver.StrictNewVersion(m.Version)
	if err != nil { // manifest.Parse checked it; keep the guard
		fe := fieldErr(manifestField("version"), CodeInvalidManifest, "%q is not a semantic version: %v", m.Version, err)
		return nil, nil, newError(ErrInvalid, CodeInvalidManifest, fe.Message, fe)
	}
	var errs []FieldError
	if version.Metadata() != "" {
		errs = append(errs, fieldErr(manifestField("version"), CodeInvalidManifest,
			"build metadata (%q) is not allowed: semver precedence ignores it, so it cannot tell two versions apart", "+"+version.Metadata()))
	}
	errs = append(errs, checkRunbooks(m, b)...)
	if len(errs) > 0 {
		return nil, nil, newError(ErrInvalid, CodeInvalidManifest, "connector.json does not fit the bundle", errs...)
	}
	return m, version, nil
}

// checkRunbooks requires every runbook the manifest names to be in the
// bundle, and every runbook of the bundle to be named.
func checkRunbooks(m *protocol.Manifest, b *Bundle) []FieldError {
	var errs []FieldError
	named := map[string]bool{}
	types := map[string]bool{}
	for i, rb := range m.Runbooks {
		if types[rb.ErrorType] {
			errs = append(errs, fieldErr(manifestField(fmt.Sprintf("runbooks/%d/error_type", i)), CodeInvalidManifest,
				"error type %q has more than one runbook", rb.ErrorType))
		}
		types[rb.ErrorType] = true
		named[rb.Path] = true
		if _, ok := b.Runbooks[rb.Path]; !ok {
			errs = append(errs, fieldErr(manifestField(fmt.Sprintf("runbooks/%d/path", i)), CodeRunbookMissing,
				"the manifest names runbook %s for error type %q, but the bundle does not hold it", rb.Path, rb.ErrorType))
		}
	}
	for _, path := range sortedKeys(b.Runbooks) {
		if !named[path] {
			errs = append(errs, fieldErr(path, CodeRunbookUnreferenced,
				"the bundle holds %s, but no runbook of connector.json names it", path))
		}
	}
	return errs
}

// loadError maps an engine.Load failure: the module's fault is
// ErrInvalid, anything else is the server's.
func loadError(err error) error {
	var ie *engine.ImportError
	var se *hostfns.SchemaError
	switch {
	case errors.As(err, &ie):
		fe := fieldErr(fileModule, CodeForbiddenImport, "the module imports %s.%s: %s", ie.Module, ie.Name, ie.Reason)
		e := newError(ErrInvalid, CodeForbiddenImport, "the module imports a function outside the sandbox", fe)
		e.Err = err
		return e
	case errors.Is(err, engine.ErrInvalidModule):
		fe := fieldErr(fileModule, CodeInvalidModule, "%v", err)
		e := newError(ErrInvalid, CodeInvalidModule, "module.wasm is not a loadable Wasm module", fe)
		e.Err = err
		return e
	case errors.As(err, &se):
		fe := fieldErr(manifestField("object_types"), CodeInvalidManifest, "%v", se)
		e := newError(ErrInvalid, CodeInvalidManifest, "an object type's schema is refused", fe)
		e.Err = err
		return e
	}
	return fmt.Errorf("registry: load module: %w", err)
}

// discoverError maps a failed discover() call: the module's failure is
// ErrInvalid; the caller giving up is not.
func discoverError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("registry: discover: %w", err)
	}
	var ce *engine.CallError
	if !errors.As(err, &ce) {
		return fmt.Errorf("registry: discover: %w", err)
	}
	fe := fieldErr(fileModule, CodeDiscoverFailed, "discover() failed: %v", ce)
	e := newError(ErrInvalid, CodeDiscoverFailed, "the module's discover() failed", fe)
	e.Err = err
	return e
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
