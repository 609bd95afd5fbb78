package connections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
	"github.com/sluicehq/sluice/store"
)

// tokenSecret is the secret that holds an authorization-code
// connection's tokens, as one JSON value so they change together.
const tokenSecret = "oauth_token"

// storedToken is the value of tokenSecret.
type storedToken struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

// fromOAuth converts a token response; the expiry is computed on the
// Manager's clock from expires_in, not on the library's wall clock.
func fromOAuth(t *oauth2.Token, now time.Time) storedToken {
	st := storedToken{AccessToken: t.AccessToken, TokenType: t.TokenType, RefreshToken: t.RefreshToken}
	if t.ExpiresIn > 0 {
		st.Expiry = now.Add(time.Duration(t.ExpiresIn) * time.Second).UTC()
	} else if !t.Expiry.IsZero() {
		st.Expiry = t.Expiry.UTC()
	}
	return st
}

// header is the Authorization value; token types are case-insensitive
// (RFC 6749 §7.1) and some providers answer "bearer".
func (t storedToken) header() string {
	typ := t.TokenType
	if typ == "" || strings.EqualFold(typ, "bearer") {
		typ = "Bearer"
	}
	return typ + " " + t.AccessToken
}

// saveToken stores tok as the connection's token secret.
func (m *Manager) saveToken(ctx context.Context, t *store.Tenant, conn string, tok storedToken) error {
	b, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	return m.cfg.Secrets.Put(ctx, t, conn, tokenSecret, string(b))
}

// tokenCell is the token of one connection, shared by every
// engine.Connection built for it: sem serialises loads and refreshes, so
// concurrent runs that find the token stale wait for one refresh.
type tokenCell struct {
	sem   chan struct{}
	tok   *storedToken // nil: load from the secrets store
	stale bool         // the remote refused tok before its expiry
}

func (c *tokenCell) lock(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *tokenCell) unlock() { <-c.sem }

func cellKey(t *store.Tenant, conn string) string { return t.ID() + "/" + conn }

// cell returns the connection's token cell, making it on first use.
func (m *Manager) cell(t *store.Tenant, conn string) *tokenCell {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := cellKey(t, conn)
	c, ok := m.cells[k]
	if !ok {
		c = &tokenCell{sem: make(chan struct{}, 1)}
		m.cells[k] = c
	}
	return c
}

// dropToken forgets the cached token, after waiting for a refresh in
// flight (which stores its result first), so the next use reads the
// secrets store. forget also drops the cell (the connection is gone).
func (m *Manager) dropToken(t *store.Tenant, conn string, forget bool) {
	m.mu.Lock()
	c, ok := m.cells[cellKey(t, conn)]
	if forget {
		delete(m.cells, cellKey(t, conn))
	}
	m.mu.Unlock()
	if !ok {
		return
	}
	c.sem <- struct{}{} // a refresh is bounded by the OAuth client's timeout
	c.tok, c.stale = nil, false
	c.unlock()
}

// codeCredentials is the "default" credential of an authorization-code
// connection: its access token, refreshed through the shared cell.
type codeCredentials struct {
	m      *Manager
	t      *store.Tenant
	conn   string
	cell   *tokenCell
	oauth  *oauth2.Config
	client *http.Client
	scrub  *hostfns.Scrubber

	mu   sync.Mutex
	last string // the access token last handed out, for Invalidate
}

// codeCredentials builds the credentials of an authorization-code
// connection: the refreshing token first, then the named secrets.
func (m *Manager) codeCredentials(t *store.Tenant, c Connection, mf *protocol.Manifest, secrets map[string]string) (hostfns.Credentials, *hostfns.Scrubber, error) {
	if secrets[tokenSecret] == "" {
		return nil, nil, &WrongStateError{Connection: c.ID, State: "awaiting OAuth consent", Op: "authorize"}
	}
	oc, err := m.cfg.Engine.OAuthClient(mf, c.Config)
	if err != nil {
		return nil, nil, err
	}
	values := make([]string, 0, len(secrets)+2)
	for _, v := range secrets {
		values = append(values, v)
	}
	var tok storedToken
	if json.Unmarshal([]byte(secrets[tokenSecret]), &tok) == nil {
		values = append(values, tok.AccessToken, tok.RefreshToken)
	}
	scrub := hostfns.NewScrubber(values...)
	named := maps.Clone(secrets)
	delete(named, tokenSecret)
	cc := &codeCredentials{
		m: m, t: t, conn: c.ID, cell: m.cell(t, c.ID), client: oc.HTTP, scrub: scrub,
		oauth: oauthConfig(mf, oc, secrets, ""),
	}
	return hostfns.CredentialChain{cc, hostfns.StaticCredentials{Secrets: named, Header: mf.Auth.Header}}, scrub, nil
}

