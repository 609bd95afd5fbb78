package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/sluicehq/sluice/store"
)

// want holds the expected status for each principal, in the order of
// principals: admin, partner-own, partner-other, tenant_admin-own,
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

type tableRow struct {
	method, pattern, path string
	contentType           string
	body                  string
	want                  want
	// backend: the route needs a domain backend. Without one, every
	// status that is not an authentication or authorization refusal
	// (401, 403) becomes 501: authorization still runs first.
	backend bool
}

// tableRows is THE table: every route × every principal. Tenant routes
// name tenant acme; connector routes name connector directory, which
// partner p1 (partner-own) owns.
func tableRows(env *testEnv, victimKeyID string) []tableRow {
	const (
		conn = "/v1/tenants/{tenant}/connections/{connection}"
		crm  = "/v1/tenants/acme/connections/crm"
		ver  = "/v1/connectors/{connector}/versions/{version}"
		dir  = "/v1/connectors/directory/versions/1.0.0"
		js   = "application/json"
	)
	entity := env.seed.entity["acme"]
	catalog := keyed(200, 200, 404, 200, 200, 200)
	return []tableRow{
		{method: "GET", pattern: "/healthz", path: "/healthz", want: public(200)},
		{method: "GET", pattern: "/readyz", path: "/readyz", want: public(200)},
		{method: "GET", pattern: "/metrics", path: "/metrics", want: public(200)},
		{method: "GET", pattern: "/v1/openapi.yaml", path: "/v1/openapi.yaml", want: public(200)},
		{method: "GET", pattern: "/v1/schemas/connector.json", path: "/v1/schemas/connector.json", want: public(200)},
		{method: "GET", pattern: "/v1/oauth/callback", path: "/v1/oauth/callback?state=s-acme&code=c1", want: public(200), backend: true},

		{method: "POST", pattern: "/v1/keys", path: "/v1/keys", contentType: js, body: `{"role":"reviewer","name":"t"}`, want: keyed(201, 403, 403, 403, 403, 403)},
		{method: "GET", pattern: "/v1/keys", path: "/v1/keys", want: keyed(200, 403, 403, 403, 403, 403)},
		{method: "DELETE", pattern: "/v1/keys/{key}", path: "/v1/keys/" + victimKeyID, want: keyed(204, 403, 403, 403, 403, 403)},

		{method: "POST", pattern: "/v1/connectors", path: "/v1/connectors?partner=p1", contentType: "application/gzip", body: "bundle bytes", want: keyed(201, 201, b403, 403, 403, 403), backend: true},
		{method: "GET", pattern: "/v1/connectors", path: "/v1/connectors", want: keyed(200, 200, 200, 200, 200, 200), backend: true},
		{method: "GET", pattern: "/v1/connectors/{connector}/versions", path: "/v1/connectors/directory/versions", want: catalog, backend: true},
		{method: "GET", pattern: ver, path: dir, want: catalog, backend: true},
		{method: "GET", pattern: ver + "/module", path: dir + "/module", want: keyed(200, 200, 404, 403, 403, 200), backend: true},
		{method: "GET", pattern: ver + "/runbooks", path: dir + "/runbooks", want: catalog, backend: true},
		{method: "GET", pattern: ver + "/runbooks/{runbook}", path: dir + "/runbooks/rate_limited", want: catalog, backend: true},

		{method: "POST", pattern: "/v1/tenants/{tenant}/connections", path: "/v1/tenants/acme/connections", contentType: js,
			body: `{"connector":"directory","version":"1.0.0","scopes":["users:read"],"credentials":{"api_key":"s3cr3t-create"}}`,
			want: tenantOnly(201), backend: true},
		{method: "GET", pattern: "/v1/tenants/{tenant}/connections", path: "/v1/tenants/acme/connections", want: tenantOnly(200), backend: true},
		{method: "GET", pattern: conn, path: crm, want: tenantOnly(200), backend: true},
		{method: "PATCH", pattern: conn, path: crm, contentType: js, body: `{"interval_seconds":600,"scopes":["users:read"]}`, want: tenantOnly(200), backend: true},
		{method: "DELETE", pattern: conn, path: crm, want: tenantOnly(204), backend: true},
		{method: "POST", pattern: conn + "/authorize", path: crm + "/authorize", want: tenantOnly(200), backend: true},
		{method: "POST", pattern: conn + "/disable", path: crm + "/disable", want: tenantOnly(200), backend: true},
		{method: "PUT", pattern: conn + "/secrets/{secret}", path: crm + "/secrets/api_key", contentType: js, body: `{"value":"s3cr3t-rotated"}`, want: tenantOnly(200), backend: true},
		{method: "GET", pattern: conn + "/health", path: crm + "/health", want: tenantOnly(200), backend: true},
		{method: "GET", pattern: "/v1/oauth/start", path: "/v1/oauth/start?tenant=acme&connection=crm", want: tenantOnly(200), backend: true},

		{method: "POST", pattern: conn + "/sync", path: crm + "/sync", want: tenantOnly(202), backend: true},
		{method: "POST", pattern: conn + "/backfill", path: crm + "/backfill", contentType: js, body: `{"from":"2024-01-01T00:00:00Z","to":"2024-02-01T00:00:00Z"}`, want: tenantOnly(202), backend: true},
		{method: "GET", pattern: conn + "/runs", path: crm + "/runs", want: tenantOnly(200), backend: true},
		{method: "GET", pattern: conn + "/runs/{run}", path: crm + "/runs/run-1", want: tenantOnly(200), backend: true},

		{method: "GET", pattern: "/v1/tenants/{tenant}/objects", path: "/v1/tenants/acme/objects", want: tenantOnly(200)},
		{method: "GET", pattern: "/v1/tenants/{tenant}/objects/{entity_id}", path: "/v1/tenants/acme/objects/" + entity, want: tenantOnly(200)},
		{method: "GET", pattern: "/v1/tenants/{tenant}/edges", path: "/v1/tenants/acme/edges", want: tenantOnly(200)},
		{method: "GET", pattern: "/v1/tenants/{tenant}/lineage", path: "/v1/tenants/acme/lineage?entity_id=" + entity, want: tenantOnly(200)},
		{method: "GET", pattern: "/v1/tenants/{tenant}/receipts", path: "/v1/tenants/acme/receipts", want: tenantOnly(200)},
		{method: "GET", pattern: "/v1/tenants/{tenant}/receipts/{receipt}", path: "/v1/tenants/acme/receipts/rcpt-1", want: tenantOnly(200)},
		{method: "GET", pattern: "/v1/tenants/{tenant}/usage", path: "/v1/tenants/acme/usage?from=2025-01-01&to=2025-01-01", want: tenantOnly(200)},
	}
}

