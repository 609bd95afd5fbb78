package hostfns

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// DefaultCredential is the name of a connection's primary credential, the
// one a connector asks for with "auth": "default".
const DefaultCredential = "default"

// Credentials hands the egress door what it injects on a guest's behalf.
// Implementations hold the raw secrets; the guest only ever names them.
type Credentials interface {
	// Authorization returns the header and value that authenticate a
	// request made with "auth": name, or an error wrapping
	// [ErrUnknownCredential] if there is no such credential.
	Authorization(ctx context.Context, name string) (header, value string, err error)
	// Secret returns the value of a "{{secret:NAME}}" header reference.
	Secret(name string) (string, bool)
}

// tokenInvalidator is implemented by Credentials whose values can go stale
// before their stated expiry (OAuth tokens revoked early): after a 401 the
// egress door drops the cached value and tries once more with a fresh one.
type tokenInvalidator interface {
	Invalidate(name string)
}

// StaticCredentials are fixed credentials: API keys and bearer tokens by
// credential name, and named secrets for header references. The zero value
// holds nothing.
type StaticCredentials struct {
	// Header is the header a key goes in (the manifest's auth.header).
	// Empty means "Authorization: Bearer KEY"; any other header gets the
	// key as is.
	Header string
	// Keys maps a credential name ([DefaultCredential]…) to its key.
	Keys map[string]string
	// Secrets maps a secret name to its value.
	Secrets map[string]string
}

// Authorization implements [Credentials].
func (s StaticCredentials) Authorization(_ context.Context, name string) (string, string, error) {
	key, ok := s.Keys[name]
	if !ok {
		return "", "", fmt.Errorf("%w: %q", ErrUnknownCredential, name)
	}
	if s.Header == "" {
		return "Authorization", "Bearer " + key, nil
	}
	return s.Header, key, nil
}

// Secret implements [Credentials].
func (s StaticCredentials) Secret(name string) (string, bool) {
	v, ok := s.Secrets[name]
	return v, ok
}

// CredentialChain asks each Credentials in turn: the first that knows a
// credential or secret answers. It composes, for example, a [TokenSource]
// for "default" with [StaticCredentials] for named secrets.
type CredentialChain []Credentials

// Authorization implements [Credentials].
func (c CredentialChain) Authorization(ctx context.Context, name string) (string, string, error) {
	for _, cr := range c {
		h, v, err := cr.Authorization(ctx, name)
		if errors.Is(err, ErrUnknownCredential) {
			continue
		}
		return h, v, err
	}
	return "", "", fmt.Errorf("%w: %q", ErrUnknownCredential, name)
}

// Secret implements [Credentials].
func (c CredentialChain) Secret(name string) (string, bool) {
	for _, cr := range c {
		if v, ok := cr.Secret(name); ok {
			return v, true
		}
	}
	return "", false
}

// invalidate drops a cached credential from c (or any member of a
// chain) and reports whether anything could be dropped.
func invalidate(c Credentials, name string) bool {
	switch x := c.(type) {
	case CredentialChain:
		dropped := false
		for _, cr := range x {
			dropped = invalidate(cr, name) || dropped
		}
		return dropped
	case tokenInvalidator:
		x.Invalidate(name)
		return true
	}
	return false
}

// OAuthConfig configures a [TokenSource] (OAuth2 client credentials grant,
// RFC 6749 §4.4).
type OAuthConfig struct {
	// TokenURL is the token endpoint; it must be https unless AllowHTTP.
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string
	// EndpointParams are extra token request parameters (audience…).
	EndpointParams url.Values
	// AuthStyle is how the client authenticates (0 = auto-detect).
	AuthStyle oauth2.AuthStyle
	// Transport carries the token requests: pass the engine's guarded
	// transport ([NewTransport]), so the token endpoint gets the same
	// address checks as every other egress. nil builds a guarded
	// transport with the production settings.
	Transport http.RoundTripper
	// Timeout bounds one token request (0 = 30s).
	Timeout time.Duration
	// RefreshBefore renews a token this long before it expires (0 = 1m),
	// so a request never leaves with a token about to lapse.
	RefreshBefore time.Duration
	// Scrub learns every token issued (and the client secret), so they
	// are scrubbed from everything the run writes. nil = not scrubbed.
	Scrub *Scrubber
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// AllowHTTP accepts an http token URL. Only for tests and private
	// deployments (with NetOptions.AllowPrivate): the client secret then
	// crosses the network in clear.
	AllowHTTP bool
}

