package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func apiKey(id, role string) APIKey {
	k := APIKey{ID: id, Role: role, Hash: digestOf(id), CreatedAt: t0}
	switch role {
	case RolePartner:
		k.Partner = "p1"
	case RoleTenantAdmin:
		k.Tenant = "acme"
	}
	return k
}

func TestAPIKeyCreateGetList(t *testing.T) {
	ctx := context.Background()
	p := openDB(t).Platform()
	for _, k := range []APIKey{apiKey("k2", RolePartner), apiKey("k1", RoleAdmin), apiKey("k3", RoleTenantAdmin)} {
		mustNil(t, p.CreateAPIKey(ctx, k))
	}
	got, err := p.APIKey(ctx, "k3")
	mustNil(t, err)
	if got.Tenant != "acme" || got.Role != RoleTenantAdmin || got.Hash != digestOf("k3") || !got.CreatedAt.Equal(t0) {
		t.Errorf("APIKey(k3) = %+v", got)
	}
	if err := p.CreateAPIKey(ctx, apiKey("k1", RoleReviewer)); !errors.Is(err, ErrExists) {
		t.Errorf("CreateAPIKey(taken id) = %v, want ErrExists", err)
	}
	if _, err := p.APIKey(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("APIKey(missing) = %v, want ErrNotFound", err)
	}
	all, err := p.APIKeys(ctx)
	mustNil(t, err)
	var ids []string
	for _, k := range all {
		ids = append(ids, k.ID)
	}
	if strings.Join(ids, ",") != "k1,k2,k3" {
		t.Errorf("APIKeys ids = %v, want k1,k2,k3", ids)
	}
}

func TestAPIKeyValidation(t *testing.T) {
	ctx := context.Background()
	p := openDB(t).Platform()
	tests := []struct {
		name  string
		edit  func(*APIKey)
		field string
	}{
		{"bad id", func(k *APIKey) { k.ID = "a/b" }, "api key id"},
		{"unknown role", func(k *APIKey) { k.Role = "root" }, "api key role"},
		{"admin with tenant", func(k *APIKey) { k.Tenant = "acme" }, "api key role"},
		{"partner without partner", func(k *APIKey) { k.Role = RolePartner }, "api key partner"},
		{"partner with tenant", func(k *APIKey) { k.Role, k.Partner, k.Tenant = RolePartner, "p1", "acme" }, "api key tenant"},
		{"tenant admin without tenant", func(k *APIKey) { k.Role = RoleTenantAdmin }, "api key tenant"},
		{"tenant admin bad tenant", func(k *APIKey) { k.Role, k.Tenant = RoleTenantAdmin, "ACME" }, "api key tenant"},
		{"tenant admin with partner", func(k *APIKey) { k.Role, k.Tenant, k.Partner = RoleTenantAdmin, "acme", "p1" }, "api key partner"},
		{"short hash", func(k *APIKey) { k.Hash = "abc" }, "api key hash"},
		{"upper hash", func(k *APIKey) { k.Hash = strings.ToUpper(k.Hash) }, "api key hash"},
		{"no created_at", func(k *APIKey) { k.CreatedAt = time.Time{} }, "api key created_at"},
		{"long name", func(k *APIKey) { k.Name = strings.Repeat("n", 201) }, "api key name"},
		{"already revoked", func(k *APIKey) { k.RevokedAt = t0 }, "api key revoked_at"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := apiKey("k1", RoleAdmin)
			tc.edit(&k)
			err := p.CreateAPIKey(ctx, k)
			var verr *ValidationError
			if !errors.As(err, &verr) || verr.Field != tc.field {
				t.Fatalf("CreateAPIKey = %v, want a ValidationError on %q", err, tc.field)
			}
		})
	}
	if _, err := p.APIKeys(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRevokeAPIKey(t *testing.T) {
	ctx := context.Background()
	p := openDB(t).Platform()
	mustNil(t, p.CreateAPIKey(ctx, apiKey("k1", RoleReviewer)))
	k, err := p.RevokeAPIKey(ctx, "k1", t0.Add(time.Hour))
	mustNil(t, err)
	if !k.Revoked() || !k.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("revoked record = %+v", k)
	}
	// A second revocation keeps the first time.
	k, err = p.RevokeAPIKey(ctx, "k1", t0.Add(2*time.Hour))
	mustNil(t, err)
	if !k.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("second revoke moved RevokedAt to %v", k.RevokedAt)
	}
	stored, err := p.APIKey(ctx, "k1")
	mustNil(t, err)
	if !stored.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("stored RevokedAt = %v", stored.RevokedAt)
	}
	if _, err := p.RevokeAPIKey(ctx, "nope", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevokeAPIKey(missing) = %v, want ErrNotFound", err)
	}
	if _, err := p.RevokeAPIKey(ctx, "k1", time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("RevokeAPIKey(zero time) = %v, want ErrInvalid", err)
	}
}

func TestBootstrapAPIKey(t *testing.T) {
	ctx := context.Background()
	p := openDB(t).Platform()
	if err := p.BootstrapAPIKey(ctx, apiKey("r1", RoleReviewer)); !errors.Is(err, ErrInvalid) {
		t.Errorf("bootstrap with a reviewer key = %v, want ErrInvalid", err)
	}
	// Non-admin keys do not count as a way in.
	mustNil(t, p.CreateAPIKey(ctx, apiKey("r1", RoleReviewer)))
	mustNil(t, p.BootstrapAPIKey(ctx, apiKey("a1", RoleAdmin)))
	if err := p.BootstrapAPIKey(ctx, apiKey("a2", RoleAdmin)); !errors.Is(err, ErrExists) {
		t.Errorf("second bootstrap = %v, want ErrExists", err)
	}
	// Once every admin key is revoked, bootstrap is the way back in.
	_, err := p.RevokeAPIKey(ctx, "a1", t0)
	mustNil(t, err)
	mustNil(t, p.BootstrapAPIKey(ctx, apiKey("a2", RoleAdmin)))
}

// Concurrent bootstraps of an empty store: exactly one wins, whatever the
// interleaving; the others see ErrExists or ErrConflict.
func TestBootstrapAPIKeyConcurrent(t *testing.T) {
	ctx := context.Background()
	for round := range 5 {
		p := openDB(t).Platform()
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				errs[i] = p.BootstrapAPIKey(ctx, apiKey("a"+string(rune('0'+i)), RoleAdmin))
			})
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrExists), errors.Is(err, ErrConflict):
			default:
				t.Errorf("round %d: unexpected error %v", round, err)
			}
		}
		all, err := p.APIKeys(ctx)
		mustNil(t, err)
		if wins != 1 || len(all) != 1 {
			t.Fatalf("round %d: %d bootstraps won, %d keys stored; want 1 and 1", round, wins, len(all))
		}
	}
}
