package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/store"
)

// policyServer is a Server with a real store and policy service.
func policyServer(t *testing.T) (string, map[string]string, *store.DB) {
	t.Helper()
	db, err := store.Open(store.Options{Dir: t.TempDir(), ValueLogFileSize: 16 << 20, MemTableSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	srv, err := api.New(api.Config{Store: db, Policies: policy.New(policy.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL, api.MakeKeys(t, db), db
}

func policyCall(t *testing.T, method, url, key, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+key)
	return api.Send(t, req)
}

// TestPutPolicyRefusesBadExpression: 422 naming body.expression with the
// CEL compiler's message; nothing saved. A good one is saved and listed.
func TestPutPolicyRefusesBadExpression(t *testing.T) {
	url, keys, _ := policyServer(t)
	key := keys[api.PTenantOwn]
	base := url + "/v1/tenants/acme/policies"
	resp, b := policyCall(t, "PUT", base+"/ingest", key, `{"expression":"scopes.all(s, s in granted"}`)
	p := api.DecodeProblem(t, resp, b)
	if resp.StatusCode != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Field != "body.expression" ||
		!strings.Contains(p.Errors[0].Message, "Syntax error") {
		t.Fatalf("bad expression: %d %s", resp.StatusCode, b)
	}
	resp, b = policyCall(t, "PUT", base+"/ingest", key, `{"expression":"unknown_var"}`)
	p = api.DecodeProblem(t, resp, b)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p.Errors[0].Message, "undeclared reference to 'unknown_var'") {
		t.Fatalf("undeclared variable: %d %s", resp.StatusCode, b)
	}
	for _, tc := range []struct {
		path, body, field string
		status            int
	}{
		{"/nope", `{"expression":"true"}`, "path.kind", http.StatusNotFound},
		{"/ingest", `{"expression":""}`, "body.expression", http.StatusUnprocessableEntity},
		{"/ingest", `{"expr":"true"}`, "body.expr", http.StatusBadRequest},
	} {
		resp, b := policyCall(t, "PUT", base+tc.path, key, tc.body)
		p := api.DecodeProblem(t, resp, b)
		if resp.StatusCode != tc.status || len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
			t.Errorf("PUT %s %s: %d %s, want %d naming %s", tc.path, tc.body, resp.StatusCode, b, tc.status, tc.field)
		}
	}
	resp, b = policyCall(t, "GET", base, key, "")
	var list api.PolicyList
	if err := json.Unmarshal(b, &list); err != nil || resp.StatusCode != 200 || len(list.Items) != 3 || list.Items[0].Source != policy.SourceDefault {
		t.Fatalf("after refusals, GET policies: %d %s, want the defaults", resp.StatusCode, b)
	}
	resp, b = policyCall(t, "PUT", base+"/ingest", key, `{"expression":"object_type != \"group\""}`)
	var saved policy.Policy
	if err := json.Unmarshal(b, &saved); err != nil || resp.StatusCode != 200 || saved.Source != policy.SourceTenant || saved.UpdatedBy == "" {
		t.Fatalf("good expression: %d %s", resp.StatusCode, b)
	}
	_, b = policyCall(t, "GET", base, key, "")
	if err := json.Unmarshal(b, &list); err != nil || list.Items[0].Digest != saved.Digest {
		t.Fatalf("GET policies after save: %s", b)
	}
}

// TestGetDecision reads a recorded decision; an unknown id is 404.
func TestGetDecision(t *testing.T) {
	url, keys, db := policyServer(t)
	acme, err := db.Tenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	d, err := policy.Builtin().DecideAction(t.Context(), acme, policy.ActionInput{Action: "create_user"})
	if err != nil {
		t.Fatal(err)
	}
	resp, b := policyCall(t, "GET", url+"/v1/tenants/acme/decisions/"+d.ID, keys[api.PTenantOwn], "")
	var got policy.Decision
	if err := json.Unmarshal(b, &got); err != nil || resp.StatusCode != 200 || got.ID != d.ID || got.Result != policy.ResultAllow {
		t.Fatalf("GET decision: %d %s", resp.StatusCode, b)
	}
	for _, id := range []string{"dec-00000000000000000000000000000000", "bad..id%2Fx"} {
		resp, b = policyCall(t, "GET", url+"/v1/tenants/acme/decisions/"+id, keys[api.PTenantOwn], "")
		if p := api.DecodeProblem(t, resp, b); resp.StatusCode != http.StatusNotFound || p.Errors[0].Field != "path.decision" {
			t.Errorf("GET decision %s: %d %s, want 404 naming path.decision", id, resp.StatusCode, b)
		}
	}
	// Another tenant's admin cannot read acme's decision.
	if resp, _ := policyCall(t, "GET", url+"/v1/tenants/acme/decisions/"+d.ID, keys[api.PTenantOther], ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("other tenant's admin: %d, want 403", resp.StatusCode)
	}
}
