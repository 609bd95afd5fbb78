package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Receipt signing keys (the keyring of package keyring) live on the
// platform handle:
//
//	p/sk/k/{key id}   SigningKey, JSON: the public key, the private key
//	                  wrapped by the KMS, state and times.
//	p/sk/active       the id of the active key, as a JSON string. Every
//	                  change of the active key reads and writes it in its
//	                  transaction, so two concurrent rotations conflict.
//
// testdata/golden_signingkeys pins both.
const (
	kSigningKey       = "sk/k/"
	kSigningKeyActive = "sk/active"
)

// Signing key states.
const (
	SigningKeyActive  = "active"
	SigningKeyRetired = "retired"
)

// SigningKey is a receipt signing key of the keyring. The private key is
// never stored in the clear: Wrapped is the KMS ciphertext of its 32-byte
// seed, bound to the key id.
type SigningKey struct {
	ID        string `json:"id"`        // receipt.KeyID of Public
	Algorithm string `json:"algorithm"` // "ed25519"
	Public    []byte `json:"public"`    // the 32-byte public key (base64 in JSON)
	Wrapped   []byte `json:"wrapped"`   // KMS ciphertext of the private seed
	KMSKeyID  string `json:"kms_key_id"`
	State     string `json:"state"` // SigningKeyActive or SigningKeyRetired
	// Source says where the key came from: "generated", or "imported"
	// for a key file migrated into the keyring.
	Source    string    `json:"source,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
}

func validateSigningKey(k *SigningKey) error {
	if err := checkName("signing key id", k.ID); err != nil {
		return err
	}
	switch {
	case k.Algorithm != "ed25519":
		return invalid("signing key algorithm", k.Algorithm, "must be ed25519")
	case len(k.Public) != 32:
		return invalid("signing key public", "", "must be 32 bytes")
	case len(k.Wrapped) == 0:
		return invalid("signing key wrapped", "", "must hold the wrapped private key")
	case k.KMSKeyID == "" || len(k.KMSKeyID) > maxDigestLen:
		return invalid("signing key kms_key_id", k.KMSKeyID, "must name the wrapping key")
	case k.CreatedAt.IsZero():
		return invalid("signing key created_at", "", "must be set")
	}
	k.CreatedAt, k.RetiredAt = utc(k.CreatedAt), utc(k.RetiredAt)
	return nil
}

// SigningKeys returns every key of the keyring, oldest first.
func (p *Platform) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	var out []SigningKey
	err := p.t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, p.t.prefixOf(kSigningKey), nil, false, func(item *badger.Item) (bool, error) {
			var k SigningKey
			if err := item.Value(func(v []byte) error { return unmarshal(v, &k) }); err != nil {
				return false, err
			}
			out = append(out, k)
			return true, nil
		})
	})
	slices.SortFunc(out, func(a, b SigningKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return out, err
}

// ActiveSigningKey returns the active key; ErrNotFound if the keyring is
// empty.
func (p *Platform) ActiveSigningKey(ctx context.Context) (SigningKey, error) {
	var k SigningKey
	var id string
	if err := p.t.getJSON(ctx, p.t.key(kSigningKeyActive), "active signing key", "", &id); err != nil {
		return k, err
	}
	err := p.t.getJSON(ctx, p.t.key(kSigningKey, id), "signing key", id, &k)
	return k, err
}

// ActivateSigningKey stores k as the active key and retires the one
// that was active (RetiredAt = k.CreatedAt), in one transaction. prev is
// the id the caller believes is active ("" for an empty keyring): if
// another key is active, nothing is written and the error matches
// ErrConflict, so two processes that both find an empty keyring, or both
// rotate, cannot both win. A key id already stored is ErrExists.
func (p *Platform) ActivateSigningKey(ctx context.Context, k SigningKey, prev string) error {
	k.State, k.RetiredAt = SigningKeyActive, time.Time{}
	if err := validateSigningKey(&k); err != nil {
		return err
	}
	val, err := marshal(&k)
	if err != nil {
		return invalid("signing key", k.ID, err.Error())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t := p.t
	pointer := t.key(kSigningKeyActive)
	return t.db.update("activate signing key", func(txn *badger.Txn) error {
		cur, err := readActiveID(txn, pointer)
		if err != nil {
			return err
		}
		if cur != prev {
			return fmt.Errorf("store: active signing key is %q, not %q: %w", cur, prev, ErrConflict)
		}
		key := t.key(kSigningKey, k.ID)
		if _, err := txn.Get(key); err == nil {
			return fmt.Errorf("store: signing key %q: %w", k.ID, ErrExists)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if cur != "" {
			if err := retire(txn, t.key(kSigningKey, cur), k.CreatedAt); err != nil {
				return err
			}
		}
		if err := txn.Set(key, val); err != nil {
			return err
		}
		id, _ := marshal(k.ID)
		return txn.Set(pointer, id)
	})
}

func readActiveID(txn *badger.Txn, pointer []byte) (string, error) {
	item, err := txn.Get(pointer)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var id string
	err = item.Value(func(v []byte) error { return unmarshal(v, &id) })
	return id, err
}

func retire(txn *badger.Txn, key []byte, at time.Time) error {
	item, err := txn.Get(key)
	if err != nil {
		return fmt.Errorf("store: active signing key record: %w", err)
	}
	var old SigningKey
	if err := item.Value(func(v []byte) error { return unmarshal(v, &old) }); err != nil {
		return err
	}
	old.State, old.RetiredAt = SigningKeyRetired, utc(at)
	val, err := marshal(&old)
	if err != nil {
		return err
	}
	return txn.Set(key, val)
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
