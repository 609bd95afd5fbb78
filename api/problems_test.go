package api

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProblems checks that refusals are problem documents with the
// status and the offending field a client needs.
func TestProblems(t *testing.T) {
	env := newEnv(t, envOptions{wired: true, maxBodyBytes: 256})
	crm := "/v1/tenants/acme/connections/crm"
	tests := []struct {
		name, principal, method, path, ct, body string
		status                                  int
		field                                   string // "" when no field is named
	}{
		{"no key", pNone, "GET", "/v1/keys", "", "", 401, "header.Authorization"},
		{"not bearer", pNone, "GET", "/v1/keys", "", "", 401, "header.Authorization"},
		{"revoked key", pRevoked, "GET", "/v1/keys", "", "", 401, "header.Authorization"},
		{"wrong role", pReviewer, "GET", "/v1/keys", "", "", 403, "header.Authorization"},
		{"other tenant", pTenantOther, "GET", "/v1/tenants/acme/objects", "", "", 403, "path.tenant"},
		{"other tenant in query", pTenantOther, "GET", "/v1/oauth/start?tenant=acme&connection=crm", "", "", 403, "query.tenant"},
		{"partner on other's connector", pPartnerOther, "GET", "/v1/connectors/directory/versions", "", "", 404, "path.connector"},
		{"admin upload without partner", pAdmin, "POST", "/v1/connectors", "application/gzip", "x", 422, "query.partner"},
		{"partner uploading for another", pPartnerOwn, "POST", "/v1/connectors?partner=p2", "application/gzip", "x", 403, "query.partner"},
		{"malformed JSON", pAdmin, "POST", "/v1/keys", "application/json", `{"role":`, 400, "body"},
		{"syntax error", pAdmin, "POST", "/v1/keys", "application/json", `{"role" "admin"}`, 400, "body"},
		{"unknown field", pAdmin, "POST", "/v1/keys", "application/json", `{"role":"admin","rolez":1}`, 400, "body.rolez"},
		{"wrong type", pAdmin, "POST", "/v1/keys", "application/json", `{"role":7}`, 400, "body.role"},
		{"two values", pAdmin, "POST", "/v1/keys", "application/json", `{"role":"admin"} {}`, 400, "body"},
		{"empty body", pAdmin, "POST", "/v1/keys", "application/json", ``, 400, "body"},
		{"not JSON", pAdmin, "POST", "/v1/keys", "text/plain", `{"role":"admin"}`, 415, "header.Content-Type"},
		{"too large", pAdmin, "POST", "/v1/keys", "application/json", `{"name":"` + strings.Repeat("n", 300) + `"}`, 413, "body"},
		{"role missing", pAdmin, "POST", "/v1/keys", "application/json", `{}`, 422, "body.role"},
		{"unknown role", pAdmin, "POST", "/v1/keys", "application/json", `{"role":"root"}`, 422, "body.role"},
		{"partner key without partner", pAdmin, "POST", "/v1/keys", "application/json", `{"role":"partner"}`, 422, "body.partner"},
		{"tenant key with bad tenant", pAdmin, "POST", "/v1/keys", "application/json", `{"role":"tenant_admin","tenant":"Acme!"}`, 422, "body.tenant"},
		{"revoke unknown key", pAdmin, "DELETE", "/v1/keys/ffffffffffffffff", "", "", 404, "path.key"},
		{"bad limit", pAdmin, "GET", "/v1/tenants/acme/objects?limit=0", "", "", 422, "query.limit"},
		{"huge limit", pAdmin, "GET", "/v1/tenants/acme/edges?limit=5000", "", "", 422, "query.limit"},
		{"type without connection", pAdmin, "GET", "/v1/tenants/acme/objects?type=user", "", "", 422, "query.type"},
		{"bad cursor", pAdmin, "GET", "/v1/tenants/acme/objects?after=nope", "", "", 422, "query.after"},
		{"lineage without entity", pAdmin, "GET", "/v1/tenants/acme/lineage", "", "", 422, "query.entity_id"},
		{"lineage bad entity", pAdmin, "GET", "/v1/tenants/acme/lineage?entity_id=x", "", "", 422, "query.entity_id"},
		{"malformed entity id", pAdmin, "GET", "/v1/tenants/acme/objects/not-a-uuid", "", "", 404, "path.entity_id"},
		{"missing object", pAdmin, "GET", "/v1/tenants/acme/objects/00000000-0000-5000-8000-000000000000", "", "", 404, "path.entity_id"},
		{"missing receipt", pAdmin, "GET", "/v1/tenants/acme/receipts/nope", "", "", 404, "path.receipt"},
		{"malformed tenant", pAdmin, "GET", "/v1/tenants/ACME/objects", "", "", 404, "path.tenant"},
		{"bad usage day", pAdmin, "GET", "/v1/tenants/acme/usage?from=yesterday", "", "", 422, "query.from"},
		{"usage from after to", pAdmin, "GET", "/v1/tenants/acme/usage?from=2025-02-01&to=2025-01-01", "", "", 422, "query.from"},
		{"usage too long", pAdmin, "GET", "/v1/tenants/acme/usage?from=2020-01-01&to=2025-01-01", "", "", 422, "query.from"},
		{"backfill not RFC 3339", pAdmin, "POST", crm + "/backfill", "application/json", `{"from":"2024-01-01","to":"2024-02-01T00:00:00Z"}`, 422, "body.from"},
		{"backfill backwards", pAdmin, "POST", crm + "/backfill", "application/json", `{"from":"2024-03-01T00:00:00Z","to":"2024-02-01T00:00:00Z"}`, 422, "body.to"},
		{"sync unknown field", pAdmin, "POST", crm + "/sync", "application/json", `{"fulll":true}`, 400, "body.fulll"},
		{"connection without connector", pAdmin, "POST", "/v1/tenants/acme/connections", "application/json", `{"version":"1.0.0"}`, 422, "body.connector"},
		{"negative interval", pAdmin, "POST", "/v1/tenants/acme/connections", "application/json", `{"connector":"d","version":"1","interval_seconds":-1}`, 422, "body.interval_seconds"},
		{"empty secret", pAdmin, "PUT", crm + "/secrets/api_key", "application/json", `{"value":""}`, 422, "body.value"},
		{"secret of missing connection", pAdmin, "PUT", "/v1/tenants/acme/connections/nope/secrets/api_key", "application/json", `{"value":"v"}`, 404, "path.connection"},
		{"run of missing connection", pAdmin, "GET", "/v1/tenants/acme/connections/nope/runs", "", "", 404, "path.connection"},
		{"run of another connection", pAdmin, "GET", "/v1/tenants/acme/connections/other/runs/run-1", "", "", 404, "path.run"},
		{"oauth start without connection", pAdmin, "GET", "/v1/oauth/start?tenant=acme", "", "", 422, "query.connection"},
		{"oauth start bad tenant", pAdmin, "GET", "/v1/oauth/start?tenant=Bad", "", "", 422, "query.tenant"},
		{"oauth callback without state", pNone, "GET", "/v1/oauth/callback?code=c", "", "", 422, "query.state"},
		{"oauth denied by the provider", pNone, "GET", "/v1/oauth/callback?state=s-acme&error=access_denied", "", "", 422, "query.error"},
		{"oauth callback unknown state", pNone, "GET", "/v1/oauth/callback?state=forged&code=c", "", "", 404, ""},
		{"unknown route", pAdmin, "GET", "/v1/nope", "", "", 404, ""},
		{"wrong method", pAdmin, "PATCH", "/v1/keys", "", "", 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, env.url+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			switch {
			case tc.name == "not bearer":
				req.Header.Set("Authorization", "Basic "+env.keys[pAdmin])
			case env.keys[tc.principal] != "":
				req.Header.Set("Authorization", "Bearer "+env.keys[tc.principal])
			}
			resp, b := env.send(t, req)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, b)
			}
			p := decodeProblem(t, resp, b)
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
	env := newEnv(t, envOptions{wired: true})
	resp, b := env.do(t, pAdmin, "POST", "/v1/tenants/acme/connections", "application/json",
		[]byte(`{"scopes":["a",""],"interval_seconds":-5}`))
	p := decodeProblem(t, resp, b)
	var fields []string
	for _, f := range p.Errors {
		fields = append(fields, f.Field)
	}
	want := "body.connector,body.version,body.interval_seconds,body.scopes[1]"
	if strings.Join(fields, ",") != want {
		t.Errorf("fields %v, want %s", fields, want)
	}
}

