package hostfns

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

func TestStaticCredentials(t *testing.T) {
	ctx := context.Background()
	c := StaticCredentials{Keys: map[string]string{"default": "k1"}, Secrets: map[string]string{"s": "v"}}
	if h, v, err := c.Authorization(ctx, "default"); err != nil || h != "Authorization" || v != "Bearer k1" {
		t.Fatalf("%s %s %v", h, v, err)
	}
	c.Header = "X-Api-Key"
	if h, v, _ := c.Authorization(ctx, "default"); h != "X-Api-Key" || v != "k1" {
		t.Fatalf("%s %s", h, v)
	}
	if _, _, err := c.Authorization(ctx, "other"); !errors.Is(err, ErrUnknownCredential) {
		t.Fatalf("err = %v", err)
	}
	if v, ok := c.Secret("s"); !ok || v != "v" {
		t.Fatal("secret")
	}
	if _, ok := c.Secret("t"); ok {
		t.Fatal("unknown secret found")
	}
}

func TestCredentialChain(t *testing.T) {
	ctx := context.Background()
	chain := CredentialChain{
		StaticCredentials{Keys: map[string]string{"default": "first"}},
		StaticCredentials{Keys: map[string]string{"default": "second", "admin": "adm"}, Secrets: map[string]string{"s": "v"}},
	}
	if _, v, _ := chain.Authorization(ctx, "default"); v != "Bearer first" {
		t.Fatalf("default = %s", v)
	}
	if _, v, _ := chain.Authorization(ctx, "admin"); v != "Bearer adm" {
		t.Fatalf("admin = %s", v)
	}
	if _, _, err := chain.Authorization(ctx, "x"); !errors.Is(err, ErrUnknownCredential) {
		t.Fatalf("err = %v", err)
	}
	if v, ok := chain.Secret("s"); !ok || v != "v" {
		t.Fatal("secret through the chain")
	}
	if invalidate(chain, "default") {
		t.Fatal("static credentials claim to drop a cache")
	}
}

// tokenServer is an OAuth2 token endpoint over TLS on 127.0.0.1 that
// issues tok-1, tok-2… and counts requests.
type tokenServer struct {
	srv       *httptest.Server
	issued    atomic.Int32
	expiresIn int
	fail      atomic.Bool
	delay     time.Duration
}

func newTokenServer(t *testing.T, expiresIn int) *tokenServer {
	ts := &tokenServer{expiresIn: expiresIn}
	ts.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "client_credentials" {
			http.Error(w, "bad grant", http.StatusBadRequest)
			return
		}
		id, secret, _ := r.BasicAuth()
		if ts.fail.Load() || id != "client-1" || secret != "client-secret-xyz" {
			// A careless endpoint echoing the client secret in its error.
			http.Error(w, `{"error":"invalid_client","error_description":"bad secret `+secret+`"}`, http.StatusUnauthorized)
			return
		}
		time.Sleep(ts.delay)
		n := ts.issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("tok-%d-abcdef", n), "token_type": "bearer", "expires_in": ts.expiresIn,
			"scope": r.Form.Get("scope"),
		})
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *tokenServer) transport(allowPrivate bool) *http.Transport {
	pool := x509.NewCertPool()
	pool.AddCert(ts.srv.Certificate())
	return NewTransport(NetOptions{AllowPrivate: allowPrivate, RootCAs: pool})
}

func TestTokenSourceCachesAndRefreshes(t *testing.T) {
	ts := newTokenServer(t, 3600)
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	scrub := NewScrubber()
	src := NewTokenSource(OAuthConfig{
		TokenURL: ts.srv.URL + "/token", ClientID: "client-1", ClientSecret: "client-secret-xyz",
		Scopes: []string{"read"}, Transport: ts.transport(true), Scrub: scrub,
		AuthStyle: oauth2.AuthStyleInHeader,
		Now:       func() time.Time { return time.Unix(0, clock.Load()) },
	})
	ctx := context.Background()
	h, v, err := src.Authorization(ctx, DefaultCredential)
	if err != nil || h != "Authorization" || v != "Bearer tok-1-abcdef" {
		t.Fatalf("%s %s %v", h, v, err)
	}
	if _, v, _ = src.Authorization(ctx, DefaultCredential); v != "Bearer tok-1-abcdef" || ts.issued.Load() != 1 {
		t.Fatalf("not cached: %s, %d issued", v, ts.issued.Load())
	}
	if scrub.String("x tok-1-abcdef client-secret-xyz") != "x [REDACTED] [REDACTED]" {
		t.Fatal("the token and client secret were not added to the scrubber")
	}
	// 30s before expiry is inside the default refresh margin (1m).
	clock.Store(now.Add(time.Hour - 30*time.Second).UnixNano())
	if _, v, _ = src.Authorization(ctx, DefaultCredential); v != "Bearer tok-2-abcdef" {
		t.Fatalf("not refreshed before expiry: %s", v)
	}
	src.Invalidate(DefaultCredential)
	if _, v, _ = src.Authorization(ctx, DefaultCredential); v != "Bearer tok-3-abcdef" {
		t.Fatalf("not refetched after Invalidate: %s", v)
	}
	if _, _, err := src.Authorization(ctx, "admin"); !errors.Is(err, ErrUnknownCredential) {
		t.Fatalf("err = %v", err)
	}
}