// Authorization implements hostfns.Credentials for "default".
func (c *codeCredentials) Authorization(ctx context.Context, name string) (string, string, error) {
	if name != hostfns.DefaultCredential {
		return "", "", fmt.Errorf("%w: %q", hostfns.ErrUnknownCredential, name)
	}
	tok, err := c.token(ctx)
	if err != nil {
		return "", "", err
	}
	// Another view of the connection may have refreshed the token: this
	// run's scrubber must learn it before the value goes anywhere.
	c.scrub.Add(tok.AccessToken, tok.RefreshToken)
	c.mu.Lock()
	c.last = tok.AccessToken
	c.mu.Unlock()
	return "Authorization", tok.header(), nil
}

// Secret implements hostfns.Credentials; the named secrets are the
// chain's next member.
func (c *codeCredentials) Secret(string) (string, bool) { return "", false }

// Invalidate marks the token stale after the remote refused it (a 401),
// unless another user already replaced it: eight runs refused the same
// token still cause one refresh.
func (c *codeCredentials) Invalidate(name string) {
	if name != hostfns.DefaultCredential {
		return
	}
	c.mu.Lock()
	last := c.last
	c.mu.Unlock()
	c.cell.sem <- struct{}{}
	if c.cell.tok != nil && c.cell.tok.AccessToken == last {
		c.cell.stale = true
	}
	c.cell.unlock()
}

// token returns a token valid for at least RefreshBefore, refreshing it
// (once, whoever else is waiting) if needed.
func (c *codeCredentials) token(ctx context.Context) (storedToken, error) {
	if err := c.cell.lock(ctx); err != nil {
		return storedToken{}, err
	}
	defer c.cell.unlock()
	if c.cell.tok == nil {
		secrets, err := c.m.cfg.Secrets.Open(ctx, c.t, c.conn)
		if err != nil {
			return storedToken{}, fmt.Errorf("connections: open secrets of %q: %w", c.conn, err)
		}
		var tok storedToken
		if err := json.Unmarshal([]byte(secrets[tokenSecret]), &tok); err != nil || tok.AccessToken == "" {
			return storedToken{}, &AuthError{Connection: c.conn, Reason: "no OAuth token stored: complete the OAuth flow again"}
		}
		c.scrub.Add(tok.AccessToken, tok.RefreshToken)
		c.cell.tok = &tok
	}
	if !c.cell.stale && c.fresh(*c.cell.tok) {
		return *c.cell.tok, nil
	}
	tok, err := c.refresh(ctx, *c.cell.tok)
	if err != nil {
		return storedToken{}, err
	}
	c.cell.tok, c.cell.stale = &tok, false
	return tok, nil
}

func (c *codeCredentials) fresh(t storedToken) bool {
	return t.AccessToken != "" && (t.Expiry.IsZero() || c.m.cfg.Now().Add(c.m.cfg.RefreshBefore).Before(t.Expiry))
}

// refresh trades the refresh token for new tokens and stores them. A
// refresh token the provider refuses (invalid_grant) will not work again,
// so the connection moves to error until the admin consents again.
func (c *codeCredentials) refresh(ctx context.Context, old storedToken) (storedToken, error) {
	if old.RefreshToken == "" {
		return storedToken{}, c.refused(ctx, "the access token expired and the provider issued no refresh token")
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, c.client)
	nt, err := c.oauth.TokenSource(hctx, &oauth2.Token{RefreshToken: old.RefreshToken}).Token()
	if err != nil {
		reason := "token refresh failed: " + oauthReason(err, c.scrub)
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return storedToken{}, c.refused(ctx, reason)
		}
		return storedToken{}, &AuthError{Connection: c.conn, Reason: reason}
	}
	tok := fromOAuth(nt, c.m.cfg.Now())
	c.scrub.Add(tok.AccessToken, tok.RefreshToken)
	if err := c.m.saveToken(ctx, c.t, c.conn, tok); err != nil {
		// The provider has rotated the tokens already: failing the run
		// would not bring the old ones back. Keep using the new ones and
		// store them at the next refresh.
		c.m.log.Warn("refreshed OAuth token not stored", "tenant", c.t.ID(), "connection", c.conn, "err", err)
	}
	c.m.log.Debug("OAuth token refreshed", "tenant", c.t.ID(), "connection", c.conn)
	return tok, nil
}

// refused moves the connection to error: only a new consent helps.
func (c *codeCredentials) refused(ctx context.Context, reason string) error {
	reason += "; consent again (StartOAuth)"
	cause := &AuthError{Connection: c.conn, Reason: reason}
	_, err := c.m.setState(context.WithoutCancel(ctx), c.t, c.conn, StateError, reason)
	return errors.Join(cause, err)
}

// oauthReason describes a token endpoint error without its body, which
// may echo the client secret.
func oauthReason(err error, scrub *hostfns.Scrubber) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := re.ErrorCode
		if msg == "" && re.Response != nil {
			msg = re.Response.Status
		}
		if re.ErrorDescription != "" {
			msg += ": " + re.ErrorDescription
		}
		return scrub.String(msg)
	}
	return scrub.String(err.Error())
}
