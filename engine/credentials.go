package engine

import (
	"fmt"
	"regexp"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
)

// Credential secret names a connection supplies, by auth kind.
const (
	SecretClientID     = "client_id"
	SecretClientSecret = "client_secret"
	SecretAPIKey       = "api_key"
)

var configRef = regexp.MustCompile(`\{\{config:([A-Za-z0-9_.-]+)\}\}`)

// Credentials builds what the egress door injects for a connection: the
// manifest's auth (an OAuth2 client-credentials token source, an API key,
// or nothing) plus every secret by name for {{secret:NAME}} references.
// The scrubber returned knows every secret value and learns each token as
// it is issued; put it in Connection.Scrub so runs redact tokens too.
func (e *Engine) Credentials(m *protocol.Manifest, cfg protocol.Config, secrets map[string]string) (hostfns.Credentials, *hostfns.Scrubber, error) {
	scrub := e.scrubFor(secrets)
	named := hostfns.StaticCredentials{Secrets: secrets, Header: m.Auth.Header}
	switch m.Auth.Kind {
	case protocol.AuthOAuth2ClientCredentials:
		id, sec := secrets[SecretClientID], secrets[SecretClientSecret]
		if id == "" || sec == "" {
			return nil, nil, fmt.Errorf("auth %s needs secrets %q and %q", m.Auth.Kind, SecretClientID, SecretClientSecret)
		}
		tokenURL, err := expandConfig(m.Auth.TokenURL, cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("auth token_url: %w", err)
		}
		ts := hostfns.NewTokenSource(hostfns.OAuthConfig{
			TokenURL: tokenURL, ClientID: id, ClientSecret: sec, Scopes: m.Auth.Scopes,
			Transport: e.transport, Scrub: scrub,
			AllowHTTP: e.cfg.AllowPrivateNetworks,
		})
		return hostfns.CredentialChain{ts, named}, scrub, nil
	case protocol.AuthAPIKey:
		key := secrets[SecretAPIKey]
		if key == "" {
			return nil, nil, fmt.Errorf("auth %s needs secret %q", m.Auth.Kind, SecretAPIKey)
		}
		named.Keys = map[string]string{hostfns.DefaultCredential: key}
		return named, scrub, nil
	case protocol.AuthNone, "":
		return named, scrub, nil
	}
	return nil, nil, fmt.Errorf("auth kind %q is not supported here", m.Auth.Kind)
}

// scrubFor is a scrubber over a connection's secrets; tokens are added as
// they are issued.
func (e *Engine) scrubFor(secrets map[string]string) *hostfns.Scrubber {
	vals := make([]string, 0, len(secrets))
	for _, v := range secrets {
		vals = append(vals, v)
	}
	return hostfns.NewScrubber(vals...)
}

// expandConfig fills {{config:KEY}} references; a missing key is an error.
func expandConfig(s string, cfg protocol.Config) (string, error) {
	var missing string
	out := configRef.ReplaceAllStringFunc(s, func(ref string) string {
		k := configRef.FindStringSubmatch(ref)[1]
		v, ok := cfg[k]
		if !ok {
			missing = k
		}
		return v
	})
	if missing != "" {
		return "", fmt.Errorf("config %q is not set", missing)
	}
	return out, nil
}
