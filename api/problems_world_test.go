package api_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/api"
)

// TestProblems checks that refusals are problem documents with the
// status and the offending field a client needs, over the real backends
// of the wired world (the refusals of the backends themselves: a
// connector of another partner, a connection or a run that does not
// exist, an OAuth state the connections manager never issued or one the
// provider's refusal spends), from a server whose body limit is 256
// bytes.
func TestProblems(t *testing.T) {
	w := newWorld(t, true)
	_, base := w.serveAlso(t, func(c *api.Config) { c.MaxBodyBytes = 256 })
	state := w.oauthState(t, "acme")
	tests := []struct {
		name, principal, method, path, ct, body string
		status                                  int
		field                                   string // "" when no field is named
	}{
		{"no key", api.PNone, "GET", "/v1/keys", "", "", 401, "header.Authorization"},
		{"not bearer", api.PNone, "GET", "/v1/keys", "", "", 401, "header.Authorization"},
		{"revoked key", api.PRevoked, "GET", "/v1/keys", "", "", 401, "header.Authorization"},
		{"wrong role", api.PReviewer, "GET", "/v1/keys", "", "", 403, "header.Authorization"},
		{"other tenant", api.PTenantOther, "GET", "/v1/tenants/acme/objects", "", "", 403, "path.tenant"},
		{"other tenant in query", api.PTenantOther, "GET", "/v1/oauth/start?tenant=acme&connection=crm", "", "", 403, "query.tenant"},
		{"partner on other's connector", api.PPartnerOther, "GET", "/v1/connectors/directory/versions", "", "", 404, "path.connector"},
		{"admin upload without partner", api.PAdmin, "POST", "/v1/connectors", "application/gzip", "x", 422, "query.partner"},
		{"partner uploading for another", api.PPartnerOwn, "POST", "/v1/connectors?partner=p2", "application/gzip", "x", 403, "query.partner"},
		{"malformed JSON", api.PAdmin, "POST", "/v1/keys", "application/json", `{"role":`, 400, "body"},
		{"syntax error", api.PAdmin, "POST", "/v1/keys", "application/json", `{"role" "admin"}`, 400, "body"},
		{"unknown field", api.PAdmin, "POST", "/v1/keys", "application/json", `{"role":"admin","rolez":1}`, 400, "body.rolez"},
		{"wrong type", api.PAdmin, "POST", "/v1/keys", "application/json", `{"role":7}`, 400, "body.role"},
		{"two values", api.PAdmin, "POST", "/v1/keys", "application/json", `{"role":"admin"} {}`, 400, "body"},
		{"empty body", api.PAdmin, "POST", "/v1/keys", "application/json", ``, 400, "body"},
		{"not JSON", api.PAdmin, "POST", "/v1/keys", "text/plain", `{"role":"admin"}`, 415, "header.Content-Type"},
		{"too large", api.PAdmin, "POST", "/v1/keys", "application/json", `{"name":"` + strings.Repeat("n", 300) + `"}`, 413, "body"},
		{"role missing", api.PAdmin, "POST", "/v1/keys", "application/json", `{}`, 422, "body.role"},
		{"unknown role", api.PAdmin, "POST", "/v1/keys", "application/json", `{"role":"root"}`, 422, "body.role"},
		{"partner key without partner", api.PAdmin, "POST", "/v1/keys", "application/json", `{"role":"partner"}`, 422, "body.partner"},
		{"tenant key with bad tenant", api.PAdmin, "POST", "/v1/keys", "application/json", `{"role":"tenant_admin","tenant":"Acme!"}`, 422, "body.tenant"},
		{"revoke unknown key", api.PAdmin, "DELETE", "/v1/keys/ffffffffffffffff", "", "", 404, "path.key"},
		{"bad limit", api.PAdmin, "GET", "/v1/tenants/acme/objects?limit=0", "", "", 422, "query.limit"},
		{"huge limit", api.PAdmin, "GET", "/v1/tenants/acme/edges?limit=5000", "", "", 422, "query.limit"},
		{"type without connection", api.PAdmin, "GET", "/v1/tenants/acme/objects?type=user", "", "", 422, "query.type"},
		{"bad cursor", api.PAdmin, "GET", "/v1/tenants/acme/objects?after=nope", "", "", 422, "query.after"},
		{"lineage without entity", api.PAdmin, "GET", "/v1/tenants/acme/lineage", "", "", 422, "query.entity_id"},
		{"lineage bad entity", api.PAdmin, "GET", "/v1/tenants/acme/lineage?entity_id=x", "", "", 422, "query.entity_id"},
		{"malformed entity id", api.PAdmin, "GET", "/v1/tenants/acme/objects/not-a-uuid", "", "", 404, "path.entity_id"},
		{"missing object", api.PAdmin, "GET", "/v1/tenants/acme/objects/00000000-0000-5000-8000-000000000000", "", "", 404, "path.entity_id"},
		{"missing receipt", api.PAdmin, "GET", "/v1/tenants/acme/receipts/nope", "", "", 404, "path.receipt"},
		{"malformed tenant", api.PAdmin, "GET", "/v1/tenants/ACME/objects", "", "", 404, "path.tenant"},
		{"bad usage day", api.PAdmin, "GET", "/v1/tenants/acme/usage?from=yesterday", "", "", 422, "query.from"},
		{"usage from after to", api.PAdmin, "GET", "/v1/tenants/acme/usage?from=2025-02-01&to=2025-01-01", "", "", 422, "query.from"},
		{"usage too long", api.PAdmin, "GET", "/v1/tenants/acme/usage?from=2020-01-01&to=2025-01-01", "", "", 422, "query.from"},
		{"backfill not RFC 3339", api.PAdmin, "POST", crm + "/backfill", "application/json", `{"from":"2024-01-01","to":"2024-02-01T00:00:00Z"}`, 422, "body.from"},
		{"backfill backwards", api.PAdmin, "POST", crm + "/backfill", "application/json", `{"from":"2024-03-01T00:00:00Z","to":"2024-02-01T00:00:00Z"}`, 422, "body.to"},
		{"sync unknown field", api.PAdmin, "POST", crm + "/sync", "application/json", `{"fulll":true}`, 400, "body.fulll"},
		{"connection without connector", api.PAdmin, "POST", "/v1/tenants/acme/connections", "application/json", `{"version":"1.0.0"}`, 422, "body.connector"},
		{"negative interval", api.PAdmin, "POST", "/v1/tenants/acme/connections", "application/json", `{"connector":"d","version":"1","interval_seconds":-1}`, 422, "body.interval_seconds"},
		{"empty secret", api.PAdmin, "PUT", crm + "/secrets/api_key", "application/json", `{"value":""}`, 422, "body.value"},
		{"secret of missing connection", api.PAdmin, "PUT", "/v1/tenants/acme/connections/nope/secrets/api_key", "application/json", `{"value":"v"}`, 404, "path.connection"},
		{"run of missing connection", api.PAdmin, "GET", "/v1/tenants/acme/connections/nope/runs", "", "", 404, "path.connection"},
		{"run of another connection", api.PAdmin, "GET", "/v1/tenants/acme/connections/other/runs/" + w.runID, "", "", 404, "path.run"},
		{"oauth start without connection", api.PAdmin, "GET", "/v1/oauth/start?tenant=acme", "", "", 422, "query.connection"},
		{"oauth start bad tenant", api.PAdmin, "GET", "/v1/oauth/start?tenant=Bad", "", "", 422, "query.tenant"},
		{"oauth callback without state", api.PNone, "GET", "/v1/oauth/callback?code=c", "", "", 422, "query.state"},
		{"oauth denied by the provider", api.PNone, "GET", "/v1/oauth/callback?state=" + state + "&error=access_denied", "", "", 422, "query.error"},
		{"oauth callback unknown state", api.PNone, "GET", "/v1/oauth/callback?state=forged&code=c", "", "", 400, "query.state"},
		{"unknown route", api.PAdmin, "GET", "/v1/nope", "", "", 404, ""},
		{"wrong method", api.PAdmin, "PATCH", "/v1/keys", "", "", 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, base+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			switch {
			case tc.name == "not bearer":
				req.Header.Set("Authorization", "Basic "+w.keys[api.PAdmin])
			case w.keys[tc.principal] != "":
				req.Header.Set("Authorization", "Bearer "+w.keys[tc.principal])
			}
			resp, b := api.Send(t, req)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, b)
			}
			p := api.DecodeProblem(t, resp, b)
			if p.Instance != req.URL.Path {
				t.Errorf("instance %q, want %q", p.Instance, req.URL.Path)
			}
			if tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field || p.Errors[0].Message == "") {
				t.Errorf("errors %+v, want field %q first", p.Errors, tc.field)
			}
			if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

