package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/sluicehq/sluice/api"
)

// want holds the expected status for each principal, in the order of
// api.Principals: admin, partner-own, partner-other, tenant_admin-own,
// tenant_admin-other, reviewer, no key, revoked key.
type want [8]int

// b403 marks a 403 the backend decides (a partner uploading a version of
// another partner's connector), as opposed to one authorization decides.
const b403 = -403

// Row shorthands: the six key-holding principals, then 401 for no key
// and for a revoked key.
func keyed(admin, pOwn, pOther, tOwn, tOther, reviewer int) want {
	return want{admin, pOwn, pOther, tOwn, tOther, reviewer, 401, 401}
}

func public(status int) want {
	return want{status, status, status, status, status, status, status, status}
}

// tenantOnly: admin and the tenant's own admin get ok; every other key 403.
func tenantOnly(ok int) want { return keyed(ok, 403, 403, ok, 403, 403) }

// request is what one principal sends on a row.
type request struct {
	path, contentType string
	body              []byte
	header            http.Header // more headers (a webhook's signature)
}

type tableRow struct {
	method, pattern string
	// req is sent as is unless prepare changes it; its path must route
	// to pattern.
	req  request
	want want
	// backend names the domain backend the route needs (a Config
	// field: "registry", "dlq"…), "" for none. Without it, every status
	// that is not an authentication or authorization refusal (401, 403)
	// becomes 501: authorization still runs first.
	backend string
	// prepare, if set, runs before each principal's request: it gives
	// the real backends the state the row needs (a connection to act on,
	// a key to revoke, an OAuth state) and returns the request to send.
	prepare func(t *testing.T, principal string, req request) request
	// check, if set, runs on a 2xx answer of the wired world: what the
	// route must have done beyond answering its status.
	check func(t *testing.T, body []byte)
}

const (
	js   = "application/json"
	conn = "/v1/tenants/{tenant}/connections/{connection}"
	crm  = "/v1/tenants/acme/connections/crm"
	ver  = "/v1/connectors/{connector}/versions/{version}"
	dir  = "/v1/connectors/directory/versions/1.0.0"
)

// tableRows is THE table: every route × every principal, one function
// per route group. Tenant routes name tenant acme; connector routes name
// connector directory, which partner p1 (partner-own) owns.
func tableRows(w *world) []tableRow {
	return slices.Concat(w.opsRows(), w.keyRows(), w.registryRows(), w.connectionRows(), w.runRows(), w.readRows(),
		w.hookRows(), w.actionRows(), w.dlqRows(), w.exportRows(), w.marketplaceRows(), w.policyRows(), w.streamRows())
}

func get(pattern, path string, wt want) tableRow {
	return tableRow{method: http.MethodGet, pattern: pattern, req: request{path: path}, want: wt}
}

func (w *world) opsRows() []tableRow {
	callback := get("/v1/oauth/callback", "/v1/oauth/callback?state=s-acme&code=c1", public(200))
	callback.backend = "connections"
	callback.prepare = func(t *testing.T, _ string, req request) request {
		if w.wired { // a fresh state for each caller: a state works once
			req.path = "/v1/oauth/callback?" + w.consent(t, "acme").Encode()
		}
		return req
	}
	return []tableRow{
		get("/healthz", "/healthz", public(200)),
		get("/readyz", "/readyz", public(200)),
		get("/metrics", "/metrics", public(200)),
		get("/v1/openapi.yaml", "/v1/openapi.yaml", public(200)),
		get("/v1/schemas/connector.json", "/v1/schemas/connector.json", public(200)),
		callback,
	}
}

func (w *world) keyRows() []tableRow {
	admin := keyed(201, 403, 403, 403, 403, 403)
	return []tableRow{
		{method: "POST", pattern: "/v1/keys", req: request{path: "/v1/keys", contentType: js, body: []byte(`{"role":"reviewer","name":"t"}`)}, want: admin},
		get("/v1/keys", "/v1/keys", keyed(200, 403, 403, 403, 403, 403)),
		{method: "DELETE", pattern: "/v1/keys/{key}", req: request{path: "/v1/keys/victim"}, want: keyed(204, 403, 403, 403, 403, 403),
			prepare: func(t *testing.T, _ string, req request) request {
				req.path = "/v1/keys/" + api.MakeVictimKey(t, w.db) // a revoked key stays revoked
				return req
			}},
	}
}