func TestTokenSourceSerialisesFetches(t *testing.T) {
	ts := newTokenServer(t, 3600)
	ts.delay = 50 * time.Millisecond
	src := NewTokenSource(OAuthConfig{TokenURL: ts.srv.URL, ClientID: "client-1", ClientSecret: "client-secret-xyz", Transport: ts.transport(true)})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := src.Token(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := ts.issued.Load(); n != 1 {
		t.Fatalf("%d tokens fetched for 8 concurrent callers, want 1", n)
	}
}

func TestTokenSourceErrors(t *testing.T) {
	ts := newTokenServer(t, 3600)
	ts.fail.Store(true)
	scrub := NewScrubber("client-secret-xyz")
	src := NewTokenSource(OAuthConfig{TokenURL: ts.srv.URL, ClientID: "client-1", ClientSecret: "client-secret-xyz", Transport: ts.transport(true), Scrub: scrub})
	_, err := src.Token(context.Background())
	if !errors.Is(err, ErrToken) || strings.Contains(err.Error(), "client-secret-xyz") {
		t.Fatalf("err = %v", err)
	}
	// http token URLs are refused before any request.
	plain := NewTokenSource(OAuthConfig{TokenURL: "http://127.0.0.1:1/token", Transport: ts.transport(true)})
	if _, err := plain.Token(context.Background()); !errors.Is(err, ErrToken) || !strings.Contains(err.Error(), "https") {
		t.Fatalf("err = %v", err)
	}
	// AllowHTTP lifts the https rule (the request then fails on the
	// closed port, not on the scheme).
	plain = NewTokenSource(OAuthConfig{TokenURL: "http://127.0.0.1:1/token", Transport: ts.transport(true), AllowHTTP: true})
	if _, err := plain.Token(context.Background()); !errors.Is(err, ErrToken) || strings.Contains(err.Error(), "https") {
		t.Fatalf("err = %v", err)
	}
	// The token endpoint goes through the guarded transport: without
	// AllowPrivate, 127.0.0.1 is refused.
	ts.fail.Store(false)
	guarded := NewTokenSource(OAuthConfig{TokenURL: ts.srv.URL, ClientID: "client-1", ClientSecret: "client-secret-xyz", Transport: ts.transport(false)})
	if _, err := guarded.Token(context.Background()); !errors.Is(err, ErrDeniedAddress) || !strings.Contains(err.Error(), "not allowed") || ts.issued.Load() != 0 {
		t.Fatalf("err = %v, issued %d", err, ts.issued.Load())
	}
}

// A token endpoint on a forbidden address surfaces as denied_address, the
// same as the API host itself would.
func TestHTTPTokenEndpointDeniedAddress(t *testing.T) {
	ts := newTokenServer(t, 3600)
	srv, hp := server(t, echo)
	h, st, _ := newTestHTTP(t, hp, func(c *HTTPConfig) {
		c.Credentials = NewTokenSource(OAuthConfig{TokenURL: ts.srv.URL, ClientID: "client-1", ClientSecret: "client-secret-xyz", Transport: ts.transport(false)})
	})
	resp := h.Do(context.Background(), protocol.HTTPRequest{URL: srv.URL, Auth: DefaultCredential})
	if resp.ErrorType != ErrorTypeDeniedAddress || st.LastDenial() != ErrorTypeDeniedAddress || ts.issued.Load() != 0 {
		t.Fatalf("got %+v, last denial %q", resp, st.LastDenial())
	}
}

// TestHTTPRefreshesTokenOn401: a token revoked before its expiry is
// dropped after a 401 and the request is retried once with a fresh one.
func TestHTTPRefreshesTokenOn401(t *testing.T) {
	ts := newTokenServer(t, 3600)
	var hits atomic.Int32
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/always401" || r.Header.Get("Authorization") != "Bearer tok-2-abcdef" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("fresh"))
	})
	tr := ts.transport(true)
	creds := CredentialChain{
		NewTokenSource(OAuthConfig{TokenURL: ts.srv.URL, ClientID: "client-1", ClientSecret: "client-secret-xyz", Transport: tr}),
		StaticCredentials{Secrets: map[string]string{"k": "static-value"}},
	}
	h, _, _ := newTestHTTP(t, hp, func(c *HTTPConfig) { c.Credentials = creds; c.Transport = tr })
	resp := h.Do(context.Background(), protocol.HTTPRequest{URL: srv.URL, Auth: DefaultCredential})
	if resp.Status != 200 || string(resp.Body) != "fresh" || hits.Load() != 2 || ts.issued.Load() != 2 {
		t.Fatalf("got %d %q, hits %d, tokens %d", resp.Status, resp.Body, hits.Load(), ts.issued.Load())
	}
	// One refresh per call: a 401 with the fresh token is the answer.
	hits.Store(0)
	resp = h.Do(context.Background(), protocol.HTTPRequest{URL: srv.URL + "/always401", Auth: DefaultCredential, Headers: map[string]string{"X-K": "{{secret:k}}"}})
	if resp.Status != http.StatusUnauthorized || hits.Load() != 2 || ts.issued.Load() != 3 {
		t.Fatalf("got %d, hits %d, tokens %d; want 401 after one refresh", resp.Status, hits.Load(), ts.issued.Load())
	}
}
