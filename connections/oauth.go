package connections

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"

	"golang.org/x/oauth2"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
	"github.com/sluicehq/sluice/store"
)

const maxRedirectURI = 1024

// StartOAuth begins the authorization-code flow of a connection: it
// stores a fresh state (single-use, bound to the tenant and connection,
// valid for Config.StateTTL) with a PKCE verifier, and returns the
// provider's authorization URL to send the tenant admin to. redirectURI
// is the host's callback; the provider sends the code back there.
func (m *Manager) StartOAuth(ctx context.Context, t *store.Tenant, id, redirectURI string) (string, error) {
	c, err := m.Get(ctx, t, id)
	if err != nil {
		return "", err
	}
	if c.State == StateDisabled {
		return "", &WrongStateError{Connection: id, State: c.State, Op: "start an OAuth flow"}
	}
	if err := checkRedirect(redirectURI); err != nil {
		return "", err
	}
	mod, err := m.module(ctx, c.Connector, c.Version)
	if err != nil {
		return "", err
	}
	mf := mod.Manifest
	if mf.Auth.Kind != protocol.AuthOAuth2AuthorizationCode {
		return "", &WrongStateError{Connection: id, State: "authorized by " + mf.Auth.Kind, Op: "start an OAuth flow"}
	}
	oc, err := m.cfg.Engine.OAuthClient(mf, c.Config)
	if err != nil {
		return "", &FieldError{Field: "config", Reason: err.Error()}
	}
	if oc.AuthorizeURL == "" {
		return "", &WrongStateError{Connection: id, State: "of a connector without auth.authorize_url", Op: "start an OAuth flow"}
	}
	secrets, err := m.cfg.Secrets.Open(ctx, t, id)
	if err != nil {
		return "", fmt.Errorf("connections: open secrets of %q: %w", id, err)
	}
	if secrets[engine.SecretClientID] == "" {
		return "", &FieldError{Field: "credentials." + engine.SecretClientID, Reason: "is required by auth " + mf.Auth.Kind}
	}
	state, verifier := randomState(), oauth2.GenerateVerifier()
	now := m.cfg.Now()
	err = m.cfg.Store.Platform().PutOAuthState(ctx, state, store.OAuthState{
		Tenant: t.ID(), Connection: id, ConnectionCreatedAt: c.CreatedAt, Verifier: verifier,
		RedirectURI: redirectURI, CreatedAt: now, ExpiresAt: now.Add(m.cfg.StateTTL),
	})
	if err != nil {
		return "", fmt.Errorf("connections: store OAuth state: %w", err)
	}
	cfg := oauthConfig(mf, oc, secrets, redirectURI)
	return cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil
}

// CompleteOAuth finishes a flow StartOAuth began, with the state and
// code the provider sent to the callback: it exchanges the code (with
// the PKCE verifier) for tokens, stores them as secrets and authorizes
// the connection. It returns the tenant and connection the state was
// bound to, also when authorizing fails (the connection is then in
// state error). A state works once.
func (m *Manager) CompleteOAuth(ctx context.Context, state, code string) (tenant, connection string, err error) {
	return m.completeOAuth(ctx, "", state, code)
}

// CompleteOAuthFor is CompleteOAuth for a caller that knows the tenant
// (an authenticated callback): a state of another tenant fails with
// ErrOAuthState and stays usable by its own tenant.
func (m *Manager) CompleteOAuthFor(ctx context.Context, t *store.Tenant, state, code string) (connection string, err error) {
	_, connection, err = m.completeOAuth(ctx, t.ID(), state, code)
	return connection, err
}

// DenyOAuth records that the provider answered the callback with an
// error (the admin refused consent…): the state is spent and a pending
// connection moves to error with the provider's reason. It returns an
// *AuthError carrying that reason.
func (m *Manager) DenyOAuth(ctx context.Context, state, errorCode, description string) (tenant, connection string, err error) {
	st, t, c, err := m.takeState(ctx, "", state)
	if err != nil {
		return "", "", err
	}
	reason := truncate("the provider refused authorization: "+errorCode, 200)
	if description != "" {
		reason += ": " + truncate(description, 500)
	}
	cause := &AuthError{Connection: c.ID, Reason: reason}
	if c.State == StateActive { // a refused re-consent leaves working tokens alone
		return st.Tenant, c.ID, cause
	}
	_, err = m.fail(ctx, t, c, cause)
	return st.Tenant, c.ID, err
}