func (w *world) registryRows() []tableRow {
	catalog := keyed(200, 200, 404, 200, 200, 200)
	bundle := []byte("bundle bytes")
	if w.wired {
		bundle = w.bundle // the stored 1.0.0 again: the registry answers the stored version
	}
	rows := []tableRow{
		{method: "POST", pattern: "/v1/connectors", req: request{path: "/v1/connectors?partner=p1", contentType: "application/gzip", body: bundle},
			want: keyed(201, 201, b403, 403, 403, 403), backend: "registry",
			prepare: func(_ *testing.T, p string, req request) request {
				if p == api.PPartnerOther { // for itself: the registry refuses p1's connector
					req.path = "/v1/connectors"
				}
				return req
			}},
		get("/v1/connectors", "/v1/connectors", keyed(200, 200, 200, 200, 200, 200)),
		get("/v1/connectors/{connector}/versions", "/v1/connectors/directory/versions", catalog),
		get(ver, dir, catalog),
		get(ver+"/module", dir+"/module", keyed(200, 200, 404, 403, 403, 200)),
		get(ver+"/runbooks", dir+"/runbooks", catalog),
		get(ver+"/runbooks/{runbook}", dir+"/runbooks/rate_limited", catalog),
	}
	for i := range rows {
		rows[i].backend = "registry"
	}
	return rows
}

// connectionRows act on acme's crm, which each request finds active
// (prepare recreates it after a delete, a disable or a patch).
func (w *world) connectionRows() []tableRow {
	base, secret := "http://127.0.0.1:1", "s3cr3t-unwired"
	if w.wired {
		base, secret = w.remotes["acme"].url, w.remotes["acme"].clientSecret
	}
	create := fmt.Sprintf(`{"connector":"directory","version":"1.0.0","scopes":["users:read"],"config":{"base_url":%q},`+
		`"credentials":{"client_id":"sandbox-client","client_secret":%q}}`, base, secret)
	rows := []tableRow{
		{method: "POST", pattern: "/v1/tenants/{tenant}/connections", req: request{path: "/v1/tenants/acme/connections", contentType: js, body: []byte(create)}, want: tenantOnly(201)},
		get("/v1/tenants/{tenant}/connections", "/v1/tenants/acme/connections", tenantOnly(200)),
		get(conn, crm, tenantOnly(200)),
		{method: "PATCH", pattern: conn, req: request{path: crm, contentType: js, body: []byte(`{"interval_seconds":600,"scopes":["users:read"]}`)}, want: tenantOnly(200)},
		{method: "DELETE", pattern: conn, req: request{path: crm}, want: tenantOnly(204)},
		{method: "POST", pattern: conn + "/authorize", req: request{path: crm + "/authorize"}, want: tenantOnly(200)},
		{method: "POST", pattern: conn + "/disable", req: request{path: crm + "/disable"}, want: tenantOnly(200)},
		{method: "PUT", pattern: conn + "/secrets/{secret}", req: request{path: crm + "/secrets/client_secret", contentType: js, body: []byte(`{"value":"` + secret + `"}`)}, want: tenantOnly(200)},
		get(conn+"/health", crm+"/health", tenantOnly(200)),
		get("/v1/oauth/start", "/v1/oauth/start?tenant=acme&connection=crm", tenantOnly(200)),
	}
	return w.onCRM(rows, "connections")
}

func (w *world) runRows() []tableRow {
	rows := []tableRow{
		{method: "POST", pattern: conn + "/sync", req: request{path: crm + "/sync"}, want: tenantOnly(202)},
		{method: "POST", pattern: conn + "/backfill", req: request{path: crm + "/backfill", contentType: js, body: []byte(`{"from":"2024-01-01T00:00:00Z","to":"2024-02-01T00:00:00Z"}`)}, want: tenantOnly(202)},
		get(conn+"/runs", crm+"/runs", tenantOnly(200)),
		get(conn+"/runs/{run}", crm+"/runs/"+w.runID, tenantOnly(200)),
	}
	return w.onCRM(rows, "scheduler")
}

// onCRM marks rows as needing backend and has each request find crm
// ready.
func (w *world) onCRM(rows []tableRow, backend string) []tableRow {
	for i := range rows {
		rows[i].backend = backend
		rows[i].prepare = func(t *testing.T, _ string, req request) request {
			w.crm(t)
			return req
		}
	}
	return rows
}