// A body past the limit is 413 whether or not it declares its length.
func TestBundleSizeLimit(t *testing.T) {
	env := newEnv(t, envOptions{wired: true, maxBundleBytes: 1024})
	big := bytes.Repeat([]byte("x"), 4096)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(big)
		if chunked {
			body = io.MultiReader(bytes.NewReader(big)) // hides the length
		}
		req := httptest.NewRequest("POST", "/v1/connectors?partner=p1", body)
		req.Header.Set("Content-Type", "application/gzip")
		req.Header.Set("Authorization", "Bearer "+env.keys[pAdmin])
		if chunked {
			req.ContentLength = -1
		}
		rec := httptest.NewRecorder()
		env.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked=%v: status %d, want 413; body %s", chunked, rec.Code, rec.Body)
		}
	}
}

func TestPanicIsProblem(t *testing.T) {
	env := newEnv(t, envOptions{})
	h := env.srv.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != ProblemContentType || strings.Contains(rec.Body.String(), "boom") {
		t.Errorf("panic answered %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if !strings.Contains(env.logs.String(), "boom") {
		t.Errorf("the panic was not logged: %s", env.logs)
	}
}

// A server-side failure is logged with its cause and answered with a
// generic detail.
func TestInternalErrorsAreNotShown(t *testing.T) {
	env := newEnv(t, envOptions{})
	_ = env.db.Close() // every store read now fails
	resp, b := env.do(t, pAdmin, "GET", "/v1/keys", "", nil)
	if resp.StatusCode != 503 {
		t.Fatalf("status %d, want 503 with the store closed; body %s", resp.StatusCode, b)
	}
	p := decodeProblem(t, resp, b)
	if strings.Contains(p.Detail, "badger") || strings.Contains(p.Detail, "store:") {
		t.Errorf("detail leaks the cause: %q", p.Detail)
	}
	if !strings.Contains(env.logs.String(), "database closed") {
		t.Errorf("the cause was not logged: %s", env.logs)
	}
}
