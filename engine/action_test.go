package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

// nativeActions is a natively linked connector whose execute POSTs to
// the sandbox and whose verify either reads or tries to write.
func (r *rig) nativeActions(base string) engine.Connection {
	r.t.Helper()
	m := &protocol.Manifest{
		ID: "native-actions", Version: "1.0.0", Types: []string{"action", protocol.TypeVerify},
		Scopes: []protocol.Scope{{Name: "users:write", Reason: "t"}, {Name: "compliance:read", Reason: "t"}},
		Hosts:  []protocol.HostRule{{Host: "127.0.0.1", Scheme: "http", Methods: []string{"GET", "POST"}}},
		Auth: protocol.Auth{Kind: protocol.AuthOAuth2ClientCredentials, TokenURL: "{{config:base_url}}/oauth/token",
			Scopes: []string{"users:write", "compliance:read"}},
		Actions: []protocol.Action{{Name: "deactivate_user", Destructive: true, Scopes: []string{"users:write"}}},
		Checks: []protocol.Check{
			{Name: "reads", Control: "C-1", Scopes: []string{"compliance:read"}},
			{Name: "writes", Control: "C-2", Scopes: []string{"compliance:read"}},
			{Name: "bogus", Control: "C-3"},
			{Name: "needs_more", Control: "C-4", Scopes: []string{"admin:all"}},
		},
	}
	c := sdk.Connector{
		Execute: func(h *sdk.Host, req protocol.ExecuteRequest) (protocol.ExecuteResponse, error) {
			resp, err := h.HTTP(protocol.HTTPRequest{Method: "POST", URL: h.Config()["base_url"] + "/api/v1/users/u-0000002/deactivate", Auth: "default"})
			if err != nil {
				return protocol.ExecuteResponse{}, err
			}
			var ans struct {
				ChangeID string `json:"change_id"`
			}
			_ = json.Unmarshal(resp.Body, &ans)
			return protocol.ExecuteResponse{RemoteChangeIDs: []string{ans.ChangeID}, Outputs: map[string]string{"seen": req.CorrelationID}}, nil
		},
		Verify: func(h *sdk.Host, req protocol.VerifyRequest) (protocol.VerifyResponse, error) {
			base := h.Config()["base_url"]
			switch req.Check {
			case "reads":
				if _, err := h.GetBody(base + "/api/v1/compliance/mfa"); err != nil {
					return protocol.VerifyResponse{}, err
				}
				return protocol.VerifyResponse{Status: protocol.VerifyPass, Evidence: map[string]string{"k": "v"}}, nil
			case "writes":
				_, _ = h.HTTP(protocol.HTTPRequest{Method: "POST", URL: base + "/api/v1/users/u-0000002/deactivate", Auth: "default"})
				return protocol.VerifyResponse{Status: protocol.VerifyPass}, nil
			}
			return protocol.VerifyResponse{Status: "great"}, nil
		},
	}
	mod, err := r.eng.LoadNative(m, func(ctx context.Context, t engine.Transport, export string, in []byte) ([]byte, error) {
		return sdk.Invoke(ctx, c, t, export, in)
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return r.conn("acme", mod, base)
}

func TestExecuteSendsCorrelationIDAndRecordsTape(t *testing.T) {
	r := newRig(t, rigOptions{})
	sb, base := startSandbox(t, sandboxConfig(100))
	conn := r.nativeActions(base)
	res, err := r.eng.Execute(context.Background(), conn, engine.ActionRequest{Action: "deactivate_user", CorrelationID: "corr-77", RunID: "run-77"})
	if err != nil {
		t.Fatal(err)
	}
	ch := sb.Changes()
	if len(ch) != 1 || ch[0].CorrelationID != "corr-77" || res.Response.RemoteChangeIDs[0] != ch[0].ID {
		t.Fatalf("changes = %+v, response %+v", ch, res.Response)
	}
	if res.Response.Outputs["seen"] != "corr-77" {
		t.Errorf("the connector's input carried correlation id %q", res.Response.Outputs["seen"])
	}
	if res.Tape == nil || res.Tape.RunID != "run-77" || len(res.Tape.Calls) != 1 || res.Tape.Calls[0].Export != "execute" ||
		len(res.Tape.Calls[0].Exchanges) != 1 || res.Tape.Calls[0].Output == "" {
		t.Fatalf("tape = %+v", res.Tape)
	}
	b, _ := json.Marshal(res.Tape)
	if strings.Contains(string(b), clientSecret) {
		t.Fatal("the tape holds the client secret")
	}
}

func TestExecuteAndVerifyOnlyWhatIsDeclaredAndGranted(t *testing.T) {
	r := newRig(t, rigOptions{})
	sb, base := startSandbox(t, sandboxConfig(100))
	conn := r.nativeActions(base)
	ctx := context.Background()
	if _, err := r.eng.Execute(ctx, conn, engine.ActionRequest{Action: "format_disk"}); !errors.Is(err, engine.ErrNotDeclared) {
		t.Errorf("undeclared action = %v", err)
	}
	if _, err := r.eng.Verify(ctx, conn, "nope", nil, ""); !errors.Is(err, engine.ErrNotDeclared) {
		t.Errorf("undeclared check = %v", err)
	}
	if _, err := r.eng.Verify(ctx, conn, "needs_more", nil, ""); !errors.Is(err, engine.ErrScopeNotGranted) {
		t.Errorf("check without its scope = %v", err)
	}
	narrow := conn
	narrow.Scopes = []string{"compliance:read"}
	if _, err := r.eng.Execute(ctx, narrow, engine.ActionRequest{Action: "deactivate_user"}); !errors.Is(err, engine.ErrScopeNotGranted) {
		t.Errorf("action without its scope = %v", err)
	}
	if n := len(sb.Changes()); n != 0 {
		t.Fatalf("a refused call reached the remote: %d changes", n)
	}
}

func TestVerifyStatuses(t *testing.T) {
	r := newRig(t, rigOptions{})
	sb, base := startSandbox(t, sandboxConfig(100))
	conn := r.nativeActions(base)
	ctx := context.Background()
	cases := []struct {
		check, status, errorType string
		refused                  int64
	}{
		{"reads", protocol.VerifyPass, "", 0},
		{"writes", protocol.VerifyError, "egress_denied_method", 1},
		{"bogus", protocol.VerifyError, "bad_output", 0},
	}
	for _, c := range cases {
		t.Run(c.check, func(t *testing.T) {
			res, err := r.eng.Verify(ctx, conn, c.check, nil, "corr-v")
			if err != nil {
				t.Fatal(err)
			}
			if res.Response.Status != c.status || res.ErrorType != c.errorType || res.Refused != c.refused {
				t.Fatalf("result = %+v (error type %q, refused %d)", res.Response, res.ErrorType, res.Refused)
			}
		})
	}
	if n := len(sb.Changes()); n != 0 {
		t.Fatalf("a verify run changed the remote: %d changes", n)
	}
	if n := sb.Stats().Methods["POST"]; n != 0 {
		t.Fatalf("a verify run sent %d POSTs to the remote", n)
	}
}

// TestVerifyModuleThatPostsIsRefused: a verify module that tries a POST
// is refused by the host, and the check reports error, not pass (the
// Wasm defect verify-post answers pass regardless).
func TestVerifyModuleThatPostsIsRefused(t *testing.T) {
	r := newRig(t, rigOptions{})
	sb, base := startSandbox(t, sandboxConfig(100))
	mod := r.module("verify-post", nil)
	conn := r.conn("acme", mod, base)
	res, err := r.eng.Verify(context.Background(), conn, "mfa_enforced", nil, "corr-defect")
	if err != nil {
		t.Fatal(err)
	}
	if res.Response.Status != protocol.VerifyError || res.Refused != 1 || res.ErrorType != "egress_denied_method" {
		t.Fatalf("result = %+v refused %d type %q; want error", res.Response, res.Refused, res.ErrorType)
	}
	if res.Response.Evidence["module_status"] != protocol.VerifyPass {
		t.Errorf("the module's own claim is not kept as evidence: %+v", res.Response.Evidence)
	}
	ex := res.Tape.Calls[0].Exchanges
	if len(ex) != 1 || ex[0].Request.Method != "POST" || ex[0].Response.ErrorType != "denied_method" {
		t.Fatalf("tape exchanges = %+v", ex)
	}
	if n := sb.Stats().Methods["POST"]; n != 0 || len(sb.Changes()) != 0 {
		t.Fatalf("the POST reached the remote (%d POSTs, %d changes)", n, len(sb.Changes()))
	}
}

// FuzzVerifyOutput feeds arbitrary verify outputs through the host: the
// result is always pass, fail or error, and only a well-formed pass
// answer is a pass.
func FuzzVerifyOutput(f *testing.F) {
	r := newRig(f, rigOptions{})
	var out []byte
	m := &protocol.Manifest{ID: "fuzz-verify", Version: "1.0.0", Types: []string{protocol.TypeVerify},
		Checks: []protocol.Check{{Name: "c", Control: "X"}}}
	mod, err := r.eng.LoadNative(m, func(context.Context, engine.Transport, string, []byte) ([]byte, error) { return out, nil })
	if err != nil {
		f.Fatal(err)
	}
	conn := engine.Connection{Tenant: r.tenant("acme"), ID: "c1", Module: mod}
	for _, s := range []string{`{"status":"pass"}`, `{"status":"fail","evidence":{"a":"b"}}`, `{"status":"PASS"}`,
		`{"status":"pass"} {}`, `{"evidence":{"a":1}}`, `null`, ``, `{"status":"pass","evidence":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out = b
		res, err := r.eng.Verify(context.Background(), conn, "c", nil, "")
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		switch res.Response.Status {
		case protocol.VerifyPass:
			var v protocol.VerifyResponse
			if json.Unmarshal(b, &v) != nil || v.Status != protocol.VerifyPass {
				t.Fatalf("%q passed", b)
			}
		case protocol.VerifyFail, protocol.VerifyError:
		default:
			t.Fatalf("status %q from %q", res.Response.Status, b)
		}
	})
}
