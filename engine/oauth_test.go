package engine_test

import (
	"net/http"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

func TestOAuthClient(t *testing.T) {
	manifest := func(authorize, token string) *protocol.Manifest {
		return &protocol.Manifest{Auth: protocol.Auth{Kind: protocol.AuthOAuth2AuthorizationCode, AuthorizeURL: authorize, TokenURL: token}}
	}
	cfg := protocol.Config{"base_url": "http://127.0.0.1:8081"}
	for _, tt := range []struct {
		name          string
		private       bool
		m             *protocol.Manifest
		wantAuthorize string
		wantToken     string
		fail          bool
	}{
		{"filled from config", true, manifest("{{config:base_url}}/oauth/authorize", "{{config:base_url}}/oauth/token"),
			"http://127.0.0.1:8081/oauth/authorize", "http://127.0.0.1:8081/oauth/token", false},
		{"no authorize url", true, manifest("", "https://id.example/token"), "", "https://id.example/token", false},
		{"http refused in production", false, manifest("", "{{config:base_url}}/oauth/token"), "", "", true},
		{"https always", false, manifest("https://id.example/auth", "https://id.example/token"), "https://id.example/auth", "https://id.example/token", false},
		{"missing config key", true, manifest("", "{{config:tenant_url}}/token"), "", "", true},
		{"not a URL", true, manifest("", "token"), "", "", true},
		{"bad authorize url", true, manifest("ftp://id.example/auth", "https://id.example/token"), "", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			private := tt.private
			r := newRig(t, rigOptions{allowPrivate: &private})
			oc, err := r.eng.OAuthClient(tt.m, cfg)
			if tt.fail {
				if err == nil {
					t.Fatalf("OAuthClient = %+v, want an error", oc)
				}
				return
			}
			if err != nil || oc.AuthorizeURL != tt.wantAuthorize || oc.TokenURL != tt.wantToken || oc.HTTP == nil {
				t.Fatalf("OAuthClient = %+v, %v", oc, err)
			}
			if oc.HTTP.CheckRedirect(nil, nil) != http.ErrUseLastResponse {
				t.Error("the OAuth client follows redirects")
			}
		})
	}
}
