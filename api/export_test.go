package api

import (
	"context"
	"crypto/rand"
	"net/http"
	"testing"

	"github.com/sluicehq/sluice/store"
)

// The helpers below are exported for package api_test, which holds the
// tests that wire the run scheduler (internal/runs imports api, so this
// package's own tests cannot import it).

// Principals of the route table, in the order of its want columns.
const (
	PAdmin        = pAdmin
	PPartnerOwn   = pPartnerOwn
	PPartnerOther = pPartnerOther
	PTenantOwn    = pTenantOwn
	PTenantOther  = pTenantOther
	PReviewer     = pReviewer
	PNone         = pNone
	PRevoked      = pRevoked
)

// Principals lists them in column order.
var Principals = principals

// SeedTime is when the seeded data and keys were made (SeedData,
// MakeKeys).
var SeedTime = seedTime

// SyncBuffer is a goroutine-safe log sink.
type SyncBuffer = syncBuffer

// RealBackends are the domain services newRealBackends builds.
type RealBackends = realBackends

// NewRealBackends builds the real domain backends over a store in
// t.TempDir(); logger (nil discards) receives their log lines.
var NewRealBackends = newRealBackends

// SpecValidator validates requests and responses against openapi.yaml.
var SpecValidator = specValidator

// MakeKeys creates one key per principal (the revoked one revoked) and
// returns them by principal ("" for PNone).
func MakeKeys(t testing.TB, db *store.DB) map[string]string { return makeKeys(t, db) }

// SeedData writes two objects, an edge, lineage, run run-1, its signed
// receipt rcpt-1 and usage on 2025-01-01 for tenants acme and globex,
// and returns the entity id of each tenant's user.
func SeedData(t testing.TB, db *store.DB) map[string]string { return seedData(t, db).entity }

// KeyID is the id of an API key ("" for a malformed one): what the
// records of its actions name.
func KeyID(key string) string {
	id, _ := parseKey(key)
	return id
}

// Send sends a request and returns the response with its body read.
var Send = send

// DecodeProblem fails t unless b is an RFC 9457 problem document for
// resp's status.
func DecodeProblem(t testing.TB, resp *http.Response, b []byte) Problem {
	t.Helper()
	return decodeProblem(t, resp, b)
}

// MakeVictimKey creates a reviewer key straight in the store, for a test
// to revoke, and returns its id.
func MakeVictimKey(t testing.TB, db *store.DB) string {
	t.Helper()
	_, id, hash, err := newKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Platform().CreateAPIKey(context.Background(), store.APIKey{ID: id, Role: store.RoleReviewer, Hash: hash, CreatedAt: seedTime}); err != nil {
		t.Fatal(err)
	}
	return id
}

// Routes lists the server's routes as "METHOD pattern".
func Routes(s *Server) []string {
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.method + " " + rt.pattern
	}
	return out
}
