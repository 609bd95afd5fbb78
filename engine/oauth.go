package engine

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// OAuthClient is what the host needs to run a connection's OAuth2 flow
// outside a run (the authorization code exchange and refreshes): the
// manifest's endpoints with the connection config filled in, and an HTTP
// client over the engine's guarded egress transport.
type OAuthClient struct {
	AuthorizeURL string // empty if the manifest declares none
	TokenURL     string
	// HTTP never follows redirects (a token endpoint that redirects
	// would carry the client secret elsewhere) and times out after 30 s.
	HTTP *http.Client
}

// OAuthClient returns the OAuth2 endpoints and client of a connection
// whose manifest declares an OAuth2 auth kind. The URLs must be https;
// plain http is accepted only with Config.AllowPrivateNetworks, as for
// client-credentials token requests.
func (e *Engine) OAuthClient(m *protocol.Manifest, cfg protocol.Config) (OAuthClient, error) {
	var oc OAuthClient
	var err error
	if oc.TokenURL, err = e.oauthURL("token_url", m.Auth.TokenURL, cfg); err != nil {
		return oc, err
	}
	if m.Auth.AuthorizeURL != "" {
		if oc.AuthorizeURL, err = e.oauthURL("authorize_url", m.Auth.AuthorizeURL, cfg); err != nil {
			return oc, err
		}
	}
	oc.HTTP = &http.Client{
		Transport:     e.transport,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return oc, nil
}

func (e *Engine) oauthURL(field, tmpl string, cfg protocol.Config) (string, error) {
	s, err := expandConfig(tmpl, cfg)
	if err != nil {
		return "", fmt.Errorf("auth %s: %w", field, err)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && e.cfg.AllowPrivateNetworks) {
		return "", fmt.Errorf("auth %s: %q must be an absolute https URL", field, s)
	}
	return s, nil
}
