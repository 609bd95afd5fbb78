package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/store"
)

// An API key is "sk_" + a 16-hex-digit id + "_" + 32 random bytes in
// unpadded base64url. The id finds the record; the SHA-256 of the whole
// key is what the store keeps and what a presented key is compared with.
const (
	keyPrefix    = "sk_"
	keyIDLen     = 16
	keySecretLen = 43 // base64.RawURLEncoding of 32 bytes
	keyLen       = len(keyPrefix) + keyIDLen + 1 + keySecretLen
)

// principal is who a request acts as: the key's record, minus its hash.
type principal struct {
	KeyID   string
	Role    string
	Partner string // for store.RolePartner
	Tenant  string // for store.RoleTenantAdmin
}

// newKey draws a fresh key and returns it with its id and hash.
func newKey(r io.Reader) (key, id, hash string, err error) {
	var b [8 + 32]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", "", "", fmt.Errorf("api: draw key: %w", err)
	}
	id = hex.EncodeToString(b[:8])
	key = keyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(b[8:])
	return key, id, hashKey(key), nil
}

// hashKey is the stored form of a key: lower-case hex SHA-256.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// parseKey returns the id of a well-formed key. It checks the shape only;
// the hash comparison decides whether the key is real.
func parseKey(key string) (id string, ok bool) {
	if len(key) != keyLen || !strings.HasPrefix(key, keyPrefix) || key[len(keyPrefix)+keyIDLen] != '_' {
		return "", false
	}
	id = key[len(keyPrefix) : len(keyPrefix)+keyIDLen]
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	if _, err := base64.RawURLEncoding.DecodeString(key[len(keyPrefix)+keyIDLen+1:]); err != nil {
		return "", false
	}
	return id, true
}

// authError is a 401 naming the Authorization header.
func authError(msg string) *StatusError {
	return newProblem(http.StatusUnauthorized, msg, FieldError{Field: "header.Authorization", Message: msg})
}

// authenticate resolves the bearer key of r to its principal.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return principal{}, authError("an API key is required: Authorization: Bearer sk_…")
	}
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return principal{}, authError("the Authorization header must be: Bearer sk_…")
	}
	key = strings.TrimSpace(key)
	id, ok := parseKey(key)
	if !ok {
		return principal{}, authError("the API key is malformed")
	}
	rec, err := s.db.Platform().APIKey(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return principal{}, authError("unknown API key")
	case err != nil:
		return principal{}, fmt.Errorf("api: look up key: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(hashKey(key)), []byte(rec.Hash)) != 1 {
		return principal{}, authError("unknown API key")
	}
	if rec.Revoked() {
		return principal{}, authError("the API key was revoked")
	}
	return principal{KeyID: rec.ID, Role: rec.Role, Partner: rec.Partner, Tenant: rec.Tenant}, nil
}

type ctxKey int

const (
	principalCtx ctxKey = iota
	tenantCtx
)

func withPrincipal(ctx context.Context, p principal) context.Context {
	return context.WithValue(ctx, principalCtx, p)
}

// principalFrom returns the authenticated principal; public routes have
// none.
func principalFrom(ctx context.Context) (principal, bool) {
	p, ok := ctx.Value(principalCtx).(principal)
	return p, ok
}

func withTenant(ctx context.Context, t *store.Tenant) context.Context {
	return context.WithValue(ctx, tenantCtx, t)
}

// tenantFrom returns the tenant handle authorization resolved for this
// request: the only tenant a handler may touch.
func tenantFrom(ctx context.Context) *store.Tenant {
	t, _ := ctx.Value(tenantCtx).(*store.Tenant)
	return t
}

// Bootstrap creates the first admin key of a store and returns it; it is
// shown this once. It fails with ErrBootstrapped if an active admin key
// exists, so it is safe to call on every start.
func Bootstrap(ctx context.Context, db *store.DB) (adminKey string, err error) {
	return bootstrap(ctx, db, rand.Reader, time.Now())
}

func bootstrap(ctx context.Context, db *store.DB, r io.Reader, now time.Time) (string, error) {
	if db == nil {
		return "", errors.New("api: bootstrap: store is required")
	}
	key, id, hash, err := newKey(r)
	if err != nil {
		return "", err
	}
	err = db.Platform().BootstrapAPIKey(ctx, store.APIKey{
		ID: id, Role: store.RoleAdmin, Name: "bootstrap", Hash: hash, CreatedAt: now,
	})
	switch {
	case errors.Is(err, store.ErrExists):
		return "", ErrBootstrapped
	case err != nil:
		return "", fmt.Errorf("api: bootstrap: %w", err)
	}
	return key, nil
}

// MintKey creates an API key for a principal (role, and the partner or
// tenant it is bound to) and returns the key, shown this once; only its
// hash is stored. The demo setup and operators' tooling use it; the API's
// own POST /v1/keys goes through the same record.
func MintKey(ctx context.Context, db *store.DB, k store.APIKey) (string, error) {
	key, id, hash, err := newKey(rand.Reader)
	if err != nil {
		return "", err
	}
	k.ID, k.Hash, k.CreatedAt = id, hash, time.Now().UTC()
	if err := db.Platform().CreateAPIKey(ctx, k); err != nil {
		return "", fmt.Errorf("api: mint key: %w", err)
	}
	return key, nil
}