// readRows read what syncs stored (seeded data when unwired): no
// backend but the store.
func (w *world) readRows() []tableRow {
	const tenant = "/v1/tenants/{tenant}"
	return []tableRow{
		get(tenant+"/objects", "/v1/tenants/acme/objects", tenantOnly(200)),
		get(tenant+"/objects/{entity_id}", "/v1/tenants/acme/objects/"+w.entity, tenantOnly(200)),
		get(tenant+"/edges", "/v1/tenants/acme/edges", tenantOnly(200)),
		get(tenant+"/lineage", "/v1/tenants/acme/lineage?entity_id="+w.entity, tenantOnly(200)),
		get(tenant+"/receipts", "/v1/tenants/acme/receipts", tenantOnly(200)),
		get(tenant+"/receipts/{receipt}", "/v1/tenants/acme/receipts/"+w.receipt, tenantOnly(200)),
		get(tenant+"/usage", "/v1/tenants/acme/usage?from="+w.day+"&to="+w.day, tenantOnly(200)),
	}
}

// expected is the status a principal gets on a row, with or without its
// domain backend.
func (r tableRow) expected(i int, wired bool) int {
	w := r.want[i]
	if !wired && r.backend != "" && w != 401 && w != 403 {
		return 501
	}
	if w < 0 {
		return -w
	}
	return w
}

// TestRouteRoleTenantTable runs every route as every principal against a
// real Server (httptest on 127.0.0.1, Badger in a temp dir), once with
// the real domain backends wired (see world) and once with none, and
// checks the status, that every error is a problem document, that every
// response matches openapi.yaml, and that no secret reaches a response
// or a log line.
func TestRouteRoleTenantTable(t *testing.T) {
	v, err := api.SpecValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, wired := range []bool{true, false} {
		t.Run(fmt.Sprintf("wired=%v", wired), func(t *testing.T) {
			w := newWorld(t, wired)
			rows := tableRows(w)
			checkRowsCoverRoutes(t, w.srv, rows)
			for _, row := range rows {
				for i, p := range api.Principals {
					runRow(t, v, w, row, i, p)
				}
			}
			if wired {
				w.settle(t)
				w.checkGlobexUntouched(t)
			}
			if strings.Contains(w.logs.String(), "s3cr3t") {
				t.Errorf("a secret value reached the log: %s", w.logs)
			}
		})
	}
}

// runRow sends one row's request as principal p (column i).
func runRow(t *testing.T, v validator.Validator, w *world, row tableRow, i int, p string) {
	t.Helper()
	if w.wired {
		w.settle(t)
	}
	r := row.req
	if row.prepare != nil {
		r = row.prepare(t, p, r)
	}
	name := fmt.Sprintf("%s %s as %s", row.method, r.path, p)
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(row.method, w.url+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if k := w.keys[p]; k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	w.noticeRun(t, resp.StatusCode, b)
	if bytes.Contains(b, []byte("s3cr3t")) {
		t.Errorf("%s: a secret value came back: %s", name, b)
	}
	if want := row.expected(i, w.has(row.backend)); resp.StatusCode != want {
		t.Errorf("%s: status %d, want %d; body %s", name, resp.StatusCode, want, b)
		return
	}
	if resp.StatusCode >= 400 {
		api.DecodeProblem(t, resp, b)
	}
	if w.wired && row.check != nil && resp.StatusCode < 300 {
		row.check(t, b)
	}
	checkAgainstSpec(t, v, name, req, resp, b)
}

// checkRowsCoverRoutes fails on a route without a row, a row whose path
// is not its pattern's, or a row for no route: a new route cannot skip
// the table.
func checkRowsCoverRoutes(t *testing.T, srv *api.Server, rows []tableRow) {
	t.Helper()
	mux := srv.Handler().(*chi.Mux)
	covered := map[string]bool{}
	for _, row := range rows {
		path, _, _ := strings.Cut(row.req.path, "?")
		if got := mux.Find(chi.NewRouteContext(), row.method, path); got != row.pattern {
			t.Errorf("row %s %s routes to %q, not %q", row.method, row.req.path, got, row.pattern)
		}
		covered[row.method+" "+row.pattern] = true
	}
	for _, rt := range api.Routes(srv) {
		if !covered[rt] {
			t.Errorf("route %s has no row in the table", rt)
		}
	}
}

// checkAgainstSpec validates one response against openapi.yaml.
func checkAgainstSpec(t *testing.T, v validator.Validator, name string, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := v.ValidateHttpResponse(req, resp); !ok {
		for _, e := range errs {
			msg := e.Message + ": " + e.Reason
			for _, se := range e.SchemaValidationErrors {
				msg += " [" + se.FieldPath + ": " + se.Reason + "]"
			}
			t.Errorf("%s: response does not match openapi.yaml: %s; body %s", name, msg, body)
		}
	}
}
