package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// writePoliciesGolden writes one tenant policy and one decision.
func writePoliciesGolden(t *testing.T, tn *Tenant) {
	t.Helper()
	ctx := context.Background()
	mustNil(t, tn.PutPolicy(ctx, TenantPolicy{Kind: "ingest", Expression: `object_type != "group" && scopes.all(s, s in granted)`,
		Digest: "sha256:" + strings.Repeat("ab", 32), UpdatedBy: "k-admin", UpdatedAt: t0}))
	mustNil(t, tn.PutDecision(ctx, PolicyDecision{ID: "dec-0123456789abcdef0123456789abcdef", Kind: "ingest",
		PolicyDigest: "sha256:" + strings.Repeat("ab", 32), InputDigest: "sha256:" + strings.Repeat("cd", 32),
		Result: "partial", Reasons: []string{"allow users/user", "deny groups/group: refused"}, CreatedAt: t0}))
}

func TestPoliciesAndDecisions(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	if _, err := tn.Policy(ctx, "ingest"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Policy before any put = %v, want ErrNotFound", err)
	}
	d := PolicyDecision{ID: "dec-1", Kind: "action", PolicyDigest: "sha256:aa", InputDigest: "sha256:bb", Result: "allow", CreatedAt: t0}
	mustNil(t, tn.PutDecision(ctx, d))
	again := d
	again.CreatedAt = t0.Add(time.Hour)
	mustNil(t, tn.PutDecision(ctx, again)) // content addressed: the first write wins
	got, err := tn.Decision(ctx, "dec-1")
	if err != nil || !got.CreatedAt.Equal(t0) || got.Reasons == nil {
		t.Fatalf("Decision = %+v (%v), want the first write with an empty reasons list", got, err)
	}
	if _, err := tn.Decision(ctx, "dec-none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing decision = %v, want ErrNotFound", err)
	}
	for name, bad := range map[string]error{
		"kind with a slash":  tn.PutPolicy(ctx, TenantPolicy{Kind: "a/b", Expression: "true", Digest: "sha256:aa"}),
		"empty expression":   tn.PutPolicy(ctx, TenantPolicy{Kind: "ingest", Digest: "sha256:aa"}),
		"huge expression":    tn.PutPolicy(ctx, TenantPolicy{Kind: "ingest", Expression: strings.Repeat("x", maxExpressionLen+1), Digest: "sha256:aa"}),
		"decision id slash":  tn.PutDecision(ctx, PolicyDecision{ID: "../x", Kind: "ingest", PolicyDigest: "p", InputDigest: "i", Result: "allow"}),
		"decision no result": tn.PutDecision(ctx, PolicyDecision{ID: "dec-2", Kind: "ingest", PolicyDigest: "p", InputDigest: "i"}),
		"bad decision read":  func() error { _, err := tn.Decision(ctx, "a/b"); return err }(),
	} {
		if !errors.Is(bad, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, bad)
		}
	}
}
