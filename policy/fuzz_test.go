package policy_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/sluicehq/sluice/policy"
)

// FuzzEvalInput: random inputs to evaluation never panic, and always
// yield a recorded decision with a known result.
func FuzzEvalInput(f *testing.F) {
	f.Add("directory", "users", "user", "users:read", "users:read", "auditor", "email", "contact", []byte(`{"a":1}`))
	f.Add("", "", "", "", "", "", "", "", []byte(`null`))
	f.Add("x\x00y", "s", "t\u2028", "a,b", "a", "admin", "f", "none", []byte(`{"a":[1,{"b":null}],"c":"\ud800"}`))
	tn := tenant(f)
	svc := policy.New(policy.Config{CostLimit: 50_000})
	for kind, expr := range map[string]string{
		policy.KindIngest:    `object_type.size() < 64 && scopes.all(s, s in granted) ? {"allow": true, "reason": stream + object_type} : {"allow": false}`,
		policy.KindAction:    `has(params.a) ? params.a == 1 : action.startsWith("x")`,
		policy.KindRedaction: `{"redact": field.matches("^e") || pii_class != "none", "rule": role}`,
	} {
		if _, err := svc.Put(ctx, tn, kind, expr, "fuzz"); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, connector, stream, typ, scope, grant, role, field, class string, params []byte) {
		res, err := svc.DecideIngest(ctx, tn, policy.IngestRequest{Connector: connector, Connection: "crm", RunKind: "sync",
			Granted: []string{grant}, Types: []policy.IngestType{{Stream: stream, ObjectType: typ, Scopes: []string{scope}}}})
		if err != nil || res.Decision.ID == "" {
			t.Fatalf("DecideIngest: %+v %v", res.Decision, err)
		}
		d, err := svc.DecideAction(ctx, tn, policy.ActionInput{Connector: connector, Action: typ, Requester: role, Params: params, Scopes: []string{scope}})
		var syn *json.SyntaxError
		var ute *json.UnmarshalTypeError
		if err != nil && !errors.As(err, &syn) && !errors.As(err, &ute) {
			t.Fatalf("DecideAction: %v", err)
		}
		if err == nil && d.Result != policy.ResultAllow && d.Result != policy.ResultDeny {
			t.Fatalf("action result %q", d.Result)
		}
		dr, _, err := svc.DecideRedaction(ctx, tn, policy.RedactionInput{Role: role, Connector: connector, ObjectType: typ, Field: field, PIIClass: class})
		if err != nil || (dr.Result != policy.ResultRedact && dr.Result != policy.ResultReveal) {
			t.Fatalf("DecideRedaction: %+v %v", dr, err)
		}
	})
}

// FuzzCompile: random expressions at save never panic; each compiles or
// is a CompileError.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{`true`, `scopes.all(s, s in granted)`, `{"allow": 1}`, `[1,2,3].map(x, x * 2)`, `((((`, `"\xff"`, `a.b.c(d)`,
		`role in ["admin"] ? {"redact": false} : {"redact": true, "reason": role}`, `size(params) > 2`, `1/0 == 1`} {
		f.Add(s)
	}
	svc := policy.New(policy.Config{})
	f.Fuzz(func(t *testing.T, expr string) {
		for _, kind := range policy.Kinds() {
			err := svc.Check(kind, expr)
			var ce *policy.CompileError
			if err != nil && !errors.As(err, &ce) {
				t.Fatalf("Check(%s, %q) = %v, want nil or a CompileError", kind, expr, err)
			}
		}
	})
}