func (m *Manager) completeOAuth(ctx context.Context, tenant, state, code string) (string, string, error) {
	if code == "" {
		return "", "", &FieldError{Field: "code", Reason: "is required"}
	}
	st, t, c, err := m.takeState(ctx, tenant, state)
	if err != nil {
		return "", "", err
	}
	mod, err := m.module(ctx, c.Connector, c.Version)
	if err != nil {
		return st.Tenant, c.ID, err
	}
	if err := m.exchange(ctx, t, c, mod, st, code); err != nil {
		if c.State == StateActive {
			return st.Tenant, c.ID, err
		}
		_, err = m.fail(ctx, t, c, err)
		return st.Tenant, c.ID, err
	}
	_, err = m.authorize(ctx, t, c, mod)
	return st.Tenant, c.ID, err
}

// takeState spends a state and returns its flow and connection.
func (m *Manager) takeState(ctx context.Context, tenant, state string) (store.OAuthState, *store.Tenant, Connection, error) {
	var c Connection
	if state == "" {
		return store.OAuthState{}, nil, c, &FieldError{Field: "state", Reason: "is required"}
	}
	st, err := m.cfg.Store.Platform().TakeOAuthState(ctx, state, tenant)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrInvalid):
		return st, nil, c, fmt.Errorf("%w: unknown, already used or issued to another tenant", ErrOAuthState)
	case err != nil:
		return st, nil, c, fmt.Errorf("connections: read OAuth state: %w", err)
	case !m.cfg.Now().Before(st.ExpiresAt):
		return st, nil, c, fmt.Errorf("%w: expired at %s", ErrOAuthState, st.ExpiresAt.Format("2006-01-02T15:04:05Z07:00"))
	}
	t, err := m.cfg.Store.Tenant(st.Tenant)
	if err != nil {
		return st, nil, c, fmt.Errorf("%w: %w", ErrOAuthState, err)
	}
	c, err = t.Connection(ctx, st.Connection)
	if errors.Is(err, store.ErrNotFound) || err == nil && !c.CreatedAt.Equal(st.ConnectionCreatedAt) {
		return st, nil, c, fmt.Errorf("%w: its connection %q no longer exists", ErrOAuthState, st.Connection)
	}
	if err != nil {
		return st, nil, c, storeErr(st.Connection, err)
	}
	if c.State == StateDisabled {
		return st, nil, c, &WrongStateError{Connection: c.ID, State: c.State, Op: "complete an OAuth flow"}
	}
	return st, t, c, nil
}

// exchange trades the code for tokens through the engine's guarded
// transport and stores them.
func (m *Manager) exchange(ctx context.Context, t *store.Tenant, c Connection, mod *engine.Module, st store.OAuthState, code string) error {
	secrets, err := m.cfg.Secrets.Open(ctx, t, c.ID)
	if err != nil {
		return fmt.Errorf("connections: open secrets of %q: %w", c.ID, err)
	}
	oc, err := m.cfg.Engine.OAuthClient(mod.Manifest, c.Config)
	if err != nil {
		return &AuthError{Connection: c.ID, Reason: err.Error()}
	}
	cfg := oauthConfig(mod.Manifest, oc, secrets, st.RedirectURI)
	tok, err := cfg.Exchange(context.WithValue(ctx, oauth2.HTTPClient, oc.HTTP), code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		scrub := hostfns.NewScrubber(cfg.ClientSecret, code, st.Verifier)
		return &AuthError{Connection: c.ID, Reason: "OAuth code exchange failed: " + oauthReason(err, scrub)}
	}
	if err := m.saveToken(ctx, t, c.ID, fromOAuth(tok, m.cfg.Now())); err != nil {
		return fmt.Errorf("connections: store OAuth token of %q: %w", c.ID, err)
	}
	m.dropToken(t, c.ID, false)
	return nil
}

// oauthConfig is the client side of a connection's flow. The client
// authenticates with HTTP Basic, which RFC 6749 §2.3.1 obliges every
// provider to accept. The library's auto-detection would retry a refused
// request with the credentials in the form: a retried code exchange
// spends the code and hides the provider's first answer.
func oauthConfig(mf *protocol.Manifest, oc engine.OAuthClient, secrets map[string]string, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     secrets[engine.SecretClientID],
		ClientSecret: secrets[engine.SecretClientSecret],
		RedirectURL:  redirectURI,
		Scopes:       mf.Auth.Scopes,
		Endpoint:     oauth2.Endpoint{AuthURL: oc.AuthorizeURL, TokenURL: oc.TokenURL, AuthStyle: oauth2.AuthStyleInHeader},
	}
}

// checkRedirect accepts an absolute http(s) URL without fragment.
func checkRedirect(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return &FieldError{Field: "redirect_uri", Reason: "is required"}
	case len(raw) > maxRedirectURI:
		return &FieldError{Field: "redirect_uri", Reason: fmt.Sprintf("must be at most %d bytes", maxRedirectURI)}
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || u.User != nil:
		return &FieldError{Field: "redirect_uri", Reason: "must be an absolute http(s) URL without fragment or user info"}
	}
	return nil
}

// randomState is 32 random bytes, base64url: unguessable, and safe in a
// query string as is.
func randomState() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