// expected is the status a principal gets on a row, with or without the
// domain backends.
func (r tableRow) expected(i int, wired bool) int {
	w := r.want[i]
	if !wired && r.backend && w != 401 && w != 403 {
		return 501
	}
	if w < 0 {
		return -w
	}
	return w
}

// TestRouteRoleTenantTable runs every route as every principal against a
// real Server (httptest on 127.0.0.1, Badger in a temp dir), once with
// the domain backends wired (fakes) and once without, and checks the
// status, that every error is a problem document, and that every
// response matches openapi.yaml.
func TestRouteRoleTenantTable(t *testing.T) {
	v, err := specValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, wired := range []bool{true, false} {
		t.Run(fmt.Sprintf("wired=%v", wired), func(t *testing.T) {
			env := newEnv(t, envOptions{wired: wired})
			victim := makeVictimKey(t, env.db)
			rows := tableRows(env, victim)
			checkRowsCoverRoutes(t, env, rows)
			t.Cleanup(func() {
				if strings.Contains(env.logs.String(), "s3cr3t") {
					t.Errorf("a secret value reached the log: %s", env.logs)
				}
				if !wired {
					return
				}
				puts := env.conns.puts()
				if len(puts) != 2 {
					t.Errorf("connections backend got credentials %v, want the two allowed PUTs", puts)
				}
				for _, p := range puts {
					if !strings.HasPrefix(p, "acme/crm/api_key=") {
						t.Errorf("secret stored for the wrong place: %s", p)
					}
				}
			})
			for _, row := range rows {
				for i, p := range principals {
					name := fmt.Sprintf("%s %s as %s", row.method, row.path, p)
					var body io.Reader
					if row.body != "" {
						body = strings.NewReader(row.body)
					}
					req, err := http.NewRequest(row.method, env.url+row.path, body)
					if err != nil {
						t.Fatal(err)
					}
					if row.contentType != "" {
						req.Header.Set("Content-Type", row.contentType)
					}
					if k := env.keys[p]; k != "" {
						req.Header.Set("Authorization", "Bearer "+k)
					}
					resp, b := env.send(t, req)
					if bytes.Contains(b, []byte("s3cr3t")) {
						t.Errorf("%s: a secret value came back: %s", name, b)
					}
					if want := row.expected(i, wired); resp.StatusCode != want {
						t.Errorf("%s: status %d, want %d; body %s", name, resp.StatusCode, want, b)
						continue
					}
					if resp.StatusCode >= 400 {
						decodeProblem(t, resp, b)
					}
					checkAgainstSpec(t, v, name, req, resp, b)
				}
			}
		})
	}
}

// makeVictimKey creates the key the DELETE row revokes (idempotently,
// once per principal allowed to).
func makeVictimKey(t *testing.T, db *store.DB) string {
	t.Helper()
	_, id, hash, err := newKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Platform().CreateAPIKey(context.Background(), store.APIKey{ID: id, Role: store.RoleReviewer, Hash: hash, CreatedAt: fakeTime}); err != nil {
		t.Fatal(err)
	}
	return id
}

// checkRowsCoverRoutes fails on a route without a row, a row whose path
// is not its pattern's, or a row for no route: a new route cannot skip
// the table.
func checkRowsCoverRoutes(t *testing.T, env *testEnv, rows []tableRow) {
	t.Helper()
	mux := env.srv.Handler().(*chi.Mux)
	covered := map[string]bool{}
	for _, row := range rows {
		path, _, _ := strings.Cut(row.path, "?")
		if got := mux.Find(chi.NewRouteContext(), row.method, path); got != row.pattern {
			t.Errorf("row %s %s routes to %q, not %q", row.method, row.path, got, row.pattern)
		}
		covered[row.method+" "+row.pattern] = true
	}
	for _, rt := range env.srv.routes {
		if !covered[rt.method+" "+rt.pattern] {
			t.Errorf("route %s %s has no row in the table", rt.method, rt.pattern)
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