// A 422 lists every offending field, not only the first.
func TestProblemListsEveryField(t *testing.T) {
	w := newWorld(t, true)
	resp, b := w.do(t, w.url, api.PAdmin, "POST", "/v1/tenants/acme/connections", js,
		[]byte(`{"scopes":["a",""],"interval_seconds":-5}`))
	p := api.DecodeProblem(t, resp, b)
	var fields []string
	for _, f := range p.Errors {
		fields = append(fields, f.Field)
	}
	want := "body.connector,body.version,body.interval_seconds,body.scopes[1]"
	if strings.Join(fields, ",") != want {
		t.Errorf("fields %v, want %s", fields, want)
	}
}

// A body past the limit is 413 whether or not it declares its length:
// the directory connector's real bundle, which the registry reads past
// the limit (junk it would refuse as no gzip stream first).
func TestBundleSizeLimit(t *testing.T) {
	w := newWorld(t, true)
	srv, _ := w.serveAlso(t, func(c *api.Config) { c.MaxBundleBytes = 1024 })
	big := w.bundle
	if len(big) <= 4*1024 {
		t.Fatalf("the bundle is %d bytes, not past the limit", len(big))
	}
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(big)
		if chunked {
			body = io.MultiReader(bytes.NewReader(big)) // hides the length
		}
		req := httptest.NewRequest("POST", "/v1/connectors?partner=p1", body)
		req.Header.Set("Content-Type", "application/gzip")
		req.Header.Set("Authorization", "Bearer "+w.keys[api.PAdmin])
		if chunked {
			req.ContentLength = -1
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked=%v: status %d, want 413; body %s", chunked, rec.Code, rec.Body)
		}
	}
}