// TokenSource is the "default" credential of a connection whose manifest
// declares oauth2_client_credentials. It caches the token, renews it before
// expiry and serialises renewals: concurrent requests that find the token
// stale wait for one fetch instead of stampeding the token endpoint.
type TokenSource struct {
	cfg OAuthConfig
	rt  http.RoundTripper
	sem chan struct{} // a ctx-aware mutex over tok and fetches

	tok *oauth2.Token
}

// NewTokenSource returns a TokenSource; no token is fetched until needed.
func NewTokenSource(cfg OAuthConfig) *TokenSource {
	rt := cfg.Transport
	if rt == nil {
		rt = NewTransport(NetOptions{})
	}
	return &TokenSource{cfg: cfg, rt: rt, sem: make(chan struct{}, 1)}
}

// Token returns a valid token, fetching one if none is cached or the cached
// one expires within RefreshBefore.
func (t *TokenSource) Token(ctx context.Context) (*oauth2.Token, error) {
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-t.sem }()
	if t.fresh() {
		return t.tok, nil
	}
	tok, err := t.fetch(ctx)
	if err != nil {
		return nil, err
	}
	t.tok = tok
	return tok, nil
}

func (t *TokenSource) fresh() bool {
	if t.tok == nil || t.tok.AccessToken == "" {
		return false
	}
	if t.tok.Expiry.IsZero() {
		return true
	}
	now := time.Now
	if t.cfg.Now != nil {
		now = t.cfg.Now
	}
	return now().Add(orDuration(t.cfg.RefreshBefore, time.Minute)).Before(t.tok.Expiry)
}

func (t *TokenSource) fetch(ctx context.Context) (*oauth2.Token, error) {
	u, err := url.Parse(t.cfg.TokenURL)
	if err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && t.cfg.AllowHTTP) {
		return nil, fmt.Errorf("%w: token URL must be an absolute https URL", ErrToken)
	}
	t.cfg.Scrub.Add(t.cfg.ClientSecret)
	cc := clientcredentials.Config{
		ClientID:       t.cfg.ClientID,
		ClientSecret:   t.cfg.ClientSecret,
		TokenURL:       t.cfg.TokenURL,
		Scopes:         t.cfg.Scopes,
		EndpointParams: t.cfg.EndpointParams,
		AuthStyle:      t.cfg.AuthStyle,
	}
	client := &http.Client{
		Transport: t.rt,
		Timeout:   orDuration(t.cfg.Timeout, 30*time.Second),
		// A token endpoint that redirects is misconfigured or hostile;
		// following it would send the client secret elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, client))
	if err != nil {
		// The error may quote the endpoint's body, which may echo the
		// client secret: scrub it, and do not wrap the raw error (but do
		// keep a refused address recognisable).
		msg := t.cfg.Scrub.String(err.Error())
		if errors.Is(err, ErrDeniedAddress) {
			return nil, fmt.Errorf("%w: %w: %s", ErrToken, ErrDeniedAddress, msg)
		}
		return nil, fmt.Errorf("%w: %s", ErrToken, msg)
	}
	t.cfg.Scrub.Add(tok.AccessToken)
	return tok, nil
}

// Authorization implements [Credentials] for [DefaultCredential].
func (t *TokenSource) Authorization(ctx context.Context, name string) (string, string, error) {
	if name != DefaultCredential {
		return "", "", fmt.Errorf("%w: %q", ErrUnknownCredential, name)
	}
	tok, err := t.Token(ctx)
	if err != nil {
		return "", "", err
	}
	return "Authorization", tok.Type() + " " + tok.AccessToken, nil
}

// Secret implements [Credentials]; a TokenSource holds no named secrets.
func (t *TokenSource) Secret(string) (string, bool) { return "", false }

// Invalidate drops the cached token, so the next request fetches anew.
func (t *TokenSource) Invalidate(name string) {
	if name != DefaultCredential {
		return
	}
	t.sem <- struct{}{}
	t.tok = nil
	<-t.sem
}
