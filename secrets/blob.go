package secrets

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/sluicehq/sluice/store"
)

// Seal seals value under the tenant's data key, bound to (connection,
// name), and returns the blob without storing it: for secrets that live
// inside another record (a webhook endpoint's signing secrets) and must
// stay out of the connection's credentials that [Vault.Open] hands to
// the engine. The blob has the format of a stored secret, so a blob moved
// to another tenant, connection or name does not open.
func (v *Vault) Seal(ctx context.Context, t *store.Tenant, connection, name string, value []byte) ([]byte, error) {
	if err := firstErr(checkTenant(t), checkValue(string(value))); err != nil {
		return nil, err
	}
	dk, err := v.dataKey(ctx, t, true)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, v.secretErr("seal", t, connection, name, fmt.Errorf("nonce: %w", err))
	}
	return dk.seal(nonce, binding{t.ID(), connection, name}, value), nil
}

// Unseal opens a blob of [Vault.Seal] for the same tenant, connection
// and name; a tampered or moved blob is ErrSealed.
func (v *Vault) Unseal(ctx context.Context, t *store.Tenant, connection, name string, blob []byte) ([]byte, error) {
	if err := checkTenant(t); err != nil {
		return nil, err
	}
	sb, err := parseSealed(blob)
	if err != nil {
		return nil, v.secretErr("unseal", t, connection, name, fmt.Errorf("%w: %w", ErrSealed, err))
	}
	dk, err := v.dataKey(ctx, t, false)
	if err != nil {
		return nil, err
	}
	if sb.dek != dk.id {
		v.cache.drop(t.ID()) // the cached key may be stale: read it again
		if dk, err = v.dataKey(ctx, t, false); err != nil {
			return nil, err
		}
	}
	val, err := dk.open(sb, binding{t.ID(), connection, name})
	if err != nil {
		return nil, v.secretErr("unseal", t, connection, name, fmt.Errorf("%w: %w", ErrSealed, err))
	}
	return val, nil
}
