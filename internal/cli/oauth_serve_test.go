package cli

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// The OAuth2 authorization-code flow through the API only: a pending
// connection, /v1/oauth/start, the provider's consent redirect (the
// sandbox), /v1/oauth/callback with the code; the connection turns active
// and syncs with the token it earned (PKCE checked by the sandbox).
func TestServeOAuthAuthorizationCodeOverHTTP(t *testing.T) {
	wasm, manifest := directoryBuild(t)
	bundle := readBundle(t, wasm, manifest)
	var m protocol.Manifest
	if err := json.Unmarshal(bundle.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	m.Auth = protocol.Auth{Kind: protocol.AuthOAuth2AuthorizationCode,
		AuthorizeURL: "{{config:base_url}}/oauth/authorize", TokenURL: "{{config:base_url}}/oauth/token",
		Scopes: m.Auth.Scopes}
	bundle.Manifest, _ = json.Marshal(m)
	sb := sandbox.New(sandbox.Config{Users: 100})
	remote, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()

	data := t.TempDir()
	keyFile := filepath.Join(data, "admin.key")
	s := startServe(t, "--data", data, "--allow-private", "--admin-key-file", keyFile)
	key := adminKey(t, keyFile)
	upload(t, s.base, key, bundle)
	body, _ := json.Marshal(map[string]any{"id": "dir", "connector": "directory", "version": m.Version,
		"scopes": []string{"users:read", "groups:read"}, "config": map[string]string{"base_url": remote},
		"credentials": map[string]string{"client_id": sandbox.DefaultClientID, "client_secret": sandbox.DefaultClientSecret}})
	code, b := call(t, "POST", s.base+"/v1/tenants/acme/connections", key, "application/json", body)
	if code != 201 || !strings.Contains(string(b), `"state":"pending"`) {
		t.Fatalf("connection: %d %s, want 201 pending", code, b)
	}
	code, b = call(t, "GET", s.base+"/v1/oauth/start?tenant=acme&connection=dir", key, "", nil)
	var start struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	if code != 200 || json.Unmarshal(b, &start) != nil || !strings.HasPrefix(start.AuthorizeURL, remote+"/oauth/authorize?") {
		t.Fatalf("oauth start: %d %s", code, b)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(start.AuthorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.Contains(loc, "/v1/oauth/callback?") {
		t.Fatalf("consent: %d Location %q", resp.StatusCode, loc)
	}
	if code, b := call(t, "GET", loc, "", "", nil); code != 200 || !strings.Contains(string(b), `"authorized"`) {
		t.Fatalf("callback: %d %s", code, b)
	}
	if code, b := call(t, "GET", loc, "", "", nil); code < 400 {
		t.Fatalf("a replayed callback (state reused) = %d %s, want refused", code, b)
	}
	code, b = call(t, "GET", s.base+"/v1/tenants/acme/connections/dir", key, "", nil)
	if code != 200 || !strings.Contains(string(b), `"state":"active"`) || !strings.Contains(string(b), `"account_id"`) {
		t.Fatalf("connection after consent: %d %s", code, b)
	}
	code, b = call(t, "POST", s.base+"/v1/tenants/acme/connections/dir/sync", key, "application/json", []byte(`{"full":true}`))
	if code != 202 {
		t.Fatalf("sync: %d %s", code, b)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		code, b := call(t, "GET", s.base+"/v1/tenants/acme/connections/dir/runs", key, "", nil)
		if code == 200 && strings.Contains(string(b), `"state":"succeeded"`) {
			return
		}
		if time.Now().After(deadline) || strings.Contains(string(b), `"state":"failed"`) {
			t.Fatalf("sync with the authorization-code token: %d %s", code, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
