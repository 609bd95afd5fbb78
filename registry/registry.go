package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
)

// Config configures a Registry.
type Config struct {
	// Store holds the registry's records (on its Platform handle).
	// Required.
	Store *store.DB
	// Engine checks, compiles and runs uploaded modules. Required.
	Engine *engine.Engine
	// Logger receives one line per stored version; nil discards.
	Logger *slog.Logger
	// Now is the clock of uploaded_at; nil means time.Now.
	Now func() time.Time
}

// Registry is the connector registry: partners upload versions of their
// connectors, runs load them. It is safe for concurrent use.
type Registry struct {
	p   *store.Platform
	eng *engine.Engine
	log *slog.Logger
	now func() time.Time

	// mu serialises the last step of an upload (the checks against the
	// stored versions and the write), so two uploads of one connector
	// cannot both pass a check the other invalidates.
	mu sync.Mutex

	lmu    sync.Mutex
	loaded map[string]*loadEntry // by id@version; versions are immutable
}

// Connector is a connector id in the registry.
type Connector struct {
	ID string `json:"id"`
	// Owner is the partner that uploaded the first version; only it may
	// upload more.
	Owner string `json:"owner"`
	// Latest is the highest version, not counting pre-releases unless
	// there are only pre-releases.
	Latest    string    `json:"latest"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Version is one uploaded version of a connector.
type Version struct {
	Connector string `json:"connector"`
	Version   string `json:"version"`
	// Manifest is the uploaded connector.json (compacted).
	Manifest json.RawMessage `json:"manifest"`
	// Digest is the module's "sha256:<hex>"; Size its length in bytes.
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	// BundleDigest is Bundle.Digest of the upload.
	BundleDigest string `json:"bundle_digest"`
	// Runbooks maps each runbook's path to its digest.
	Runbooks   map[string]string `json:"runbooks,omitempty"`
	UploadedBy string            `json:"uploaded_by"`
	UploadedAt time.Time         `json:"uploaded_at"`
	// Certification is the conformance level the version earned; empty
	// until it is certified.
	Certification string `json:"certification"`
	// Spec is Manifest decoded.
	Spec *protocol.Manifest `json:"-"`
}

// New returns a Registry. It does no I/O.
func New(cfg Config) (*Registry, error) {
	if cfg.Store == nil {
		return nil, errors.New("registry: Config.Store is required")
	}
	if cfg.Engine == nil {
		return nil, errors.New("registry: Config.Engine is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Registry{
		p:      cfg.Store.Platform(),
		eng:    cfg.Engine,
		log:    cfg.Logger,
		now:    cfg.Now,
		loaded: map[string]*loadEntry{},
	}, nil
}

// upload is one Upload in progress.
type upload struct {
	partner string
	bundle  *Bundle
	m       *protocol.Manifest
	version *semver.Version
	digest  string // Bundle.Digest
}

// Upload validates a bundle and stores it as a new version of its
// connector, owned by partner. In order, it refuses (each an *Error):
// a bundle that breaks the bundle rules, an invalid manifest or
// runbooks that do not match it (ErrInvalid); a connector id owned by
// another partner (ErrForbidden); the same version with other bytes
// (ErrConflict); a minor or patch version that breaks a schema of the
// highest earlier version of its major, or a breaking major version
// without a migration from the previous major (ErrInvalid, listing each
// Change); a module with imports outside the sandbox or that does not
// compile, and a discover() that disagrees with the manifest (ErrInvalid,
// listing every disagreement). Uploading a stored version again with the
// same bytes returns the stored Version and writes nothing.
func (r *Registry) Upload(ctx context.Context, partner string, b *Bundle) (Version, error) {
	if err := checkPartner(partner); err != nil {
		return Version{}, err
	}
	if err := checkBundle(b); err != nil {
		return Version{}, err
	}
	m, version, err := parseManifest(b)
	if err != nil {
		return Version{}, err
	}
	up := &upload{partner: partner, bundle: b, m: m, version: version, digest: b.Digest()}
	// The cheap checks against the store come first, so a conflict or a
	// breaking change costs no compilation. They run again below, under
	// the lock, since the store may change while the module compiles.
	if _, existing, err := r.admit(ctx, up); err != nil || existing != nil {
		return deref(existing), err
	}
	mod, err := r.eng.Load(ctx, b.Module, m)
	if err != nil {
		return Version{}, loadError(err)
	}
	stored := false
	defer func() {
		// A rejected module's compiled code must not stay in memory.
		if !stored {
			_ = r.eng.Release(context.WithoutCancel(ctx), mod)
		}
	}()
	got, err := r.eng.Discover(ctx, mod)
	if err != nil {
		return Version{}, discoverError(ctx, err)
	}
	if errs := agree(m, got); len(errs) > 0 {
		return Version{}, newError(ErrInvalid, CodeDiscoverMismatch,
			fmt.Sprintf("discover() disagrees with connector.json in %d places", len(errs)), errs...)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	prev, existing, err := r.admit(ctx, up)
	if err != nil || existing != nil {
		return deref(existing), err
	}
	v, err := r.commit(ctx, up, prev)
	if err != nil {
		return Version{}, err
	}
	stored = true
	r.remember(m.ID, m.Version, mod)
	r.log.Info("connector version stored", "connector", m.ID, "version", m.Version,
		"digest", v.Digest, "partner", partner)
	return v, nil
}

func deref(v *Version) Version {
	if v == nil {
		return Version{}
	}
	return *v
}

// admit checks an upload against the store: ownership, an existing
// version, compatibility. It returns the connector's record (nil for a
// new connector), or the stored version if this upload repeats it.
func (r *Registry) admit(ctx context.Context, up *upload) (*store.RegistryConnector, *Version, error) {
	id := up.m.ID
	c, err := r.p.RegistryConnector(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil, nil // a new connector: nothing to check against
	case err != nil:
		return nil, nil, fmt.Errorf("registry: read connector %s: %w", id, err)
	case c.Owner != up.partner:
		fe := fieldErr(manifestField("id"), CodeNotOwner, "connector %q belongs to another partner", id)
		return nil, nil, newError(ErrForbidden, CodeNotOwner, fe.Message, fe)
	}
	recs, err := r.p.RegistryVersions(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("registry: read versions of %s: %w", id, err)
	}
	for _, rec := range recs {
		if rec.Version != up.m.Version {
			continue
		}
		if rec.BundleDigest != up.digest {
			fe := fieldErr(manifestField("version"), CodeVersionConflict,
				"version %s of %s exists with different content; publish a new version", rec.Version, id)
			return nil, nil, newError(ErrConflict, CodeVersionConflict, fe.Message, fe)
		}
		v, err := versionOf(rec)
		if err != nil {
			return nil, nil, err
		}
		return nil, &v, nil
	}
	if err := checkCompat(up.version, up.m, recs); err != nil {
		return nil, nil, err
	}
	return &c, nil, nil
}

// commit writes the version, its blobs and the connector's record.
func (r *Registry) commit(ctx context.Context, up *upload, c *store.RegistryConnector) (Version, error) {
	now := r.now().UTC()
	b, m := up.bundle, up.m
	rec := store.RegistryVersion{
		Connector:    m.ID,
		Version:      m.Version,
		Manifest:     b.Manifest,
		ModuleDigest: engine.Digest(b.Module),
		ModuleSize:   int64(len(b.Module)),
		BundleDigest: up.digest,
		UploadedBy:   up.partner,
		UploadedAt:   now,
	}
	blobs := [][]byte{b.Module}
	if len(b.Runbooks) > 0 {
		rec.Runbooks = make(map[string]string, len(b.Runbooks))
		for path, md := range b.Runbooks {
			rec.Runbooks[path] = store.BlobDigest(md)
			blobs = append(blobs, md)
		}
	}
	conn := store.RegistryConnector{ID: m.ID, Owner: up.partner, Latest: m.Version, CreatedAt: now, UpdatedAt: now}
	if c != nil {
		conn.CreatedAt = c.CreatedAt
		if latest(c.Latest, m.Version) == c.Latest {
			conn.Latest = c.Latest
		}
	}
	if err := r.p.PutRegistryVersion(ctx, conn, rec, blobs); err != nil {
		if errors.Is(err, store.ErrExists) {
			// Only another process writing the same store gets here.
			fe := fieldErr(manifestField("version"), CodeVersionConflict, "version %s of %s was stored concurrently", m.Version, m.ID)
			e := newError(ErrConflict, CodeVersionConflict, fe.Message, fe)
			e.Err = err
			return Version{}, e
		}
		return Version{}, fmt.Errorf("registry: store %s@%s: %w", m.ID, m.Version, err)
	}
	// The stored record is compact JSON; read it back as readers will.
	stored, err := r.p.RegistryVersion(ctx, m.ID, m.Version)
	if err != nil {
		return Version{}, fmt.Errorf("registry: read back %s@%s: %w", m.ID, m.Version, err)
	}
	return versionOf(stored)
}

// latest returns the later of two versions as Connector.Latest counts
// them: a release beats any pre-release.
func latest(a, b string) string {
	va, errA := semver.StrictNewVersion(a)
	vb, errB := semver.StrictNewVersion(b)
	switch {
	case errA != nil:
		return b
	case errB != nil:
		return a
	case (va.Prerelease() == "") != (vb.Prerelease() == ""):
		if va.Prerelease() == "" {
			return a
		}
		return b
	case vb.GreaterThan(va):
		return b
	}
	return a
}

func versionOf(rec store.RegistryVersion) (Version, error) {
	var spec protocol.Manifest
	if err := json.Unmarshal(rec.Manifest, &spec); err != nil {
		return Version{}, fmt.Errorf("registry: stored manifest of %s@%s: %w", rec.Connector, rec.Version, err)
	}
	return Version{
		Connector:     rec.Connector,
		Version:       rec.Version,
		Manifest:      rec.Manifest,
		Digest:        rec.ModuleDigest,
		Size:          rec.ModuleSize,
		BundleDigest:  rec.BundleDigest,
		Runbooks:      rec.Runbooks,
		UploadedBy:    rec.UploadedBy,
		UploadedAt:    rec.UploadedAt,
		Certification: rec.Certification,
		Spec:          &spec,
	}, nil
}

func connectorOf(c store.RegistryConnector) Connector {
	return Connector{ID: c.ID, Owner: c.Owner, Latest: c.Latest, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// sortVersions orders versions by semver precedence, lowest first.
func sortVersions(vs []Version) {
	slices.SortFunc(vs, func(a, b Version) int {
		va, errA := semver.StrictNewVersion(a.Version)
		vb, errB := semver.StrictNewVersion(b.Version)
		if errA != nil || errB != nil {
			return cmp.Compare(a.Version, b.Version)
		}
		return va.Compare(vb)
	})
}
