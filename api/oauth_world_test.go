package api_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/sluicehq/sluice/api"
)

// oauthState starts the OAuth flow of the tenant's crm with the
// connections manager and returns the state it issued (bound to that
// connection, single use), without the provider's consent.
func (w *world) oauthState(t *testing.T, tenant string) string {
	t.Helper()
	u, err := w.conns.StartOAuth(context.Background(), w.tenant(t, tenant), "crm", w.url+"/v1/oauth/callback")
	if err != nil {
		t.Fatalf("start OAuth of %s/crm: %v", tenant, err)
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Query().Get("state") == "" {
		t.Fatalf("authorize URL %q names no state (%v)", u, err)
	}
	return parsed.Query().Get("state")
}

// TestOAuthRedirectURI: the redirect URI the connections manager puts in
// the provider's authorize URL is the API's own callback: from
// Config.BaseURL, or from the request's host for a loopback server.
func TestOAuthRedirectURI(t *testing.T) {
	w := newWorld(t, true)
	for _, base := range []string{"", "https://sluice.example.com/"} {
		_, srvURL := w.serveAlso(t, func(c *api.Config) { c.BaseURL = base })
		want := srvURL + "/v1/oauth/callback"
		if base != "" {
			want = "https://sluice.example.com/v1/oauth/callback"
		}
		resp, b := w.do(t, srvURL, api.PTenantOwn, "GET", "/v1/oauth/start?tenant=acme&connection=crm", "", nil)
		var got api.OAuthStart
		if err := json.Unmarshal(b, &got); resp.StatusCode != 200 || err != nil {
			t.Fatalf("base %q: oauth start %d %s", base, resp.StatusCode, b)
		}
		u, err := url.Parse(got.AuthorizeURL)
		if err != nil || u.Query().Get("redirect_uri") != want {
			t.Errorf("base %q: authorize URL %q, want redirect_uri %q", base, got.AuthorizeURL, want)
		}
	}
}
