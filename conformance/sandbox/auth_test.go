package sandbox_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
}

func creds(extra ...string) url.Values {
	v := url.Values{"grant_type": {"client_credentials"}, "client_id": {"c1"}, "client_secret": {"s3cret"}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func TestOAuthClientCredentialsAndExpiry(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, sandbox.Config{ClientID: "c1", ClientSecret: "s3cret", TokenTTL: 10 * time.Minute, Clock: clock.Now})
	r := c.with("").postForm("/oauth/token", creds()).ok(t)
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	tok := decode[tokenResponse](t, r.body)
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 600 || len(tok.AccessToken) < 32 ||
		tok.Scope != "account:read users:read groups:read memberships:read" {
		t.Fatalf("token response = %+v", tok)
	}
	again := decode[tokenResponse](t, c.with("").postForm("/oauth/token", creds()).ok(t).body)
	if again.AccessToken == tok.AccessToken {
		t.Error("two grants returned the same token; tokens must be random")
	}

	api := c.with(tok.AccessToken)
	api.get("/api/v1/users?limit=1").ok(t)
	clock.Advance(10*time.Minute - time.Second)
	api.get("/api/v1/account").ok(t)
	clock.Advance(time.Second)
	r = api.get("/api/v1/users?limit=1")
	r.problem(t, http.StatusUnauthorized, "unauthorized")
	if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) || !strings.Contains(h, "expired") {
		t.Errorf("WWW-Authenticate = %q, want invalid_token and the reason", h)
	}
	// The other token, minted at the same instant, expired too.
	c.with(again.AccessToken).get("/api/v1/users").problem(t, http.StatusUnauthorized, "unauthorized")
	if got := s.Stats().TokensIssued; got != 2 {
		t.Errorf("TokensIssued = %d, want 2", got)
	}
}

func TestOAuthHTTPBasicClientAuth(t *testing.T) {
	_, c := start(t, sandbox.Config{ClientID: "my client", ClientSecret: "p@ss:word"})
	req, err := http.NewRequest(http.MethodPost, c.base+"/oauth/token",
		strings.NewReader("grant_type=client_credentials&scope=users:read+users:read"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// RFC 6749 §2.3.1: form-encode, then Basic.
	req.SetBasicAuth(url.QueryEscape("my client"), url.QueryEscape("p@ss:word"))
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok tokenResponse
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := jsonDecode(resp, &tok); err != nil || tok.Scope != "users:read" {
		t.Fatalf("token = %+v, %v; want scope users:read once", tok, err)
	}
	api := c.with(tok.AccessToken)
	api.get("/api/v1/users?limit=1").ok(t)
	r := api.get("/api/v1/groups")
	r.problem(t, http.StatusForbidden, "insufficient_scope")
	if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_scope"`) {
		t.Errorf("WWW-Authenticate = %q", h)
	}
}

func TestOAuthTokenErrors(t *testing.T) {
	_, c := start(t, sandbox.Config{ClientID: "c1", ClientSecret: "s3cret"})
	anon := c.with("")
	for _, tc := range []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"wrong secret", "application/x-www-form-urlencoded", creds("client_secret", "nope").Encode(), 401, "invalid_client"},
		{"unknown client", "application/x-www-form-urlencoded", creds("client_id", "c2").Encode(), 401, "invalid_client"},
		{"no credentials", "application/x-www-form-urlencoded", "grant_type=client_credentials", 401, "invalid_client"},
		{"json body", "application/json", `{"grant_type":"client_credentials"}`, 400, "invalid_request"},
		{"missing grant", "application/x-www-form-urlencoded", "client_id=c1&client_secret=s3cret", 400, "invalid_request"},
		{"password grant", "application/x-www-form-urlencoded", creds("grant_type", "password").Encode(), 400, "unsupported_grant_type"},
		{"unknown scope", "application/x-www-form-urlencoded", creds("scope", "users:admin").Encode(), 400, "invalid_scope"},
		{"repeated parameter", "application/x-www-form-urlencoded", creds().Encode() + "&client_id=c1", 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := anon.do(http.MethodPost, "/oauth/token", tc.contentType, strings.NewReader(tc.body))
			if got := decode[tokenResponse](t, r.body); r.status != tc.status || got.Error != tc.code || got.AccessToken != "" {
				t.Fatalf("status %d body %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if r := anon.get("/oauth/token"); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /oauth/token = %d, want 405", r.status)
	}
}

func TestAPIKeyOpensEveryEndpoint(t *testing.T) {
	s, c := start(t, sandbox.Config{APIKey: "k-123", AccountID: "acct-custom"})
	for _, p := range []string{"/api/v1/account", "/api/v1/users", "/api/v1/users/u-0000100", "/api/v1/groups", "/api/v1/memberships"} {
		c.get(p).ok(t)
	}
	if a := decode[sandbox.Account](t, c.get("/api/v1/account").body); a.ID != "acct-custom" || a != s.Account() {
		t.Errorf("account = %+v, server says %+v", a, s.Account())
	}
	if u := decode[sandbox.User](t, c.get("/api/v1/users/u-0000100").body); u.ID != "u-0000100" {
		t.Errorf("GET /users/u-0000100 = %+v", u)
	}
	c.get("/api/v1/users/u-0000101").problem(t, http.StatusNotFound, "not_found")
	c.get("/api/v1/users/u-100").problem(t, http.StatusNotFound, "not_found")
}

func TestMissingOrBadCredentialsAre401(t *testing.T) {
	_, c := start(t, sandbox.Config{})
	for _, tc := range []struct{ name, header string }{
		{"none", ""},
		{"basic scheme", "Basic c2FuZGJveDpzYW5kYm94"},
		{"empty bearer", "Bearer "},
		{"wrong api key", "Bearer sandbox-api-key-2"},
		{"unknown token", "Bearer 5kJ2o1mQ9Zt0aN3vXc8yB7wE4rT6uI1o"},
		{"key as basic", "Basic sandbox-api-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, c.base+"/api/v1/users", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := c.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var p sandbox.Problem
			if err := jsonDecode(resp, &p); err != nil || resp.StatusCode != 401 || p.Status != 401 ||
				!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Fatalf("status %d, problem %+v, WWW-Authenticate %q", resp.StatusCode, p, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// Lower-case scheme is still Bearer (RFC 9110 §11.1).
	req, _ := http.NewRequest(http.MethodGet, c.base+"/api/v1/users?limit=1", nil)
	req.Header.Set("Authorization", "bearer "+sandbox.DefaultAPIKey)
	if resp, err := c.hc.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("lower-case bearer: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if r := c.with("").get("/api/v1/health").ok(t); string(r.body) != "{\"status\":\"ok\"}\n" {
		t.Errorf("health = %s", r.body)
	}
}
