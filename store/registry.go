package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Connector registry records, on the Platform handle. Keys, relative to
// p/ (testdata/golden-registry pins the exact bytes):
//
//	reg/c/{connector}            RegistryConnector, JSON: the owner and the latest version.
//	reg/v/{connector}/{version}  RegistryVersion, JSON: the manifest and the digests it names.
//	reg/b/{digest}               blob, raw bytes: a module or a runbook, keyed by its
//	                             BlobDigest, stored once however many versions name it.
//
// Versions are write-once: a version is never overwritten, and a blob
// never changes, since its key is its content's digest.
const (
	kRegConnector = "reg/c/"
	kRegVersion   = "reg/v/"
	kRegBlob      = "reg/b/"
)

// maxOwnerLen bounds RegistryConnector.Owner and RegistryVersion.UploadedBy.
const maxOwnerLen = 256

// RegistryConnector is a connector id of the registry: who owns it (the
// partner that uploaded its first version) and its latest version.
type RegistryConnector struct {
	ID        string    `json:"id"`
	Owner     string    `json:"owner"`
	Latest    string    `json:"latest"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// RegistryVersion is one uploaded version of a connector.
type RegistryVersion struct {
	Connector string `json:"connector"`
	Version   string `json:"version"`
	// Manifest is the uploaded connector.json (stored compact).
	Manifest     json.RawMessage `json:"manifest"`
	ModuleDigest string          `json:"module_digest"`
	ModuleSize   int64           `json:"module_size"`
	// BundleDigest covers the module, the manifest and the runbooks as
	// uploaded; the same version uploaded again is the same upload only
	// if this matches.
	BundleDigest string `json:"bundle_digest"`
	// Runbooks maps a runbook's bundle path to its blob digest.
	Runbooks   map[string]string `json:"runbooks,omitempty"`
	UploadedBy string            `json:"uploaded_by"`
	UploadedAt time.Time         `json:"uploaded_at,omitzero"`
	// Certification is the conformance level the version earned; empty
	// until it is certified.
	Certification string `json:"certification,omitempty"`
}

// BlobDigest is the key of a blob: "sha256:" and the lower-case hex
// SHA-256 of b (the same form as engine.Digest).
func BlobDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// PutRegistryVersion stores version v of connector c with the blobs it
// names (the module and runbooks; blobs already stored may be left out),
// and c as the connector's record, all in one transaction. Nothing is
// written, and the error matches ErrExists, when the version exists
// already or the connector is owned by an owner other than c.Owner. A
// concurrent upload of the same connector fails one of the two with
// ErrConflict.
func (p *Platform) PutRegistryVersion(ctx context.Context, c RegistryConnector, v RegistryVersion, blobs [][]byte) error {
	if err := checkRegistryVersion(c, &v); err != nil {
		return err
	}
	byDigest := make(map[string][]byte, len(blobs))
	for _, b := range blobs {
		byDigest[BlobDigest(b)] = b
	}
	c.CreatedAt, c.UpdatedAt, v.UploadedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), v.UploadedAt.UTC()
	cval, err := marshal(&c)
	if err != nil {
		return invalid("connector", c.ID, err.Error())
	}
	vval, err := marshal(&v)
	if err != nil {
		return invalid("version", v.Version, err.Error())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t := p.t
	return t.db.update("put registry version", func(txn *badger.Txn) error {
		if err := checkOwner(txn, t.key(kRegConnector, c.ID), c); err != nil {
			return err
		}
		vkey := t.key(kRegVersion, c.ID, v.Version)
		switch _, err := txn.Get(vkey); {
		case err == nil:
			return fmt.Errorf("store: registry version %s@%s: %w", c.ID, v.Version, ErrExists)
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		for _, d := range v.blobDigests() {
			bkey := t.key(kRegBlob, d)
			_, err := txn.Get(bkey)
			if err == nil {
				continue // content-addressed: already stored, identical
			}
			if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			b, ok := byDigest[d]
			if !ok {
				return invalid("blobs", d, "the version names a blob that is neither given nor stored")
			}
			if err := txn.Set(bkey, b); err != nil {
				return err
			}
		}
		if err := txn.Set(vkey, vval); err != nil {
			return err
		}
		return txn.Set(t.key(kRegConnector, c.ID), cval)
	})
}

// checkOwner refuses to write the connector record over one owned by
// someone else.
func checkOwner(txn *badger.Txn, key []byte, c RegistryConnector) error {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var old RegistryConnector
	if err := item.Value(func(b []byte) error { return unmarshal(b, &old) }); err != nil {
		return err
	}
	if old.Owner != c.Owner {
		return fmt.Errorf("store: registry connector %q has another owner: %w", c.ID, ErrExists)
	}
	return nil
}

func checkRegistryVersion(c RegistryConnector, v *RegistryVersion) error {
	err := firstErr(
		checkID("connector.id", c.ID), checkName("connector.latest", c.Latest),
		checkOwnerName("connector.owner", c.Owner), checkName("version.version", v.Version),
		checkOwnerName("version.uploaded_by", v.UploadedBy),
		checkDigest("version.module_digest", v.ModuleDigest), checkDigest("version.bundle_digest", v.BundleDigest),
	)
	if err != nil {
		return err
	}
	if v.Connector != c.ID {
		return invalid("version.connector", v.Connector, "must equal the connector's id")
	}
	if len(v.Manifest) == 0 || !json.Valid(v.Manifest) {
		return invalid("version.manifest", "", "must be a JSON document")
	}
	for path, d := range v.Runbooks {
		if path == "" {
			return invalid("version.runbooks", path, "a runbook needs a path")
		}
		if err := checkDigest("version.runbooks["+path+"]", d); err != nil {
			return err
		}
	}
	return nil
}

func checkOwnerName(field, v string) error {
	if v == "" || len(v) > maxOwnerLen {
		return invalid(field, v, fmt.Sprintf("must be 1-%d bytes", maxOwnerLen))
	}
	return nil
}

// blobDigests lists the blobs v names, module first, without repeats.
func (v *RegistryVersion) blobDigests() []string {
	out := []string{v.ModuleDigest}
	paths := make([]string, 0, len(v.Runbooks))
	for p := range v.Runbooks {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if d := v.Runbooks[p]; !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// RegistryConnector returns the record of a connector; ErrNotFound if no
// version of it was ever stored.
func (p *Platform) RegistryConnector(ctx context.Context, id string) (RegistryConnector, error) {
	var c RegistryConnector
	if err := checkID("connector", id); err != nil {
		return c, err
	}
	err := p.t.getJSON(ctx, p.t.key(kRegConnector, id), "registry connector", id, &c)
	return c, err
}

// RegistryConnectors returns every connector record in id order.
func (p *Platform) RegistryConnectors(ctx context.Context) ([]RegistryConnector, error) {
	return scanRegistry[RegistryConnector](ctx, p.t, p.t.prefixOf(kRegConnector))
}

// RegistryVersion returns one version of a connector; ErrNotFound if it
// does not exist.
func (p *Platform) RegistryVersion(ctx context.Context, id, version string) (RegistryVersion, error) {
	var v RegistryVersion
	if err := firstErr(checkID("connector", id), checkName("version", version)); err != nil {
		return v, err
	}
	err := p.t.getJSON(ctx, p.t.key(kRegVersion, id, version), "registry version", id+"@"+version, &v)
	return v, err
}

// RegistryVersions returns every version of a connector in key (not
// semver) order; none, not an error, for an unknown connector.
func (p *Platform) RegistryVersions(ctx context.Context, id string) ([]RegistryVersion, error) {
	if err := checkID("connector", id); err != nil {
		return nil, err
	}
	return scanRegistry[RegistryVersion](ctx, p.t, p.t.prefixOf(kRegVersion, id))
}

// RegistryBlob returns a stored blob by digest; ErrNotFound if there is
// none. The content is checked against its digest, so a corrupted value
// is an error, never a wrong module.
func (p *Platform) RegistryBlob(ctx context.Context, digest string) ([]byte, error) {
	if err := checkDigest("digest", digest); err != nil {
		return nil, err
	}
	b, err := p.t.getBytes(ctx, p.t.key(kRegBlob, digest), "registry blob", digest)
	if err != nil {
		return nil, err
	}
	if got := BlobDigest(b); got != digest {
		return nil, fmt.Errorf("store: registry blob %s is corrupt: its content hashes to %s", digest, got)
	}
	return b, nil
}

// scanRegistry decodes every JSON record under prefix, in key order.
func scanRegistry[T any](ctx context.Context, t *Tenant, prefix []byte) ([]T, error) {
	var out []T
	err := t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, nil, false, func(item *badger.Item) (bool, error) {
			var r T
			if err := item.Value(func(b []byte) error { return unmarshal(b, &r) }); err != nil {
				return false, err
			}
			out = append(out, r)
			return true, nil
		})
	})
	return out, err
}
