package secrets

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"

	"github.com/sluicehq/sluice/store"
)

// KMS wraps and unwraps tenant data keys. kms/local and kms/awskms
// provide it.
type KMS interface {
	// Encrypt wraps plaintext, bound to aad.
	Encrypt(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	// Decrypt unwraps a ciphertext of Encrypt given the same aad.
	Decrypt(ctx context.Context, ciphertext, aad []byte) ([]byte, error)
	// KeyID names the wrapping key stably; it is stored with each
	// wrapped data key.
	KeyID() string
}

const (
	// MaxValueBytes is the largest secret value Put accepts (a PEM
	// private key or a long token fits many times over).
	MaxValueBytes = 64 << 10
	// DefaultCacheSize is the number of tenants' unwrapped data keys kept
	// in memory when Config.CacheSize is 0.
	DefaultCacheSize = 1024
)

// stripes is the number of locks that serialise loading and creating
// data keys, by tenant: two tenants rarely wait for each other, and one
// tenant's first two Puts never make two keys.
const stripes = 64

// Config configures New.
type Config struct {
	// Store holds the wrapped data keys and the sealed secrets. Required;
	// the tenant handles given to the methods must come from it.
	Store *store.DB
	// KMS wraps new data keys. Required.
	KMS KMS
	// Retired are earlier KMS keys that may still wrap some tenants' data
	// keys, during a KMS key rotation (see the package doc). Nil: none.
	Retired []KMS
	// Logger receives data-key events (created, rewrapped) at Info and
	// secret writes at Debug, by name; never a value. Nil discards.
	Logger *slog.Logger
	// CacheSize bounds the unwrapped data keys held in memory, one per
	// tenant; 0 means DefaultCacheSize.
	CacheSize int
}

// Vault seals and opens connection secrets. It is safe for concurrent
// use; make one per store (see the package doc).
type Vault struct {
	store *store.DB
	kms   KMS
	log   *slog.Logger
	cache *dekCache

	keysMu sync.RWMutex
	keys   map[string]KMS // by KeyID: Config.KMS, Retired, RewrapDEK targets

	locks [stripes]sync.Mutex
}

// New checks cfg and returns a vault. It calls no KMS and reads nothing.
func New(cfg Config) (*Vault, error) {
	switch {
	case cfg.Store == nil:
		return nil, &FieldError{Field: "config.Store", Reason: "is nil"}
	case cfg.KMS == nil || cfg.KMS.KeyID() == "":
		return nil, &FieldError{Field: "config.KMS", Reason: "is nil or has an empty KeyID"}
	case cfg.CacheSize < 0:
		return nil, &FieldError{Field: "config.CacheSize", Reason: "is negative"}
	}
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	v := &Vault{
		store: cfg.Store,
		kms:   cfg.KMS,
		log:   cfg.Logger,
		cache: newDEKCache(size),
		keys:  map[string]KMS{cfg.KMS.KeyID(): cfg.KMS},
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	for i, k := range cfg.Retired {
		if k == nil || k.KeyID() == "" {
			return nil, &FieldError{Field: fmt.Sprintf("config.Retired[%d]", i), Reason: "is nil or has an empty KeyID"}
		}
		if _, dup := v.keys[k.KeyID()]; !dup {
			v.keys[k.KeyID()] = k
		}
	}
	return v, nil
}

// Put seals value and stores it as the secret name of connection,
// replacing any previous value. It makes the tenant's data key on its
// first secret.
func (v *Vault) Put(ctx context.Context, t *store.Tenant, connection, name, value string) error {
	if err := firstErr(checkTenant(t), checkValue(value)); err != nil {
		return err
	}
	dk, err := v.dataKey(ctx, t, true)
	if err != nil {
		return err
	}
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return v.secretErr("put", t, connection, name, fmt.Errorf("nonce: %w", err))
	}
	sealed := dk.seal(nonce, binding{t.ID(), connection, name}, []byte(value))
	if err := t.PutSecret(ctx, connection, name, sealed); err != nil {
		return v.secretErr("put", t, connection, name, err)
	}
	v.log.DebugContext(ctx, "secret stored", "tenant", t.ID(), "connection", connection, "secret", name)
	return nil
}

// Rotate replaces the value of an existing secret; ErrNotFound if there
// is none (Put also creates).
func (v *Vault) Rotate(ctx context.Context, t *store.Tenant, connection, name, value string) error {
	if err := firstErr(checkTenant(t), checkValue(value)); err != nil {
		return err
	}
	if err := v.exists(ctx, "rotate", t, connection, name); err != nil {
		return err
	}
	return v.Put(ctx, t, connection, name, value)
}

// Delete removes one secret; ErrNotFound if there is none.
func (v *Vault) Delete(ctx context.Context, t *store.Tenant, connection, name string) error {
	if err := checkTenant(t); err != nil {
		return err
	}
	if err := v.exists(ctx, "delete", t, connection, name); err != nil {
		return err
	}
	if err := t.DeleteSecret(ctx, connection, name); err != nil {
		return v.secretErr("delete", t, connection, name, err)
	}
	v.log.DebugContext(ctx, "secret deleted", "tenant", t.ID(), "connection", connection, "secret", name)
	return nil
}

// DeleteConnection removes every secret of a connection (none is not an
// error). The tenant's data key stays: other connections use it.
func (v *Vault) DeleteConnection(ctx context.Context, t *store.Tenant, connection string) error {
	names, err := v.Names(ctx, t, connection)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := t.DeleteSecret(ctx, connection, name); err != nil {
			return v.secretErr("delete", t, connection, name, err)
		}
	}
	v.log.DebugContext(ctx, "connection secrets deleted", "tenant", t.ID(), "connection", connection, "count", len(names))
	return nil
}

