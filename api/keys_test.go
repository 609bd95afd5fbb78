package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/store"
)

func TestKeyFormat(t *testing.T) {
	key, id, hash, err := newKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != keyLen || !strings.HasPrefix(key, "sk_"+id+"_") || hash != hashKey(key) || len(hash) != 64 {
		t.Fatalf("newKey = %q, %q, %q", key, id, hash)
	}
	if got, ok := parseKey(key); !ok || got != id {
		t.Errorf("parseKey(%q) = %q, %v", key, got, ok)
	}
	bad := []string{
		"", "sk_", key[:len(key)-1], key + "x", strings.Replace(key, "sk_", "pk_", 1),
		"sk_" + strings.ToUpper(id) + key[len("sk_")+keyIDLen:], // upper-case id
		key[:len("sk_")+keyIDLen] + "-" + key[len("sk_")+keyIDLen+1:],
		key[:len(key)-2] + "!!",
	}
	for _, b := range bad {
		if _, ok := parseKey(b); ok {
			t.Errorf("parseKey(%q) accepted", b)
		}
	}
	// The draw fails cleanly when randomness does.
	if _, _, _, err := newKey(bytes.NewReader(nil)); err == nil {
		t.Error("newKey with no randomness succeeded")
	}
}

// The whole life of a key through the API: created by an admin, shown
// once, listed without secret, usable, revoked, refused.
func TestKeyLifecycle(t *testing.T) {
	env := newEnv(t) // the server's clock is seedTime
	resp, b := env.do(t, pAdmin, "POST", "/v1/keys", "application/json", []byte(`{"role":"tenant_admin","tenant":"initech","name":"ops"}`))
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var created CreatedKey
	if err := json.Unmarshal(b, &created); err != nil {
		t.Fatal(err)
	}
	if created.Tenant != "initech" || created.Role != store.RoleTenantAdmin || !created.CreatedAt.Equal(seedTime) ||
		resp.Header.Get("Location") != "/v1/keys/"+created.ID {
		t.Fatalf("created %+v, Location %q", created, resp.Header.Get("Location"))
	}
	env.keys["new"] = created.Key
	// Stored only as a hash.
	rec, err := env.db.Platform().APIKey(context.Background(), created.ID)
	if err != nil || rec.Hash != hashKey(created.Key) || strings.Contains(rec.Hash, created.Key) {
		t.Fatalf("stored record %+v, %v", rec, err)
	}
	// Listed, never with the key or its hash.
	_, list := env.do(t, pAdmin, "GET", "/v1/keys", "", nil)
	if !strings.Contains(string(list), created.ID) || strings.Contains(string(list), created.Key) || strings.Contains(string(list), rec.Hash) {
		t.Fatalf("key list %s", list)
	}
	// It works for its tenant, and only there.
	if resp, b := env.do(t, "new", "GET", "/v1/tenants/initech/objects", "", nil); resp.StatusCode != 200 {
		t.Fatalf("new key on its tenant: %d %s", resp.StatusCode, b)
	}
	if resp, _ := env.do(t, "new", "GET", "/v1/tenants/acme/objects", "", nil); resp.StatusCode != 403 {
		t.Fatalf("new key on another tenant: %d", resp.StatusCode)
	}
	// Revoked: 401 from then on; revoking again is still 204.
	for range 2 {
		if resp, b := env.do(t, pAdmin, "DELETE", "/v1/keys/"+created.ID, "", nil); resp.StatusCode != 204 {
			t.Fatalf("revoke: %d %s", resp.StatusCode, b)
		}
	}
	resp, b = env.do(t, "new", "GET", "/v1/tenants/initech/objects", "", nil)
	if p := decodeProblem(t, resp, b); resp.StatusCode != 401 || !strings.Contains(p.Detail, "revoked") {
		t.Fatalf("revoked key: %d %+v", resp.StatusCode, p)
	}
	// A key with the right id but the wrong secret is unknown.
	forged := created.Key[:len(created.Key)-4] + "AAAA"
	env.keys["forged"] = forged
	if resp, _ := env.do(t, "forged", "GET", "/v1/keys", "", nil); resp.StatusCode != 401 {
		t.Fatalf("forged key: %d", resp.StatusCode)
	}
}

func TestBootstrap(t *testing.T) {
	env := newEnv(t)
	// newEnv made an admin key already: bootstrap refuses.
	if _, err := Bootstrap(context.Background(), env.db); !errors.Is(err, ErrBootstrapped) {
		t.Fatalf("Bootstrap with an admin key present = %v, want ErrBootstrapped", err)
	}
	for _, p := range []string{pAdmin} {
		id, _ := parseKey(env.keys[p])
		if _, err := env.db.Platform().RevokeAPIKey(context.Background(), id, seedTime); err != nil {
			t.Fatal(err)
		}
	}
	key, err := Bootstrap(context.Background(), env.db)
	if err != nil {
		t.Fatal(err)
	}
	env.keys["boot"] = key
	if resp, b := env.do(t, "boot", "GET", "/v1/keys", "", nil); resp.StatusCode != 200 {
		t.Fatalf("bootstrap key: %d %s", resp.StatusCode, b)
	}
	if _, err := Bootstrap(context.Background(), nil); err == nil {
		t.Error("Bootstrap(nil store) succeeded")
	}
}
