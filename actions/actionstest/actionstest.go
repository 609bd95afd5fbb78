// Package actionstest is the connector and connection lookup that tests
// of actions, verify checks and their API use: a natively linked
// connector whose actions write through the sandbox remote's API
// (conformance/sandbox) and whose checks read its compliance data, and
// one check that tries a write. Nothing in it is a fake of Sluice's own
// parts: runs go through the real engine, host functions, store and
// sandbox; only the connector is linked natively instead of built to
// Wasm, so its behaviour can be shaped per test.
package actionstest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/actions"
	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/store"
)

// Scopes are every scope the connector declares.
var Scopes = []string{"users:read", "groups:read", "users:write", "groups:write", "compliance:read"}

// Manifest declares grant_group (groups:write, inverse revoke_group),
// revoke_group and deactivate_user (destructive), explode (always fails
// at the remote), and the checks mfa_enforced (control IAM-MFA) and
// sneaky_write (tries a POST, then claims pass), and huge_evidence
// (passes with more evidence than a record holds).
func Manifest() *protocol.Manifest {
	var scopes []protocol.Scope
	for _, s := range Scopes {
		scopes = append(scopes, protocol.Scope{Name: s, Reason: "test"})
	}
	member := json.RawMessage(`{"type":"object","required":["user_id","group_id"],"additionalProperties":false,
		"properties":{"user_id":{"type":"string","minLength":1},"group_id":{"type":"string","minLength":1}}}`)
	return &protocol.Manifest{
		ID: "act-test", Version: "1.0.0", Types: []string{protocol.TypeIngestPull, "action", protocol.TypeVerify},
		Scopes: scopes,
		Hosts:  []protocol.HostRule{{Host: "127.0.0.1", Scheme: "http", Methods: []string{"GET", "HEAD", "POST", "DELETE"}}},
		Auth: protocol.Auth{Kind: protocol.AuthOAuth2ClientCredentials, TokenURL: "{{config:base_url}}/oauth/token",
			Scopes: []string{"account:read", "users:read", "groups:read", "memberships:read", "users:write", "groups:write", "compliance:read"}},
		Actions: []protocol.Action{
			{Name: "grant_group", Scopes: []string{"groups:write"}, Params: member, Inverse: "revoke_group"},
			{Name: "revoke_group", Destructive: true, Scopes: []string{"groups:write"}, Params: member},
			{Name: "deactivate_user", Destructive: true, Scopes: []string{"users:write"}},
			{Name: "explode", Scopes: []string{"users:write"}},
		},
		Checks: []protocol.Check{
			{Name: "mfa_enforced", Control: "IAM-MFA", Scopes: []string{"compliance:read"}},
			{Name: "sneaky_write", Control: "IAM-SNEAKY", Scopes: []string{"compliance:read"}},
			{Name: "huge_evidence", Control: "IAM-HUGE"},
		},
	}
}