// Names lists, sorted, the names of a connection's secrets.
func (v *Vault) Names(ctx context.Context, t *store.Tenant, connection string) ([]string, error) {
	if err := checkTenant(t); err != nil {
		return nil, err
	}
	sealed, err := t.Secrets(ctx, connection)
	if err != nil {
		return nil, storeErr(err)
	}
	return sortedKeys(sealed), nil
}

// Open returns every secret of a connection by name, for the engine to
// build the connection's credentials; an empty map if it has none. It
// returns all or nothing: if any secret fails to open, the error (one
// *SecretError per failing name, joined) and no values.
func (v *Vault) Open(ctx context.Context, t *store.Tenant, connection string) (map[string]string, error) {
	if err := checkTenant(t); err != nil {
		return nil, err
	}
	sealed, err := t.Secrets(ctx, connection)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make(map[string]string, len(sealed))
	if len(sealed) == 0 {
		return out, nil
	}
	dk, err := v.dataKey(ctx, t, false)
	if err != nil {
		return nil, err
	}
	var errs []error
	reloaded := false
	for _, name := range sortedKeys(sealed) {
		blob, err := parseSealed(sealed[name])
		if err == nil && blob.dek != dk.id && !reloaded {
			// The cached key may be stale (the record was replaced):
			// read it again, once.
			reloaded = true
			v.cache.drop(t.ID())
			if dk, err = v.dataKey(ctx, t, false); err != nil {
				return nil, err
			}
		}
		var val []byte
		if err == nil {
			val, err = dk.open(blob, binding{t.ID(), connection, name})
		}
		if err != nil {
			errs = append(errs, v.secretErr("open", t, connection, name, fmt.Errorf("%w: %w", ErrSealed, err)))
			continue
		}
		out[name] = string(val)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// exists reports ErrNotFound (as a *SecretError) for a missing secret.
func (v *Vault) exists(ctx context.Context, op string, t *store.Tenant, connection, name string) error {
	if _, err := t.Secret(ctx, connection, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = ErrNotFound
		}
		return v.secretErr(op, t, connection, name, err)
	}
	return nil
}

func (v *Vault) secretErr(op string, t *store.Tenant, connection, name string, err error) error {
	if fe := storeErr(err); fe != err {
		return fe
	}
	return &SecretError{Op: op, Tenant: t.ID(), Connection: connection, Name: name, Err: err}
}

// storeErr turns the store's validation error into a *FieldError, so a
// caller needs only this package's types to name the refused field.
func storeErr(err error) error {
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return &FieldError{Field: ve.Field, Reason: ve.Reason, Err: err}
	}
	return err
}

func checkTenant(t *store.Tenant) error {
	if t == nil {
		return &FieldError{Field: "tenant", Reason: "is nil"}
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func checkValue(value string) error {
	switch {
	case value == "":
		return &FieldError{Field: "value", Reason: "must not be empty"}
	case len(value) > MaxValueBytes:
		return &FieldError{Field: "value", Reason: fmt.Sprintf("is %d bytes, at most %d", len(value), MaxValueBytes)}
	}
	return nil
}

// lock is the stripe that serialises data-key loads of a tenant.
func (v *Vault) lock(tenant string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(tenant))
	return &v.locks[h.Sum32()%stripes]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
