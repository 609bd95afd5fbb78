package secrets

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/store"
)

// dataKey returns the tenant's unwrapped data key, from the cache or the
// store; with create, it makes one if the tenant has none.
func (v *Vault) dataKey(ctx context.Context, t *store.Tenant, create bool) (*dataKey, error) {
	id := t.ID()
	if k := v.cache.get(id); k != nil {
		return k, nil
	}
	mu := v.lock(id)
	mu.Lock()
	defer mu.Unlock()
	if k := v.cache.get(id); k != nil { // loaded while we waited
		return k, nil
	}
	k, err := v.loadDataKey(ctx, t)
	if errors.Is(err, store.ErrNotFound) {
		if !create {
			return nil, &DataKeyError{Tenant: id, Reason: "the tenant has secrets but no data key", Err: ErrNotFound}
		}
		k, err = v.createDataKey(ctx, t)
	}
	if err != nil {
		return nil, err
	}
	v.cache.put(id, k)
	return k, nil
}

// loadDataKey reads and unwraps the stored data key; a missing one is
// store.ErrNotFound, unwrapped.
func (v *Vault) loadDataKey(ctx context.Context, t *store.Tenant) (*dataKey, error) {
	rec, id, err := v.readRecord(ctx, t)
	if err != nil {
		return nil, err
	}
	plain, err := v.unwrap(ctx, t, rec)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	k, err := newDataKey(id, rec.KMS, plain)
	if err != nil {
		return nil, &DataKeyError{Tenant: t.ID(), KeyID: rec.KMS, Reason: "unwrapped key unusable", Err: err}
	}
	v.log.DebugContext(ctx, "tenant data key unwrapped", "tenant", t.ID(), "kms_key", rec.KMS, "dek", id.String())
	return k, nil
}

// readRecord reads and decodes the DEK record; store.ErrNotFound as is.
func (v *Vault) readRecord(ctx context.Context, t *store.Tenant) (dekRecord, dekID, error) {
	raw, err := t.Key(ctx, dekKeyName)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return dekRecord{}, dekID{}, err
		}
		return dekRecord{}, dekID{}, &DataKeyError{Tenant: t.ID(), Reason: "read record", Err: err}
	}
	rec, id, err := decodeDEKRecord(raw)
	if err != nil {
		return rec, id, &DataKeyError{Tenant: t.ID(), Reason: "damaged record", Err: err}
	}
	return rec, id, nil
}

// unwrap decrypts a record's data key with the KMS that wrapped it.
func (v *Vault) unwrap(ctx context.Context, t *store.Tenant, rec dekRecord) ([]byte, error) {
	k := v.kmsFor(rec.KMS)
	if k == nil {
		return nil, &DataKeyError{Tenant: t.ID(), KeyID: rec.KMS, Reason: "unwrap", Err: ErrUnknownKey}
	}
	plain, err := k.Decrypt(ctx, rec.Wrapped, dekAAD(t.ID()))
	if err != nil {
		return nil, &DataKeyError{Tenant: t.ID(), KeyID: rec.KMS, Reason: "unwrap", Err: err}
	}
	return plain, nil
}

// createDataKey makes, wraps and stores a new data key.
func (v *Vault) createDataKey(ctx context.Context, t *store.Tenant) (*dataKey, error) {
	var id dekID
	plain := make([]byte, dekSize)
	defer clear(plain)
	if _, err := rand.Read(plain); err != nil {
		return nil, &DataKeyError{Tenant: t.ID(), Reason: "generate", Err: err}
	}
	if _, err := rand.Read(id[:]); err != nil {
		return nil, &DataKeyError{Tenant: t.ID(), Reason: "generate", Err: err}
	}
	kmsID := v.kms.KeyID()
	if err := v.storeWrapped(ctx, t, v.kms, id, plain); err != nil {
		return nil, err
	}
	k, err := newDataKey(id, kmsID, plain)
	if err != nil {
		return nil, &DataKeyError{Tenant: t.ID(), Reason: "generate", Err: err}
	}
	v.log.InfoContext(ctx, "tenant data key created", "tenant", t.ID(), "kms_key", kmsID, "dek", id.String())
	return k, nil
}