// GrantParams are the parameters of grant_group and revoke_group.
func GrantParams(user, group string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"user_id":%q,"group_id":%q}`, user, group))
}

// Connector is the connector's logic.
func Connector() sdk.Connector {
	return sdk.Connector{Execute: execute, Verify: verify}
}

func execute(h *sdk.Host, req protocol.ExecuteRequest) (protocol.ExecuteResponse, error) {
	base := h.Config()["base_url"]
	var p struct {
		UserID  string `json:"user_id"`
		GroupID string `json:"group_id"`
	}
	_ = json.Unmarshal(req.Params, &p)
	var hr protocol.HTTPRequest
	switch req.Action {
	case "grant_group":
		body, _ := json.Marshal(map[string]string{"user_id": p.UserID})
		hr = protocol.HTTPRequest{Method: "POST", URL: base + "/api/v1/groups/" + p.GroupID + "/members", Body: body,
			Headers: map[string]string{"Content-Type": "application/json"}, Auth: "default"}
	case "revoke_group":
		hr = protocol.HTTPRequest{Method: "DELETE", URL: base + "/api/v1/groups/" + p.GroupID + "/members/" + p.UserID, Auth: "default"}
	case "deactivate_user":
		hr = protocol.HTTPRequest{Method: "POST", URL: base + "/api/v1/users/" + p.UserID + "/deactivate", Auth: "default"}
	default: // explode: a user that does not exist
		hr = protocol.HTTPRequest{Method: "POST", URL: base + "/api/v1/users/u-9999999/deactivate", Auth: "default"}
	}
	resp, err := h.HTTP(hr)
	if err != nil {
		return protocol.ExecuteResponse{}, err
	}
	if resp.Status/100 != 2 {
		return protocol.ExecuteResponse{}, fmt.Errorf("remote answered %d: %s", resp.Status, strings.TrimSpace(string(resp.Body)))
	}
	var ans struct {
		ChangeID string `json:"change_id"`
	}
	if err := json.Unmarshal(resp.Body, &ans); err != nil {
		return protocol.ExecuteResponse{}, err
	}
	return protocol.ExecuteResponse{RemoteChangeIDs: []string{ans.ChangeID},
		Outputs: map[string]string{"user_id": p.UserID, "correlation_seen": req.CorrelationID}}, nil
}

func verify(h *sdk.Host, req protocol.VerifyRequest) (protocol.VerifyResponse, error) {
	base := h.Config()["base_url"]
	switch req.Check {
	case "mfa_enforced":
		var rep sandbox.MFAReport
		if err := h.GetJSON(base+"/api/v1/compliance/mfa", &rep); err != nil {
			return protocol.VerifyResponse{}, err
		}
		status := protocol.VerifyPass
		if !rep.Enforced {
			status = protocol.VerifyFail
		}
		return protocol.VerifyResponse{Status: status, Evidence: map[string]string{
			"enforced": fmt.Sprint(rep.Enforced), "not_enrolled": fmt.Sprint(rep.NotEnrolled)}}, nil
	case "sneaky_write":
		_, _ = h.HTTP(protocol.HTTPRequest{Method: "POST", URL: base + "/api/v1/users/u-0000001/deactivate", Auth: "default"})
		return protocol.VerifyResponse{Status: protocol.VerifyPass, Evidence: map[string]string{"all": "good"}}, nil
	case "huge_evidence":
		ev := map[string]string{}
		for i := range 300 {
			ev[fmt.Sprint("e", i)] = "v"
		}
		return protocol.VerifyResponse{Status: protocol.VerifyPass, Evidence: ev}, nil
	}
	return protocol.VerifyResponse{}, fmt.Errorf("no check %q", req.Check)
}

// Connect makes connection id of tenant t to the sandbox at base, with
// the sandbox's client credentials and the granted scopes (nil: every
// scope of the manifest).
func Connect(eng *engine.Engine, t *store.Tenant, id, base, clientID, clientSecret string, scopes []string) (engine.Connection, error) {
	m := Manifest()
	mod, err := eng.LoadNative(m, func(ctx context.Context, tr engine.Transport, export string, in []byte) ([]byte, error) {
		return sdk.Invoke(ctx, Connector(), tr, export, in)
	})
	if err != nil {
		return engine.Connection{}, err
	}
	cfg := protocol.Config{"base_url": base}
	creds, scrub, err := eng.Credentials(m, cfg, map[string]string{"client_id": clientID, "client_secret": clientSecret})
	if err != nil {
		return engine.Connection{}, err
	}
	if scopes == nil {
		scopes = append([]string(nil), Scopes...)
	}
	return engine.Connection{Tenant: t, ID: id, Module: mod, Config: cfg, Scopes: scopes,
		Credentials: creds, Scrub: scrub, Secrets: []string{clientSecret}, AccountID: "acct"}, nil
}

// Connections is a connection lookup (actions.Connections) over
// connections made with Connect.
type Connections struct {
	mu sync.Mutex
	m  map[string]engine.Connection
}

// Add makes c findable by its tenant and id.
func (c *Connections) Add(conn engine.Connection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]engine.Connection{}
	}
	c.m[conn.Tenant.ID()+"/"+conn.ID] = conn
}

// Connection finds a connection; store.ErrNotFound if it was not added.
func (c *Connections) Connection(_ context.Context, t *store.Tenant, id string) (engine.Connection, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	conn, ok := c.m[t.ID()+"/"+id]
	if !ok {
		return conn, fmt.Errorf("connection %q: %w", id, store.ErrNotFound)
	}
	return conn, nil
}

// Submitter is what PendingRun needs of an *actions.Service.
type Submitter interface {
	Submit(ctx context.Context, t *store.Tenant, connection string, req actions.Request) (store.ActionRun, bool, error)
}

// PendingRun submits deactivate_user of u-0000001 (destructive in this
// connector and in the example directory connector) as requester
// "key:actionstest", so the run waits for approval; the connection needs
// the users:write scope. Route tests use it to have a run to approve,
// reject and read.
func PendingRun(ctx context.Context, svc Submitter, t *store.Tenant, connection string) (store.ActionRun, error) {
	run, _, err := svc.Submit(ctx, t, connection, actions.Request{Action: "deactivate_user",
		Params: json.RawMessage(`{"user_id":"u-0000001"}`), Requester: "key:actionstest"})
	if err == nil && run.State != store.ActionPendingApproval {
		err = fmt.Errorf("actionstest: run %s is %s, not pending approval", run.ID, run.State)
	}
	return run, err
}
