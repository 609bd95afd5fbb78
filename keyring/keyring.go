package keyring

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// KMS wraps and unwraps private keys (kms/local and kms/awskms provide it).
type KMS interface {
	Encrypt(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	Decrypt(ctx context.Context, ciphertext, aad []byte) ([]byte, error)
	KeyID() string
}

// Config configures a Ring.
type Config struct {
	Store *store.DB // required
	KMS   KMS       // required: wraps the private keys
	// Now is the clock of created and retired times; nil is time.Now.
	Now func() time.Time
	// Rand is the source of new keys; nil is crypto/rand.
	Rand io.Reader
	// Logger reports imports and rotations (never key material); nil
	// discards.
	Logger *slog.Logger
}

// Ring is the signing keyring. It is safe for concurrent use.
type Ring struct {
	p    *store.Platform
	kms  KMS
	now  func() time.Time
	rand io.Reader
	log  *slog.Logger

	mu      sync.Mutex
	signers map[string]*receipt.Signer // unwrapped keys by id
}

// New returns a Ring over cfg; it touches neither the store nor the KMS.
func New(cfg Config) (*Ring, error) {
	if cfg.Store == nil || cfg.KMS == nil {
		return nil, fmt.Errorf("%w: Store and KMS are required", ErrConfig)
	}
	r := &Ring{p: cfg.Store.Platform(), kms: cfg.KMS, now: cfg.Now, rand: cfg.Rand, log: cfg.Logger,
		signers: map[string]*receipt.Signer{}}
	if r.now == nil {
		r.now = time.Now
	}
	if r.rand == nil {
		r.rand = rand.Reader
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// aad binds a wrapped key to its id.
func aad(id string) []byte { return []byte("sluice/signing-key/v1\x00" + id) }

// Init makes sure the keyring has an active key. If it is empty, the key
// in legacyFile (a PEM written by receipt.LoadOrCreateKey) is imported
// and the file deleted; with no such file a new key is generated. It
// returns the active key's id. An empty legacyFile skips the import.
func (r *Ring) Init(ctx context.Context, legacyFile string) (string, error) {
	if k, err := r.p.ActiveSigningKey(ctx); err == nil {
		if legacyFile != "" {
			// A crash between the import and the delete leaves the file:
			// it is in the keyring, so only remove the clear copy.
			r.removeImported(ctx, legacyFile)
		}
		return k.ID, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	source := "generated"
	var key receipt.Key
	var err error
	if legacyFile != "" {
		if _, statErr := os.Stat(legacyFile); statErr == nil {
			data, err := os.ReadFile(legacyFile)
			if err != nil {
				return "", fmt.Errorf("keyring: import %s: %w", legacyFile, err)
			}
			if key, err = receipt.ParseKey(data); err != nil {
				return "", fmt.Errorf("keyring: import %s: %w", legacyFile, err)
			}
			source = "imported"
		} else if !errors.Is(statErr, fs.ErrNotExist) {
			return "", fmt.Errorf("keyring: import %s: %w", legacyFile, statErr)
		}
	}
	if source == "generated" {
		if key, err = receipt.GenerateKey(r.rand); err != nil {
			return "", err
		}
	}
	rec, err := r.wrap(ctx, key, source)
	if err != nil {
		return "", err
	}
	switch err := r.p.ActivateSigningKey(ctx, rec, ""); {
	case errors.Is(err, store.ErrConflict):
		// Another Init won the race; use its key.
		k, err := r.p.ActiveSigningKey(ctx)
		return k.ID, err
	case err != nil:
		return "", err
	}
	r.log.Info("keyring: first signing key", "key", rec.ID, "source", source, "kms", r.kms.KeyID())
	if source == "imported" {
		r.removeImported(ctx, legacyFile)
	}
	return rec.ID, nil
}

// removeImported deletes a legacy key file whose key the keyring holds.
func (r *Ring) removeImported(ctx context.Context, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	k, err := receipt.ParseKey(data)
	if err != nil {
		return
	}
	keys, err := r.p.SigningKeys(ctx)
	if err != nil {
		return
	}
	for _, sk := range keys {
		if sk.ID == k.ID {
			if err := os.Remove(path); err != nil {
				r.log.Warn("keyring: could not delete the imported key file", "path", path, "err", err)
			}
			return
		}
	}
}

func (r *Ring) wrap(ctx context.Context, k receipt.Key, source string) (store.SigningKey, error) {
	wrapped, err := r.kms.Encrypt(ctx, k.Private.Seed(), aad(k.ID))
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("keyring: wrap key %s: %w", k.ID, err)
	}
	return store.SigningKey{ID: k.ID, Algorithm: "ed25519", Public: k.Public(), Wrapped: wrapped,
		KMSKeyID: r.kms.KeyID(), State: store.SigningKeyActive, Source: source, CreatedAt: r.now().UTC()}, nil
}

// Rotate generates a new key, makes it active and retires the active one.
func (r *Ring) Rotate(ctx context.Context) (store.SigningKey, error) {
	cur, err := r.p.ActiveSigningKey(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return store.SigningKey{}, ErrNoKey
	}
	if err != nil {
		return store.SigningKey{}, err
	}
	if cur.KMSKeyID != r.kms.KeyID() {
		// A keyring wrapped by two KMS keys would leave a process that
		// has one of them unable to sign.
		return store.SigningKey{}, fmt.Errorf("%w: the active key is wrapped by %s, this process has %s", ErrOtherKMS, cur.KMSKeyID, r.kms.KeyID())
	}
	key, err := receipt.GenerateKey(r.rand)
	if err != nil {
		return store.SigningKey{}, err
	}
	rec, err := r.wrap(ctx, key, "generated")
	if err != nil {
		return store.SigningKey{}, err
	}
	if err := r.p.ActivateSigningKey(ctx, rec, cur.ID); err != nil {
		return store.SigningKey{}, fmt.Errorf("keyring: rotate: %w", err)
	}
	r.log.Info("keyring: signing key rotated", "key", rec.ID, "retired", cur.ID)
	return rec, nil
}

// Signer returns a Signer that signs each receipt with the key active at
// that moment.
func (r *Ring) Signer() *receipt.Signer {
	return receipt.NewFollowingSigner(func() (*receipt.Signer, error) {
		return r.active(context.Background())
	})
}

// active returns the Signer of the active key, unwrapping it once.
func (r *Ring) active(ctx context.Context) (*receipt.Signer, error) {
	rec, err := r.p.ActiveSigningKey(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoKey
	}
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	s, ok := r.signers[rec.ID]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	seed, err := r.kms.Decrypt(ctx, rec.Wrapped, aad(rec.ID))
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrUnwrap, rec.ID, err)
	}
	key, err := receipt.KeyFromSeed(seed)
	clear(seed)
	if err != nil || !key.Public().Equal(ed25519.PublicKey(rec.Public)) || key.ID != rec.ID {
		return nil, fmt.Errorf("%w %s: the unwrapped key does not match its public key", ErrUnwrap, rec.ID)
	}
	s = receipt.NewSigner(key)
	r.mu.Lock()
	r.signers[rec.ID] = s
	r.mu.Unlock()
	return s, nil
}

// Keys returns the public view of every key, oldest first.
func (r *Ring) Keys(ctx context.Context) ([]PublicKey, error) {
	return PublicKeys(ctx, r.p)
}

// KeySet returns every key of the keyring, active and retired, as
// trusted verification keys.
func (r *Ring) KeySet(ctx context.Context) (receipt.KeySet, error) {
	return KeySet(ctx, r.p)
}

// PublicKey is what anyone may know of a signing key.
type PublicKey struct {
	ID        string    `json:"id"`
	Algorithm string    `json:"algorithm"`
	Public    []byte    `json:"public"` // 32 bytes, base64 in JSON
	State     string    `json:"state"`  // active or retired
	CreatedAt time.Time `json:"created_at"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
}

// PublicKeys reads the public view of the keyring from the store, for
// callers (receipts verify) that have no KMS.
func PublicKeys(ctx context.Context, p *store.Platform) ([]PublicKey, error) {
	keys, err := p.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]PublicKey, len(keys))
	for i, k := range keys {
		out[i] = PublicKey{ID: k.ID, Algorithm: k.Algorithm, Public: k.Public, State: k.State, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt}
	}
	return out, nil
}

// KeySet reads every public key of the keyring as a receipt.KeySet; a
// stored key whose id is not its public key's id is refused.
func KeySet(ctx context.Context, p *store.Platform) (receipt.KeySet, error) {
	keys, err := PublicKeys(ctx, p)
	if err != nil {
		return nil, err
	}
	ks := receipt.KeySet{}
	for _, k := range keys {
		id, err := ks.Add(ed25519.PublicKey(k.Public))
		if err != nil {
			return nil, fmt.Errorf("keyring: key %s: %w", k.ID, err)
		}
		if id != k.ID {
			return nil, fmt.Errorf("keyring: key %s: id does not match its public key (%s)", k.ID, id)
		}
	}
	return ks, nil
}
