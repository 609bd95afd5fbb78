package sandbox_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

const (
	redirectURI = "http://127.0.0.1:9/callback?keep=1"
	verifier    = "dBjftJeZ4CVP-mJ92K1rWtyHnQ8yw3aOPbZyJz9cF0Hk3m5tQ"
)

func challengeOf(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeQuery is a valid authorization request; extra pairs override
// (an empty value deletes the parameter).
func authorizeQuery(extra ...string) url.Values {
	q := url.Values{
		"response_type": {"code"}, "client_id": {"c1"}, "redirect_uri": {redirectURI},
		"state": {"st-1"}, "code_challenge": {challengeOf(verifier)}, "code_challenge_method": {"S256"},
		"scope": {"account:read users:read"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return q
}

// noFollow is c with a client that hands redirects back instead of
// following them, as a test of an authorization endpoint must.
func noFollow(c *client) *client {
	cp := *c
	cp.auth = ""
	cp.hc = &http.Client{Transport: c.hc.Transport, Timeout: c.hc.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &cp
}

// authorize runs the authorization endpoint and returns the redirect's
// query.
func authorize(t *testing.T, c *client, q url.Values) url.Values {
	t.Helper()
	r := noFollow(c).get("/oauth/authorize?" + q.Encode())
	if r.status != http.StatusFound {
		t.Fatalf("authorize: status %d, want 302; body %s", r.status, r.body)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != "http://127.0.0.1:9/callback" {
		t.Fatalf("redirected to %s", loc)
	}
	if loc.Query().Get("keep") != "1" {
		t.Errorf("the redirect URI's own query was dropped: %s", loc)
	}
	return loc.Query()
}

func exchange(code, verifierValue string, extra ...string) url.Values {
	v := url.Values{"grant_type": {"authorization_code"}, "client_id": {"c1"}, "client_secret": {"s3cret"},
		"code": {code}, "code_verifier": {verifierValue}, "redirect_uri": {redirectURI}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

type userToken struct {
	tokenResponse
	RefreshToken string `json:"refresh_token"`
}

func oauthError(t *testing.T, r result, status int, code string) {
	t.Helper()
	if r.status != status || decode[tokenResponse](t, r.body).Error != code {
		t.Fatalf("status %d body %s, want %d %s", r.status, r.body, status, code)
	}
}

func TestAuthorizationCodeFlow(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, sandbox.Config{ClientID: "c1", ClientSecret: "s3cret", TokenTTL: 10 * time.Minute, Clock: clock.Now})
	got := authorize(t, c, authorizeQuery())
	if got.Get("state") != "st-1" || got.Get("code") == "" || got.Has("error") {
		t.Fatalf("redirect query = %v", got)
	}
	tok := decode[userToken](t, c.with("").postForm("/oauth/token", exchange(got.Get("code"), verifier)).ok(t).body)
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.ExpiresIn != 600 || tok.Scope != "account:read users:read" {
		t.Fatalf("token = %+v", tok)
	}
	api := c.with(tok.AccessToken)
	api.get("/api/v1/account").ok(t)
	api.get("/api/v1/groups").problem(t, http.StatusForbidden, "insufficient_scope")

	// The code is spent.
	oauthError(t, c.with("").postForm("/oauth/token", exchange(got.Get("code"), verifier)), 400, "invalid_grant")

	clock.Advance(10 * time.Minute)
	api.get("/api/v1/account").problem(t, http.StatusUnauthorized, "unauthorized")
	refresh := func(rt string, extra ...string) result {
		v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"c1"}, "client_secret": {"s3cret"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return c.with("").postForm("/oauth/token", v)
	}
	// Broadening is refused and leaves the refresh token usable.
	oauthError(t, refresh(tok.RefreshToken, "scope", "groups:read"), 400, "invalid_scope")
	next := decode[userToken](t, refresh(tok.RefreshToken).ok(t).body)
	if next.AccessToken == tok.AccessToken || next.RefreshToken == tok.RefreshToken || next.Scope != tok.Scope {
		t.Fatalf("refresh did not rotate: %+v", next)
	}
	c.with(next.AccessToken).get("/api/v1/account").ok(t)
	// Rotation: the old refresh token works once.
	oauthError(t, refresh(tok.RefreshToken), 400, "invalid_grant")
	narrow := decode[userToken](t, refresh(next.RefreshToken, "scope", "account:read").ok(t).body)
	if narrow.Scope != "account:read" {
		t.Errorf("narrowed scope = %q", narrow.Scope)
	}
	st := s.Stats()
	if st.TokensRefreshed != 2 || st.TokensIssued != 3 {
		t.Errorf("TokensRefreshed = %d, TokensIssued = %d, want 2 and 3", st.TokensRefreshed, st.TokensIssued)
	}
}

func TestAuthorizeErrors(t *testing.T) {
	_, c := start(t, sandbox.Config{ClientID: "c1", ClientSecret: "s3cret"})
	// Not redirected: the redirect target is not trusted.
	for _, tt := range []struct {
		name string
		q    url.Values
		code string
	}{
		{"unknown client", authorizeQuery("client_id", "other"), "invalid_client"},
		{"no redirect", authorizeQuery("redirect_uri", ""), "invalid_redirect_uri"},
		{"relative redirect", authorizeQuery("redirect_uri", "/callback"), "invalid_redirect_uri"},
		{"fragment", authorizeQuery("redirect_uri", "http://127.0.0.1:9/cb#x"), "invalid_redirect_uri"},
		{"ftp", authorizeQuery("redirect_uri", "ftp://127.0.0.1/cb"), "invalid_redirect_uri"},
		{"reserved parameter", authorizeQuery("redirect_uri", "http://127.0.0.1:9/cb?code=x"), "invalid_redirect_uri"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := noFollow(c).get("/oauth/authorize?" + tt.q.Encode())
			r.problem(t, http.StatusBadRequest, tt.code)
			if loc := r.header.Get("Location"); loc != "" {
				t.Errorf("redirected to %s", loc)
			}
		})
	}
	// Redirected back with the error and the state.
	for _, tt := range []struct {
		name string
		q    url.Values
		code string
	}{
		{"implicit grant", authorizeQuery("response_type", "token"), "unsupported_response_type"},
		{"no PKCE", authorizeQuery("code_challenge", "", "code_challenge_method", ""), "invalid_request"},
		{"plain PKCE", authorizeQuery("code_challenge_method", "plain"), "invalid_request"},
		{"short challenge", authorizeQuery("code_challenge", "abc"), "invalid_request"},
		{"unknown scope", authorizeQuery("scope", "admin"), "invalid_scope"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := authorize(t, c, tt.q)
			if got.Get("error") != tt.code || got.Get("state") != "st-1" || got.Has("code") {
				t.Errorf("redirect query = %v, want error %s", got, tt.code)
			}
		})
	}
}

func TestCodeExchangeErrors(t *testing.T) {
	clock := newFakeClock()
	_, c := start(t, sandbox.Config{ClientID: "c1", ClientSecret: "s3cret", Clock: clock.Now})
	for _, tt := range []struct {
		name   string
		form   func(code string) url.Values
		before func()
		status int
		err    string
	}{
		{"wrong verifier", func(code string) url.Values { return exchange(code, strings.Repeat("a", 43)) }, nil, 400, "invalid_grant"},
		{"short verifier", func(code string) url.Values { return exchange(code, "abc") }, nil, 400, "invalid_grant"},
		{"no verifier", func(code string) url.Values { return exchange(code, "") }, nil, 400, "invalid_request"},
		{"other redirect", func(code string) url.Values {
			return exchange(code, verifier, "redirect_uri", "http://127.0.0.1:9/other")
		}, nil, 400, "invalid_grant"},
		{"bad secret", func(code string) url.Values { return exchange(code, verifier, "client_secret", "nope") }, nil, 401, "invalid_client"},
		{"unknown code", func(string) url.Values { return exchange("forged", verifier) }, nil, 400, "invalid_grant"},
		{"expired code", func(code string) url.Values { return exchange(code, verifier) }, func() { clock.Advance(time.Minute) }, 400, "invalid_grant"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code := authorize(t, c, authorizeQuery()).Get("code")
			if tt.before != nil {
				tt.before()
			}
			oauthError(t, c.with("").postForm("/oauth/token", tt.form(code)), tt.status, tt.err)
		})
	}
	// A code spent by a failed exchange cannot be retried with the right
	// verifier: whoever holds a stolen code gets one guess.
	code := authorize(t, c, authorizeQuery()).Get("code")
	oauthError(t, c.with("").postForm("/oauth/token", exchange(code, strings.Repeat("b", 43))), 400, "invalid_grant")
	oauthError(t, c.with("").postForm("/oauth/token", exchange(code, verifier)), 400, "invalid_grant")
}

// FuzzAuthorize sends arbitrary queries to the authorization endpoint:
// it answers 302 or 400, never more, and redirects only to an http(s)
// URL that carries either a code or an error.
func FuzzAuthorize(f *testing.F) {
	f.Add(authorizeQuery().Encode())
	f.Add(authorizeQuery("redirect_uri", "http://127.0.0.1:9/%zz").Encode())
	f.Add("client_id=c1&client_id=c1")
	f.Add("%zz")
	f.Add(authorizeQuery("state", "a&b=c#d").Encode())
	s := sandbox.New(sandbox.Config{ClientID: "c1", ClientSecret: "s3cret"})
	f.Fuzz(func(t *testing.T, raw string) {
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1/oauth/authorize", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.RawQuery = raw
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		switch w.Code {
		case http.StatusBadRequest:
		case http.StatusFound:
			loc, err := url.Parse(w.Header().Get("Location"))
			if err != nil || (loc.Scheme != "http" && loc.Scheme != "https") {
				t.Fatalf("redirect to %q", w.Header().Get("Location"))
			}
			if q := loc.Query(); q.Has("code") == q.Has("error") {
				t.Fatalf("redirect %s has neither or both of code and error", loc)
			}
		default:
			t.Fatalf("status %d for %q", w.Code, raw)
		}
	})
}

// The authorization-code grant with PKCE against the sandbox, driven by
// golang.org/x/oauth2 as a host would drive it: the authorization
// endpoint consents at once and redirects back with a code, which the
// client redeems with its verifier.
func Example_authorizationCode() {
	s := sandbox.New(sandbox.Config{})
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	cfg := oauth2.Config{
		ClientID: sandbox.DefaultClientID, ClientSecret: sandbox.DefaultClientSecret,
		RedirectURL: "http://127.0.0.1:9/callback", Scopes: []string{"account:read"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	verifier := oauth2.GenerateVerifier()
	hc := &http.Client{
		Transport:     &http.Transport{Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := hc.Get(cfg.AuthCodeURL("xyz", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	fmt.Println(resp.StatusCode, back.Path, "state:", back.Query().Get("state"))

	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
	tok, err := cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.Type(), "expires in:", tok.ExpiresIn, "refresh token:", tok.RefreshToken != "")
	// Output:
	// 302 /callback state: xyz
	// Bearer expires in: 3600 refresh token: true
}
