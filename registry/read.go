package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/Masterminds/semver/v3"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/store"
)

// Connectors returns every connector in id order.
func (r *Registry) Connectors(ctx context.Context) ([]Connector, error) {
	recs, err := r.p.RegistryConnectors(ctx)
	if err != nil {
		return nil, fmt.Errorf("registry: list connectors: %w", err)
	}
	out := make([]Connector, len(recs))
	for i, c := range recs {
		out[i] = connectorOf(c)
	}
	return out, nil
}

// Connector returns one connector; ErrNotFound if no version of it was
// ever uploaded.
func (r *Registry) Connector(ctx context.Context, id string) (Connector, error) {
	if err := checkConnectorID(id); err != nil {
		return Connector{}, err
	}
	c, err := r.p.RegistryConnector(ctx, id)
	if err != nil {
		return Connector{}, readError(err, "id", "connector %q", id)
	}
	return connectorOf(c), nil
}

// Versions returns every version of a connector, lowest first by semver
// precedence; ErrNotFound for an unknown connector.
func (r *Registry) Versions(ctx context.Context, id string) ([]Version, error) {
	if err := checkConnectorID(id); err != nil {
		return nil, err
	}
	recs, err := r.p.RegistryVersions(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("registry: list versions of %s: %w", id, err)
	}
	if len(recs) == 0 {
		return nil, notFound("id", "no connector %q", id)
	}
	out := make([]Version, len(recs))
	for i, rec := range recs {
		if out[i], err = versionOf(rec); err != nil {
			return nil, err
		}
	}
	sortVersions(out)
	return out, nil
}

// Version returns one version of a connector; ErrNotFound if there is
// no such version.
func (r *Registry) Version(ctx context.Context, id, version string) (Version, error) {
	if err := checkRef(id, version); err != nil {
		return Version{}, err
	}
	rec, err := r.p.RegistryVersion(ctx, id, version)
	if err != nil {
		return Version{}, readError(err, "version", "version %s of connector %q", version, id)
	}
	return versionOf(rec)
}

// Module returns the module bytes of a version.
func (r *Registry) Module(ctx context.Context, id, version string) ([]byte, error) {
	v, err := r.Version(ctx, id, version)
	if err != nil {
		return nil, err
	}
	return r.blob(ctx, v.Digest)
}

// Runbook returns the Markdown runbook a version names for an error
// type; ErrNotFound if it names none.
func (r *Registry) Runbook(ctx context.Context, id, version, errorType string) ([]byte, error) {
	v, err := r.Version(ctx, id, version)
	if err != nil {
		return nil, err
	}
	for _, rb := range v.Spec.Runbooks {
		if rb.ErrorType == errorType {
			if d, ok := v.Runbooks[rb.Path]; ok {
				return r.blob(ctx, d)
			}
		}
	}
	return nil, notFound("error_type", "version %s of connector %q has no runbook for error type %q", version, id, errorType)
}

func (r *Registry) blob(ctx context.Context, digest string) ([]byte, error) {
	b, err := r.p.RegistryBlob(ctx, digest)
	if err != nil {
		return nil, fmt.Errorf("registry: read blob %s: %w", digest, err)
	}
	return b, nil
}

// loadEntry is one module loading or loaded; done closes when it is.
type loadEntry struct {
	done chan struct{}
	mod  *engine.Module
	err  error
}

// Load returns the compiled module of a version, ready for runs. The
// first call of each version loads it (one load however many callers
// wait); later calls return the same *engine.Module. A failed load is
// not remembered.
func (r *Registry) Load(ctx context.Context, id, version string) (*engine.Module, error) {
	if err := checkRef(id, version); err != nil {
		return nil, err
	}
	key := id + "@" + version
	for {
		r.lmu.Lock()
		e, ok := r.loaded[key]
		if !ok {
			e = &loadEntry{done: make(chan struct{})}
			r.loaded[key] = e
			r.lmu.Unlock()
			e.mod, e.err = r.load(ctx, id, version)
			if e.err != nil {
				r.lmu.Lock()
				delete(r.loaded, key)
				r.lmu.Unlock()
			}
			close(e.done)
			return e.mod, e.err
		}
		r.lmu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// The loader's caller may have given up; that is no reason for
		// this one to fail.
		if e.err != nil && ctx.Err() == nil &&
			(errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded)) {
			continue
		}
		return e.mod, e.err
	}
}

func (r *Registry) load(ctx context.Context, id, version string) (*engine.Module, error) {
	v, err := r.Version(ctx, id, version)
	if err != nil {
		return nil, err
	}
	wasm, err := r.blob(ctx, v.Digest)
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse(v.Manifest)
	if err != nil {
		return nil, fmt.Errorf("registry: stored manifest of %s@%s: %w", id, version, err)
	}
	mod, err := r.eng.Load(ctx, wasm, m)
	if err != nil {
		return nil, fmt.Errorf("registry: load %s@%s: %w", id, version, err)
	}
	if mod.Digest != v.Digest {
		return nil, fmt.Errorf("registry: load %s@%s: module digest %s, the version names %s", id, version, mod.Digest, v.Digest)
	}
	return mod, nil
}

// remember caches a module loaded by Upload, so the first run of a new
// version does not load it again.
func (r *Registry) remember(id, version string, mod *engine.Module) {
	e := &loadEntry{done: make(chan struct{}), mod: mod}
	close(e.done)
	r.lmu.Lock()
	r.loaded[id+"@"+version] = e
	r.lmu.Unlock()
}

func readError(err error, field, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		e := notFound(field, "no "+format, args...)
		e.Err = err
		return e
	}
	return fmt.Errorf("registry: read "+format+": %w", append(args, err)...)
}

// checkConnectorID applies the manifest's pattern for ids,
// ^[a-z][a-z0-9-]{1,62}$.
func checkConnectorID(id string) error {
	ok := len(id) >= 2 && len(id) <= 63 && id[0] >= 'a' && id[0] <= 'z'
	for i := 1; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return invalidArg("id", "%s is not a connector id (^[a-z][a-z0-9-]{1,62}$)", quoteName(id))
	}
	return nil
}

// checkRef checks a connector id and a version (strict semver, no build
// metadata, as Upload stores them).
func checkRef(id, version string) error {
	if err := checkConnectorID(id); err != nil {
		return err
	}
	if v, err := semver.StrictNewVersion(version); err != nil || v.Metadata() != "" {
		return invalidArg("version", "%s is not a version (MAJOR.MINOR.PATCH[-PRERELEASE])", quoteName(version))
	}
	return nil
}
