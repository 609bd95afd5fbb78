package policy_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/store"
)

func tenant(t testing.TB) *store.Tenant {
	t.Helper()
	db, err := store.Open(store.Options{Dir: t.TempDir(), ValueLogFileSize: 16 << 20, MemTableSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	tn, err := db.Tenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

var ctx = context.Background()

// TestDefaults: each kind's built-in default decides as package policy
// documents it, and every decision is recorded.
func TestDefaults(t *testing.T) {
	tn := tenant(t)
	svc := policy.New(policy.Config{})
	ingest := []struct {
		name           string
		scopes, grants []string
		want           string
	}{
		{"scopes granted", []string{"users:read"}, []string{"users:read", "groups:read"}, policy.ResultAllow},
		{"no scopes needed", nil, nil, policy.ResultAllow},
		{"scope missing", []string{"users:read", "groups:read"}, []string{"users:read"}, policy.ResultDeny},
	}
	for _, tc := range ingest {
		t.Run("ingest/"+tc.name, func(t *testing.T) {
			res, err := svc.DecideIngest(ctx, tn, policy.IngestRequest{Connector: "directory", Connection: "crm", RunKind: "sync",
				Granted: tc.grants, Types: []policy.IngestType{{Stream: "users", ObjectType: "user", Scopes: tc.scopes}}})
			if err != nil || res.Decision.Result != tc.want || res.Policy.Source != policy.SourceDefault {
				t.Fatalf("DecideIngest = %+v (%v), want %s by the default", res.Decision, err, tc.want)
			}
			stored, err := tn.Decision(ctx, res.Decision.ID)
			if err != nil || stored.Result != tc.want || stored.PolicyDigest != res.Policy.Digest || !strings.HasPrefix(stored.InputDigest, "sha256:") {
				t.Fatalf("stored decision = %+v (%v)", stored, err)
			}
		})
	}
	t.Run("action allowed", func(t *testing.T) {
		d, err := svc.DecideAction(ctx, tn, policy.ActionInput{Action: "revoke_group", Destructive: true, Params: []byte(`{"user_id":"u1"}`)})
		if err != nil || d.Result != policy.ResultAllow {
			t.Fatalf("DecideAction = %+v (%v), want allow", d, err)
		}
	})
	redaction := []struct {
		role, class string
		redact      bool
		rule        string
	}{
		{"auditor", "none", false, "default/no-pii"},
		{"auditor", "contact", true, "default/no-pii-rights"},
		{"auditor", "identifier", true, "default/no-pii-rights"},
		{"auditor", "sensitive", true, "default/no-pii-rights"},
		{"auditor", "credential", true, "default/no-pii-rights"},
		{"auditor", "", true, "default/no-pii-rights"}, // unclassified: the safe side
		{"admin", "contact", false, "default/pii-rights"},
		{"pii", "sensitive", false, "default/pii-rights"},
	}
	for _, tc := range redaction {
		t.Run("redaction/"+tc.role+"/"+tc.class, func(t *testing.T) {
			d, v, err := svc.DecideRedaction(ctx, tn, policy.RedactionInput{Role: tc.role, Connector: "directory", ObjectType: "user", Field: "email", PIIClass: tc.class})
			want := policy.ResultReveal
			if tc.redact {
				want = policy.ResultRedact
			}
			if err != nil || v.Redact != tc.redact || v.Rule != tc.rule || d.Result != want || (tc.redact && v.Reason == "") {
				t.Fatalf("DecideRedaction = %+v %+v (%v), want redact=%v rule %s", d, v, err, tc.redact, tc.rule)
			}
		})
	}
}

// TestTenantPolicy: a saved policy replaces the default, decides, and the
// same evaluation is one decision record.
func TestTenantPolicy(t *testing.T) {
	tn := tenant(t)
	svc := policy.New(policy.Config{Now: func() time.Time { return time.Unix(1700000000, 0) }})
	p, err := svc.Put(ctx, tn, policy.KindIngest, `object_type != "group" && scopes.all(s, s in granted)`, "k-admin")
	if err != nil || p.Source != policy.SourceTenant || p.Digest != policy.Digest(policy.KindIngest, p.Expression) {
		t.Fatalf("Put = %+v (%v)", p, err)
	}
	req := policy.IngestRequest{Connector: "directory", Connection: "crm", RunKind: "sync", Granted: []string{"users:read", "groups:read"},
		Types: []policy.IngestType{{Stream: "users", ObjectType: "user", Scopes: []string{"users:read"}}, {Stream: "groups", ObjectType: "group", Scopes: []string{"groups:read"}}}}
	res, err := svc.DecideIngest(ctx, tn, req)
	if err != nil || res.Decision.Result != policy.ResultPartial || !res.Allowed("users") || res.Allowed("groups") || res.Decision.PolicyDigest != p.Digest {
		t.Fatalf("DecideIngest = %+v (%v), want partial: users allowed, groups refused", res, err)
	}
	again, err := policy.New(policy.Config{}).DecideIngest(ctx, tn, req)
	if err != nil || again.Decision.ID != res.Decision.ID {
		t.Fatalf("the same evaluation made decision %s, then %s (%v)", res.Decision.ID, again.Decision.ID, err)
	}
	// The defaults-only service ignores the tenant's policy.
	if b, err := policy.Builtin().DecideIngest(ctx, tn, req); err != nil || b.Decision.Result != policy.ResultAllow {
		t.Fatalf("Builtin = %+v (%v), want allow", b.Decision, err)
	}
	eff, err := svc.Effective(ctx, tn)
	if err != nil || len(eff) != 3 || eff[0].Source != policy.SourceTenant || eff[1].Source != policy.SourceDefault || eff[2].Source != policy.SourceDefault {
		t.Fatalf("Effective = %+v (%v)", eff, err)
	}
	// A map result with a reason, for actions.
	if _, err := svc.Put(ctx, tn, policy.KindAction, `destructive && requester == "k-intern" ? {"allow": false, "rule": "no-intern", "reason": "interns may not run destructive actions"} : {"allow": true}`, "k-admin"); err != nil {
		t.Fatal(err)
	}
	d, err := svc.DecideAction(ctx, tn, policy.ActionInput{Action: "revoke_group", Destructive: true, Requester: "k-intern"})
	if err != nil || d.Result != policy.ResultDeny || len(d.Reasons) != 1 || !strings.Contains(d.Reasons[0], "interns may not") || !strings.Contains(d.Reasons[0], "no-intern") {
		t.Fatalf("DecideAction = %+v (%v), want deny with the policy's reason", d, err)
	}
	if d, err := svc.DecideAction(ctx, tn, policy.ActionInput{Action: "revoke_group", Destructive: true, Requester: "k-bob"}); err != nil || d.Result != policy.ResultAllow {
		t.Fatalf("DecideAction for bob = %+v (%v), want allow", d, err)
	}
}

// TestBadExpressionRefused: nothing that does not compile is saved, and
// the error carries the compiler's message.
func TestBadExpressionRefused(t *testing.T) {
	tn := tenant(t)
	svc := policy.New(policy.Config{})
	for _, tc := range []struct{ kind, expr, msg string }{
		{policy.KindIngest, `scopes.all(s, s in granted`, "Syntax error"},
		{policy.KindIngest, `no_such_variable == 1`, "undeclared reference to 'no_such_variable'"},
		{policy.KindAction, `approvers == "two"`, "no matching overload"},
		{policy.KindRedaction, `"a string"`, "must be a bool or a map"},
		{policy.KindRedaction, `   `, "empty"},
		{policy.KindIngest, strings.Repeat("true && ", 3000) + "true", "longer than"},
	} {
		_, err := svc.Put(ctx, tn, tc.kind, tc.expr, "k")
		var ce *policy.CompileError
		if !errors.As(err, &ce) || !errors.Is(err, policy.ErrCompile) || !strings.Contains(ce.Message, tc.msg) {
			t.Errorf("Put(%s, %.40q) = %v, want a CompileError containing %q", tc.kind, tc.expr, err, tc.msg)
		}
	}
	if _, err := tn.Policy(ctx, policy.KindIngest); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused expression was saved: %v", err)
	}
	if err := svc.Check("nope", "true"); !errors.Is(err, policy.ErrUnknownKind) {
		t.Fatalf("Check(unknown kind) = %v", err)
	}
}

// TestCostLimit: an expression whose evaluation explodes is stopped by
// CEL's cost limit; the type is refused and the decision says why.
func TestCostLimit(t *testing.T) {
	tn := tenant(t)
	svc := policy.New(policy.Config{CostLimit: 100_000})
	expensive := `granted.all(a, granted.all(b, granted.all(c, a + b + c != "")))`
	if _, err := svc.Put(ctx, tn, policy.KindIngest, expensive, "k"); err != nil {
		t.Fatal(err)
	}
	granted := make([]string, 300) // 300³ = 2.7e7 iterations without the limit
	for i := range granted {
		granted[i] = "scope:" + strconv.Itoa(i)
	}
	start := time.Now()
	res, err := svc.DecideIngest(ctx, tn, policy.IngestRequest{Connector: "c", Connection: "crm", RunKind: "sync", Granted: granted,
		Types: []policy.IngestType{{Stream: "users", ObjectType: "user"}}})
	if err != nil || res.Decision.Result != policy.ResultDeny || !strings.Contains(strings.Join(res.Decision.Reasons, " "), "cost limit") {
		t.Fatalf("DecideIngest = %+v (%v), want deny by the cost limit", res.Decision, err)
	}
	t.Logf("stopped after %v", time.Since(start)) // informational; no timed assertion
}
