package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/actions"
	"github.com/sluicehq/sluice/actions/actionstest"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// actionsEnv is the API over a real store, engine, signer and actions
// service, with connections of tenant acme to a sandbox remote on
// 127.0.0.1: "dir" granted every scope, "narrow" only the read scopes.
// ActionsEnv (below) lets other tests of the package make a pending run.
type actionsEnv struct {
	db    *store.DB
	url   string
	keys  map[string]string
	sb    *sandbox.Server
	svc   *actions.Service
	key   receipt.Key
	now   time.Time
	nowMu sync.Mutex
}

const (
	sbClientID     = "sandbox-client"
	sbClientSecret = "sandbox-secret-for-actions"
)

func newActionsEnv(t *testing.T) *actionsEnv {
	t.Helper()
	db, err := store.Open(store.Options{Dir: t.TempDir(), ValueLogFileSize: 16 << 20, MemTableSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer := receipt.NewSigner(key)
	eng, err := engine.New(engine.Config{Store: db, Signer: signer, AllowPrivateNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	sb := sandbox.New(sandbox.Config{Users: 100, ClientID: sbClientID, ClientSecret: sbClientSecret})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	e := &actionsEnv{db: db, sb: sb, key: key, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	conns := &actionstest.Connections{}
	acme, _ := db.Tenant("acme")
	for id, scopes := range map[string][]string{"dir": nil, "narrow": {"users:read", "groups:read"}} {
		c, err := actionstest.Connect(eng, acme, id, base, sbClientID, sbClientSecret, scopes)
		if err != nil {
			t.Fatal(err)
		}
		conns.Add(c)
	}
	e.svc, err = actions.New(actions.Config{Store: db, Engine: eng, Connections: conns, Signer: signer, Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Store: db, Engine: eng, Actions: e.svc})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e.url = ts.URL
	e.keys = api.MakeKeys(t, db)
	return e
}

func (e *actionsEnv) clock() time.Time {
	e.nowMu.Lock()
	defer e.nowMu.Unlock()
	return e.now
}

// call sends one request as principal ("admin", "tenant_admin-own"…).
func (e *actionsEnv) call(t *testing.T, principal, method, path string, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if k := e.keys[principal]; k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return api.Send(t, req)
}

const dirActions = "/v1/tenants/acme/connections/dir/actions"

func decodeRun(t *testing.T, b []byte) api.ActionRun {
	t.Helper()
	var r api.ActionRun
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return r
}

// wantProblem checks a problem's status and that it names field.
func wantProblem(t *testing.T, resp *http.Response, b []byte, status int, field string) api.Problem {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, b)
	}
	p := api.DecodeProblem(t, resp, b)
	for _, f := range p.Errors {
		if f.Field == field {
			return p
		}
	}
	t.Fatalf("problem does not name %s: %s", field, b)
	return p
}

// PendingRevoke grants a membership, then submits (as admin) its
// destructive revoke, which waits for approval; it returns the run.
func (e *actionsEnv) PendingRevoke(t *testing.T) api.ActionRun {
	t.Helper()
	params := `"params":{"user_id":"u-0000007","group_id":"g-00003"}`
	if resp, b := e.call(t, "admin", "POST", dirActions, `{"action":"grant_group",`+params+`}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("grant: %d %s", resp.StatusCode, b)
	}
	resp, b := e.call(t, "admin", "POST", dirActions, `{"action":"revoke_group",`+params+`}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("revoke: %d %s", resp.StatusCode, b)
	}
	run := decodeRun(t, b)
	if run.State != store.ActionPendingApproval || resp.Header.Get("Location") != run.Href {
		t.Fatalf("revoke run = %+v, Location %q", run, resp.Header.Get("Location"))
	}
	return run
}

func TestActionAPISelfApprovalIsForbidden(t *testing.T) {
	e := newActionsEnv(t)
	run := e.PendingRevoke(t)
	if n := len(e.sb.Changes()); n != 1 {
		t.Fatalf("the destructive action reached the remote before approval: %d changes", n)
	}
	resp, b := e.call(t, "admin", "POST", run.Href+"/approve", "")
	wantProblem(t, resp, b, http.StatusForbidden, "header.Authorization")
	if n := len(e.sb.Changes()); n != 1 {
		t.Fatalf("self-approval executed the action: %d changes", n)
	}
	resp, b = e.call(t, "tenant_admin-own", "POST", run.Href+"/approve", "{}")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("approve by another key: %d %s", resp.StatusCode, b)
	}
	done := decodeRun(t, b)
	if done.State != store.ActionSucceeded || len(done.Approvals) != 1 || !strings.HasPrefix(done.Approvals[0].By, "key:") || done.Approvals[0].By == run.Requester {
		t.Fatalf("approved run = %+v", done)
	}
	ch := e.sb.Changes()
	if len(ch) != 2 || ch[1].CorrelationID != run.CorrelationID {
		t.Fatalf("changes = %+v", ch)
	}
	resp, b = e.call(t, "tenant_admin-own", "POST", run.Href+"/approve", "")
	wantProblem(t, resp, b, http.StatusConflict, "path.run")
	// Another tenant's admin cannot reach the run at all.
	resp, b = e.call(t, "tenant_admin-other", "POST", run.Href+"/approve", "")
	wantProblem(t, resp, b, http.StatusForbidden, "path.tenant")
}

func TestActionAPIRejectSignsRejectedReceipt(t *testing.T) {
	e := newActionsEnv(t)
	run := e.PendingRevoke(t)
	resp, b := e.call(t, "tenant_admin-own", "POST", run.Href+"/reject", `{"reason":"change freeze"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reject: %d %s", resp.StatusCode, b)
	}
	rej := decodeRun(t, b)
	if rej.State != store.ActionRejected || rej.ReceiptID == "" {
		t.Fatalf("rejected run = %+v", rej)
	}
	acme, _ := e.db.Tenant("acme")
	rc, err := acme.Receipt(context.Background(), rej.ReceiptID)
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := receipt.NewKeySet(e.key.Public())
	v, err := receipt.Verify(rc.Envelope, ks)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Action()
	if err != nil || p.Status != receipt.ActionRejected || !strings.Contains(p.Error.Message, "change freeze") {
		t.Fatalf("receipt = %+v, %v", p, err)
	}
	resp, b = e.call(t, "admin", "POST", run.Href+"/reject", `{"reason":"`+strings.Repeat("x", 2000)+`"}`)
	wantProblem(t, resp, b, http.StatusUnprocessableEntity, "body.reason")
}

func TestActionAPIIdempotencyKey(t *testing.T) {
	e := newActionsEnv(t)
	body := `{"action":"grant_group","params":{"user_id":"u-0000007","group_id":"g-00003"}}`
	resp, b := e.call(t, "admin", "POST", dirActions, body, "Idempotency-Key", "order-1")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("first: %d %s", resp.StatusCode, b)
	}
	first := decodeRun(t, b)
	resp, b = e.call(t, "admin", "POST", dirActions, body, "Idempotency-Key", "order-1")
	if resp.StatusCode != http.StatusOK || decodeRun(t, b).ID != first.ID {
		t.Fatalf("repeat: %d %s; want 200 with run %s", resp.StatusCode, b, first.ID)
	}
	if n := len(e.sb.Changes()); n != 1 {
		t.Fatalf("the repeat ran the action again: %d changes", n)
	}
	resp, b = e.call(t, "admin", "POST", dirActions, `{"action":"grant_group","params":{"user_id":"u-0000008","group_id":"g-00003"}}`, "Idempotency-Key", "order-1")
	wantProblem(t, resp, b, http.StatusUnprocessableEntity, "header.Idempotency-Key")
	resp, b = e.call(t, "admin", "POST", dirActions, body, "Idempotency-Key", "has space")
	wantProblem(t, resp, b, http.StatusUnprocessableEntity, "header.Idempotency-Key")
}

func TestActionAPIPreflightRefusal(t *testing.T) {
	e := newActionsEnv(t)
	path := "/v1/tenants/acme/connections/narrow/actions"
	resp, b := e.call(t, "admin", "POST", path, `{"action":"grant_group","params":{"user_id":"u-0000007","group_id":"g-00003"}}`)
	p := wantProblem(t, resp, b, http.StatusForbidden, "body.action")
	if !strings.Contains(string(b), "groups:write") || !strings.Contains(p.Detail, "receipt") {
		t.Fatalf("problem = %s", b)
	}
	if len(e.sb.Changes()) != 0 {
		t.Fatal("a refused action reached the remote")
	}
	resp, b = e.call(t, "admin", "GET", path, "")
	var page struct{ Items []api.ActionRun }
	if err := json.Unmarshal(b, &page); err != nil || resp.StatusCode != 200 || len(page.Items) != 1 || page.Items[0].State != store.ActionRejected || page.Items[0].Preflight.Allowed {
		t.Fatalf("list = %d %s", resp.StatusCode, b)
	}
}

func TestActionAPIRefusesBadInput(t *testing.T) {
	e := newActionsEnv(t)
	cases := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"no action", "POST", dirActions, `{}`, 422, "body.action"},
		{"unknown field", "POST", dirActions, `{"action":"grant_group","force":true}`, 400, "body.force"},
		{"ttl not a duration", "POST", dirActions, `{"action":"grant_group","ttl":"soon"}`, 422, "body.ttl"},
		{"ttl negative", "POST", dirActions, `{"action":"grant_group","ttl":-5}`, 422, "body.ttl"},
		{"params an array", "POST", dirActions, `{"action":"grant_group","params":[1]}`, 422, "body.params"},
		{"params against schema", "POST", dirActions, `{"action":"grant_group","params":{"user_id":"u"}}`, 422, "body.params"},
		{"undeclared action", "POST", dirActions, `{"action":"format_disk"}`, 422, "body.action"},
		{"ttl without inverse", "POST", dirActions, `{"action":"deactivate_user","ttl":"1h"}`, 422, "body.ttl"},
		{"unknown connection", "POST", "/v1/tenants/acme/connections/nope/actions", `{"action":"grant_group"}`, 404, "path.connection"},
		{"unknown run", "GET", dirActions + "/0190a000-0000-7000-8000-000000000000", "", 404, "path.run"},
		{"malformed run", "POST", dirActions + "/a%2Fb/approve", "", 404, "path.run"},
		{"approve body not empty", "POST", dirActions + "/x/approve", `{"force":1}`, 400, "body.force"},
		{"list bad limit", "GET", dirActions + "?limit=0", "", 422, "query.limit"},
		{"list unknown connection", "GET", "/v1/tenants/acme/connections/nope/actions", "", 404, "path.connection"},
		{"policy 3 approvers", "PUT", "/v1/tenants/acme/action-policy", `{"required_approvals":3}`, 422, "body.required_approvals"},
		{"policy empty denied", "PUT", "/v1/tenants/acme/action-policy", `{"required_approvals":1,"denied":[""]}`, 422, "body.denied[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, b := e.call(t, "admin", c.method, c.path, c.body)
			wantProblem(t, resp, b, c.status, c.field)
		})
	}
}

func TestActionPolicyAPITwoApprovers(t *testing.T) {
	e := newActionsEnv(t)
	resp, b := e.call(t, "tenant_admin-own", "GET", "/v1/tenants/acme/action-policy", "")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"required_approvals":1`) {
		t.Fatalf("default policy: %d %s", resp.StatusCode, b)
	}
	resp, b = e.call(t, "tenant_admin-own", "PUT", "/v1/tenants/acme/action-policy", `{"required_approvals":2,"denied":["explode"]}`)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"updated_by":"key:`) {
		t.Fatalf("put policy: %d %s", resp.StatusCode, b)
	}
	run := e.PendingRevoke(t)
	if run.Preflight.RequiredApprovals != 2 {
		t.Fatalf("required approvals = %d", run.Preflight.RequiredApprovals)
	}
	resp, b = e.call(t, "tenant_admin-own", "POST", run.Href+"/approve", "")
	if resp.StatusCode != 200 || decodeRun(t, b).State != store.ActionPendingApproval {
		t.Fatalf("first approval: %d %s", resp.StatusCode, b)
	}
	resp, b = e.call(t, "tenant_admin-own", "POST", run.Href+"/approve", "")
	wantProblem(t, resp, b, http.StatusConflict, "header.Authorization")
	if len(e.sb.Changes()) != 1 {
		t.Fatal("executed with one of two approvals")
	}
	resp, b = e.call(t, "admin", "POST", "/v1/tenants/acme/connections/dir/actions", `{"action":"explode"}`)
	wantProblem(t, resp, b, http.StatusForbidden, "body.action")
}

func TestChecksAPI(t *testing.T) {
	e := newActionsEnv(t)
	checks := "/v1/tenants/acme/connections/dir/checks/"
	resp, b := e.call(t, "admin", "POST", checks+"sneaky_write/run", "")
	var ev store.Evidence
	if err := json.Unmarshal(b, &ev); err != nil || resp.StatusCode != 201 || ev.Status != "error" || ev.Refused != 1 {
		t.Fatalf("sneaky_write: %d %s", resp.StatusCode, b)
	}
	if len(e.sb.Changes()) != 0 {
		t.Fatal("a verify run wrote to the remote")
	}
	resp, b = e.call(t, "admin", "POST", checks+"mfa_enforced/run", `{"params":{}}`)
	if err := json.Unmarshal(b, &ev); err != nil || resp.StatusCode != 201 || ev.Status != "pass" || ev.Control != "IAM-MFA" {
		t.Fatalf("mfa_enforced: %d %s", resp.StatusCode, b)
	}
	resp, b = e.call(t, "admin", "GET", "/v1/tenants/acme/connections/dir/evidence?control=IAM-MFA", "")
	if resp.StatusCode != 200 || strings.Count(string(b), `"control":"IAM-MFA"`) != 1 || strings.Contains(string(b), "IAM-SNEAKY") {
		t.Fatalf("evidence: %d %s", resp.StatusCode, b)
	}
	for _, c := range []struct {
		method, path, body string
		status             int
		field              string
	}{
		{"POST", checks + "nope/run", "", 404, "path.check"},
		{"POST", "/v1/tenants/acme/connections/narrow/checks/mfa_enforced/run", "", 403, "path.check"},
		{"POST", checks + "mfa_enforced/run", `{"params":[1]}`, 422, "body.params"},
		{"PUT", checks + "mfa_enforced/schedule", `{"interval_seconds":30}`, 422, "body.interval_seconds"},
		{"PUT", checks + "mfa_enforced/schedule", `{"interval_seconds":0}`, 422, "body.interval_seconds"},
		{"GET", checks + "mfa_enforced/schedule", "", 404, "path.check"},
		{"GET", "/v1/tenants/acme/connections/dir/evidence?after=bogus", "", 422, "query.after"},
		{"GET", "/v1/tenants/acme/connections/nope/evidence", "", 404, "path.connection"},
	} {
		resp, b := e.call(t, "admin", c.method, c.path, c.body)
		wantProblem(t, resp, b, c.status, c.field)
	}
	resp, b = e.call(t, "admin", "PUT", checks+"mfa_enforced/schedule", `{"interval_seconds":3600}`)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"interval_seconds":3600`) {
		t.Fatalf("put schedule: %d %s", resp.StatusCode, b)
	}
	if resp, b = e.call(t, "admin", "GET", checks+"mfa_enforced/schedule", ""); resp.StatusCode != 200 {
		t.Fatalf("get schedule: %d %s", resp.StatusCode, b)
	}
	if resp, b = e.call(t, "admin", "DELETE", checks+"mfa_enforced/schedule", ""); resp.StatusCode != 204 {
		t.Fatalf("delete schedule: %d %s", resp.StatusCode, b)
	}
}

func TestActionRoutesNotWired(t *testing.T) {
	db, err := store.Open(store.Options{Dir: t.TempDir(), ValueLogFileSize: 16 << 20, MemTableSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	srv, err := api.New(api.Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	keys := api.MakeKeys(t, db)
	req, _ := http.NewRequest("POST", ts.URL+dirActions, bytes.NewReader([]byte(`{"action":"x"}`)))
	req.Header.Set("Authorization", "Bearer "+keys["admin"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("unwired actions: %d, want 501", resp.StatusCode)
	}
}
