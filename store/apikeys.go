package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// API key records live on the platform handle:
//
//	p/ak/{id}   APIKey, JSON.
//	p/akb       the id of the last key BootstrapAPIKey stored, as a JSON
//	            string. Bootstrap reads and writes it in its transaction,
//	            so two concurrent bootstraps conflict instead of both
//	            seeing "no admin key" and both writing one (Badger does
//	            not detect phantoms in a scanned range).
//
// testdata/golden_api pins both.
const (
	kAPIKey          = "ak/"
	kAPIKeyBootstrap = "akb"
)

// Roles of an API key.
const (
	// RoleAdmin may do everything.
	RoleAdmin = "admin"
	// RolePartner uploads and reads its own connectors (APIKey.Partner).
	RolePartner = "partner"
	// RoleTenantAdmin manages one tenant (APIKey.Tenant).
	RoleTenantAdmin = "tenant_admin"
	// RoleReviewer reads modules, manifests and certification reports.
	RoleReviewer = "reviewer"
)

// APIKey is the stored record of an API key. The key itself is never
// stored: Hash is the lower-case hex SHA-256 of it, computed by the
// caller (package api), which also generates the id.
type APIKey struct {
	ID   string `json:"id"`
	Role string `json:"role"`
	// Partner is the partner a RolePartner key acts for; empty otherwise.
	Partner string `json:"partner,omitempty"`
	// Tenant is the tenant a RoleTenantAdmin key manages; empty otherwise.
	Tenant string `json:"tenant,omitempty"`
	// Name is a free-form label for people (at most 200 bytes).
	Name      string    `json:"name,omitempty"`
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
	// RevokedAt is set once the key is revoked; a revoked key stays
	// stored so its id is never reused.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Revoked reports whether the key was revoked.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

const maxKeyLabel = 200

func validateAPIKey(k *APIKey) error {
	if err := checkName("api key id", k.ID); err != nil {
		return err
	}
	switch k.Role {
	case RoleAdmin, RoleReviewer:
		if k.Partner != "" || k.Tenant != "" {
			return invalid("api key role", k.Role, "takes neither a partner nor a tenant")
		}
	case RolePartner:
		if err := checkID("api key partner", k.Partner); err != nil {
			return err
		}
		if k.Tenant != "" {
			return invalid("api key tenant", k.Tenant, "a partner key takes no tenant")
		}
	case RoleTenantAdmin:
		if err := checkID("api key tenant", k.Tenant); err != nil {
			return err
		}
		if k.Partner != "" {
			return invalid("api key partner", k.Partner, "a tenant_admin key takes no partner")
		}
	default:
		return invalid("api key role", k.Role, "must be admin, partner, tenant_admin or reviewer")
	}
	if len(k.Name) > maxKeyLabel {
		return invalid("api key name", k.Name, "must be at most 200 bytes")
	}
	if !isSHA256Hex(k.Hash) {
		return invalid("api key hash", k.Hash, "must be 64 lower-case hex digits")
	}
	if k.CreatedAt.IsZero() {
		return invalid("api key created_at", "", "must be set")
	}
	k.CreatedAt = utc(k.CreatedAt)
	k.RevokedAt = utc(k.RevokedAt)
	return nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CreateAPIKey stores a new key. Ids are write-once: ErrExists if the id
// is taken (even by a revoked key).
func (p *Platform) CreateAPIKey(ctx context.Context, k APIKey) error {
	return p.putNewAPIKey(ctx, "create api key", k, nil)
}

// BootstrapAPIKey stores k, which must be an admin key, only if no
// unrevoked admin key exists; otherwise it returns ErrExists. It is the
// one way in to an empty store, and the way back in after every admin
// key was revoked.
func (p *Platform) BootstrapAPIKey(ctx context.Context, k APIKey) error {
	if k.Role != RoleAdmin {
		return invalid("api key role", k.Role, "a bootstrap key must be an admin key")
	}
	lock := p.t.key(kAPIKeyBootstrap)
	return p.putNewAPIKey(ctx, "bootstrap api key", k, func(txn *badger.Txn) error {
		// Read the lock so a concurrent bootstrap's write conflicts.
		if _, err := txn.Get(lock); err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		err := iterate(ctx, txn, p.t.prefixOf(kAPIKey), nil, false, func(item *badger.Item) (bool, error) {
			var old APIKey
			if err := item.Value(func(v []byte) error { return unmarshal(v, &old) }); err != nil {
				return false, err
			}
			if old.Role == RoleAdmin && !old.Revoked() {
				return false, fmt.Errorf("store: bootstrap: an active admin key exists: %w", ErrExists)
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		return txn.Set(lock, []byte(`"`+k.ID+`"`))
	})
}

// putNewAPIKey validates k and writes it if its id is free, after
// before (if any) ran in the same transaction.
func (p *Platform) putNewAPIKey(ctx context.Context, op string, k APIKey, before func(*badger.Txn) error) error {
	if err := validateAPIKey(&k); err != nil {
		return err
	}
	if k.Revoked() {
		return invalid("api key revoked_at", k.RevokedAt.String(), "a new key cannot be revoked")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	val, err := marshal(&k)
	if err != nil {
		return invalid("api key", k.ID, err.Error())
	}
	key := p.t.key(kAPIKey, k.ID)
	return p.t.db.update(op, func(txn *badger.Txn) error {
		if before != nil {
			if err := before(txn); err != nil {
				return err
			}
		}
		switch _, err := txn.Get(key); {
		case err == nil:
			return fmt.Errorf("store: api key %q: %w", k.ID, ErrExists)
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		return txn.Set(key, val)
	})
}

// APIKey returns one key record; ErrNotFound if there is none.
func (p *Platform) APIKey(ctx context.Context, id string) (APIKey, error) {
	var k APIKey
	if err := checkName("api key id", id); err != nil {
		return k, err
	}
	err := p.t.getJSON(ctx, p.t.key(kAPIKey, id), "api key", id, &k)
	return k, err
}

// APIKeys returns every key record, revoked ones included, in id order.
func (p *Platform) APIKeys(ctx context.Context) ([]APIKey, error) {
	var out []APIKey
	err := p.t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, p.t.prefixOf(kAPIKey), nil, false, func(item *badger.Item) (bool, error) {
			var k APIKey
			if err := item.Value(func(v []byte) error { return unmarshal(v, &k) }); err != nil {
				return false, err
			}
			out = append(out, k)
			return true, nil
		})
	})
	return out, err
}

// RevokeAPIKey marks a key revoked at the given time and returns the
// record. Revoking a revoked key keeps its first revocation time.
// ErrNotFound if there is no such key.
func (p *Platform) RevokeAPIKey(ctx context.Context, id string, at time.Time) (APIKey, error) {
	var k APIKey
	if err := checkName("api key id", id); err != nil {
		return k, err
	}
	if at.IsZero() {
		return k, invalid("revoked_at", "", "must be set")
	}
	if err := ctx.Err(); err != nil {
		return k, err
	}
	key := p.t.key(kAPIKey, id)
	err := p.t.db.update("revoke api key", func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return notFound("api key", id)
		}
		if err != nil {
			return err
		}
		if err := item.Value(func(v []byte) error { return unmarshal(v, &k) }); err != nil {
			return err
		}
		if k.Revoked() {
			return nil
		}
		k.RevokedAt = utc(at)
		val, err := marshal(&k)
		if err != nil {
			return err
		}
		return txn.Set(key, val)
	})
	return k, err
}