// storeWrapped wraps plain with k, checks that k unwraps it again (a
// wrap nobody can unwrap must never replace a working one), and stores
// the record.
func (v *Vault) storeWrapped(ctx context.Context, t *store.Tenant, k KMS, id dekID, plain []byte) error {
	aad := dekAAD(t.ID())
	wrapped, err := k.Encrypt(ctx, plain, aad)
	if err != nil {
		return &DataKeyError{Tenant: t.ID(), KeyID: k.KeyID(), Reason: "wrap", Err: err}
	}
	back, err := k.Decrypt(ctx, wrapped, aad)
	if err != nil || !bytes.Equal(back, plain) {
		if err == nil {
			err = errors.New("the KMS returned another key")
		}
		return &DataKeyError{Tenant: t.ID(), KeyID: k.KeyID(), Reason: "check the new wrap", Err: err}
	}
	clear(back)
	rec, err := encodeDEKRecord(id, k.KeyID(), wrapped)
	if err == nil {
		err = t.PutKey(ctx, dekKeyName, rec)
	}
	if err != nil {
		return &DataKeyError{Tenant: t.ID(), KeyID: k.KeyID(), Reason: "store record", Err: err}
	}
	return nil
}

// RewrapDEK rewraps the tenant's data key with newKMS (a KMS key
// rotation). The data key and the sealed secrets do not change. The vault
// remembers newKMS, so it keeps unwrapping the key; a DEK already wrapped
// by newKMS is left alone. ErrNotFound if the tenant has no data key.
func (v *Vault) RewrapDEK(ctx context.Context, t *store.Tenant, newKMS KMS) error {
	if err := checkTenant(t); err != nil {
		return err
	}
	if newKMS == nil || newKMS.KeyID() == "" {
		return &FieldError{Field: "newKMS", Reason: "is nil or has an empty KeyID"}
	}
	mu := v.lock(t.ID())
	mu.Lock()
	defer mu.Unlock()
	rec, id, err := v.readRecord(ctx, t)
	if errors.Is(err, store.ErrNotFound) {
		return &DataKeyError{Tenant: t.ID(), Reason: "nothing to rewrap", Err: ErrNotFound}
	}
	if err != nil {
		return err
	}
	to := newKMS.KeyID()
	v.remember(newKMS)
	if rec.KMS == to {
		return nil
	}
	plain, err := v.unwrap(ctx, t, rec)
	if err != nil {
		return err
	}
	defer clear(plain)
	if err := v.storeWrapped(ctx, t, newKMS, id, plain); err != nil {
		return err
	}
	if k, err := newDataKey(id, to, plain); err == nil {
		v.cache.put(t.ID(), k)
	} else {
		v.cache.drop(t.ID())
	}
	v.log.InfoContext(ctx, "tenant data key rewrapped", "tenant", t.ID(), "from_kms_key", rec.KMS, "to_kms_key", to, "dek", id.String())
	return nil
}

// RewrapAll rewraps the data key of every tenant that has one with
// newKMS and returns how many it rewrapped or found already rewrapped.
// It stops at the first failure; running it again resumes.
func (v *Vault) RewrapAll(ctx context.Context, newKMS KMS) (int, error) {
	ids, err := v.store.Tenants(ctx)
	if err != nil {
		return 0, fmt.Errorf("secrets: list tenants: %w", err)
	}
	n := 0
	for _, id := range ids {
		t, err := v.store.Tenant(id)
		if err != nil {
			return n, storeErr(err)
		}
		err = v.RewrapDEK(ctx, t, newKMS)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// kmsFor is the KMS with the given KeyID, or nil.
func (v *Vault) kmsFor(keyID string) KMS {
	v.keysMu.RLock()
	defer v.keysMu.RUnlock()
	return v.keys[keyID]
}

func (v *Vault) remember(k KMS) {
	v.keysMu.Lock()
	defer v.keysMu.Unlock()
	if _, ok := v.keys[k.KeyID()]; !ok {
		v.keys[k.KeyID()] = k
	}
}
