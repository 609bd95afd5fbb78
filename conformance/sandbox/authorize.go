package sandbox

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636) and
// rotating refresh tokens (§6). The sandbox has no users, so the
// authorization endpoint consents at once; everything a client can get
// wrong is still checked the way a strict provider checks it, because
// that is what the host's OAuth code is tested against.

// Grants of the token endpoint besides client_credentials.
const (
	grantAuthorizationCode = "authorization_code"
	grantRefreshToken      = "refresh_token"
)

const (
	// codeTTL is how long a code waits for its exchange; RFC 6749
	// §4.1.2 asks for a short lifetime.
	codeTTL = time.Minute
	// refreshTTL bounds how long an unused refresh token stays valid.
	refreshTTL = 30 * 24 * time.Hour
	// maxRedirectURI bounds the redirect_uri the sandbox will echo.
	maxRedirectURI = 2048
	// s256Len is the length of an unpadded base64url SHA-256 digest,
	// the only code_challenge S256 can produce.
	s256Len = 43
)

// authCode is one issued authorization code.
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	scopes      []string
	expires     time.Time
}

// refreshGrant is what a refresh token stands for.
type refreshGrant struct {
	clientID string
	scopes   []string
	expires  time.Time
}

// grantStore holds authorization codes until exchanged or expired and
// refresh tokens until used: each works once, so a client that refreshes
// twice with the same token is caught. The zero value is ready.
type grantStore struct {
	mu      sync.Mutex
	codes   map[string]authCode
	refresh map[string]refreshGrant
	issued  int
}

func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// sweep drops expired entries every sweepEvery issues, so abandoned
// flows cannot grow the maps without bound. Callers hold mu.
func (g *grantStore) sweep(now time.Time) {
	if g.codes == nil {
		g.codes, g.refresh = map[string]authCode{}, map[string]refreshGrant{}
	}
	if g.issued++; g.issued%sweepEvery != 0 {
		return
	}
	for k, c := range g.codes {
		if !now.Before(c.expires) {
			delete(g.codes, k)
		}
	}
	for k, r := range g.refresh {
		if !now.Before(r.expires) {
			delete(g.refresh, k)
		}
	}
}

func (g *grantStore) putCode(c authCode, now time.Time) (string, error) {
	code, err := randomToken()
	if err != nil {
		return "", err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sweep(now)
	g.codes[code] = c
	return code, nil
}

// takeCode removes and returns a live code: a code is spent by its first
// exchange whatever the outcome.
func (g *grantStore) takeCode(code string, now time.Time) (authCode, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.codes[code]
	delete(g.codes, code)
	return c, ok && now.Before(c.expires)
}

func (g *grantStore) putRefresh(r refreshGrant, now time.Time) (string, error) {
	tok, err := randomToken()
	if err != nil {
		return "", err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sweep(now)
	g.refresh[tok] = r
	return tok, nil
}

// takeRefresh removes and returns the grant of a live refresh token issued
// to clientID, narrowed to the scopes asked for (nil: all it had), or the
// OAuth error code and reason it cannot be used. A token presented by
// another client, or with a scope it does not cover, stays usable.
func (g *grantStore) takeRefresh(tok, clientID string, asked []string, now time.Time) (refreshGrant, string, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.refresh[tok]
	switch {
	case !ok:
		return r, "invalid_grant", "unknown or already used refresh token"
	case r.clientID != clientID:
		return r, "invalid_grant", "refresh token was issued to another client"
	}
	for _, sc := range asked {
		if !slices.Contains(r.scopes, sc) {
			return r, "invalid_scope", "scope " + strconv.Quote(sc) + " was not granted"
		}
	}
	delete(g.refresh, tok)
	if !now.Before(r.expires) {
		return r, "invalid_grant", "refresh token expired"
	}
	if asked != nil {
		r.scopes = asked
	}
	return r, "", ""
}

// handleAuthorize is the authorization endpoint (RFC 6749 §4.1.1). A bad
// client_id or redirect_uri is answered here, never redirected (§4.1.2.1:
// the redirect target is not trusted yet); every other error goes back to
// the client on the redirect, with the state.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "invalid_request", "malformed query")
		return
	}
	for k, v := range q {
		if len(v) > 1 {
			writeProblem(w, http.StatusBadRequest, "invalid_request", "parameter "+strconv.Quote(k)+" repeated")
			return
		}
	}
	if !equalSecret(q.Get("client_id"), s.cfg.ClientID) {
		writeProblem(w, http.StatusBadRequest, "invalid_client", "unknown client_id")
		return
	}
	redirect, reason := checkRedirectURI(q.Get("redirect_uri"))
	if reason != "" {
		writeProblem(w, http.StatusBadRequest, "invalid_redirect_uri", reason)
		return
	}
	state := q.Get("state")
	fail := func(code, description string) {
		redirectWith(w, redirect, state, url.Values{"error": {code}, "error_description": {description}})
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	}
	if q.Get("code_challenge_method") != "S256" {
		fail("invalid_request", "PKCE is required with code_challenge_method=S256")
		return
	}
	challenge := q.Get("code_challenge")
	if len(challenge) != s256Len || !pkceChars(challenge) {
		fail("invalid_request", "code_challenge must be the 43-character base64url SHA-256 of the verifier")
		return
	}
	scopes, bad := parseScopes(q.Get("scope"))
	if bad != "" {
		fail("invalid_scope", "unknown scope "+strconv.Quote(bad))
		return
	}
	now := s.cfg.Clock()
	code, err := s.grants.putCode(authCode{
		clientID: s.cfg.ClientID, redirectURI: q.Get("redirect_uri"), challenge: challenge,
		scopes: scopes, expires: now.Add(codeTTL),
	}, now)
	if err != nil {
		fail("server_error", "cannot mint a code")
		return
	}
	redirectWith(w, redirect, state, url.Values{"code": {code}})
}

// checkRedirectURI accepts an absolute http(s) URL without fragment,
// user info or a parameter of the answer (RFC 6749 §3.1.2).
func checkRedirectURI(raw string) (*url.URL, string) {
	if raw == "" {
		return nil, "redirect_uri is required"
	}
	if len(raw) > maxRedirectURI {
		return nil, "redirect_uri is longer than " + strconv.Itoa(maxRedirectURI) + " bytes"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, "redirect_uri is not a URL"
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return nil, "redirect_uri must be an absolute http or https URL"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, "redirect_uri must not have a fragment"
	case u.User != nil:
		return nil, "redirect_uri must not carry user info"
	}
	// The answer's parameters are added to the URI's own query; one that
	// is already there would make the answer ambiguous.
	for _, p := range []string{"code", "state", "error", "error_description"} {
		if u.Query().Has(p) {
			return nil, "redirect_uri must not have a " + strconv.Quote(p) + " query parameter"
		}
	}
	return u, ""
}

// redirectWith sends the user agent back to the client with params (and
// state, if the client sent one) added to the redirect URI's own query.
func redirectWith(w http.ResponseWriter, to *url.URL, state string, params url.Values) {
	u := *to
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Location", u.String())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}

// pkceChars reports whether s uses only the unreserved characters RFC
// 7636 §4.1 allows in a verifier (a superset of base64url).
func pkceChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~':
		default:
			return false
		}
	}
	return true
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// handleUserGrant answers the authorization_code and refresh_token grants
// for a client handleToken has authenticated.
func (s *Server) handleUserGrant(w http.ResponseWriter, form url.Values, clientID, grant string) {
	now := s.cfg.Clock()
	var scopes []string
	switch grant {
	case grantAuthorizationCode:
		code, verifier := form.Get("code"), form.Get("code_verifier")
		if code == "" || verifier == "" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "code and code_verifier are required")
			return
		}
		c, ok := s.grants.takeCode(code, now)
		var reason string
		switch {
		case !ok:
			reason = "unknown, used or expired authorization code"
		case c.clientID != clientID:
			reason = "the code was issued to another client"
		case form.Get("redirect_uri") != c.redirectURI:
			reason = "redirect_uri differs from the authorization request"
		case len(verifier) < 43 || len(verifier) > 128 || !pkceChars(verifier) || !equalSecret(s256(verifier), c.challenge):
			reason = "PKCE verification failed"
		}
		if reason != "" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", reason)
			return
		}
		scopes = c.scopes
	case grantRefreshToken:
		tok := form.Get("refresh_token")
		if tok == "" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
			return
		}
		var asked []string
		if form.Has("scope") { // §6: a narrower scope may be asked for
			var bad string
			if asked, bad = parseScopes(form.Get("scope")); bad != "" {
				writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "unknown scope "+strconv.Quote(bad))
				return
			}
		}
		g, code, reason := s.grants.takeRefresh(tok, clientID, asked, now)
		if code != "" {
			writeOAuthError(w, http.StatusBadRequest, code, reason)
			return
		}
		scopes = g.scopes
		s.stats.tokenRefreshed()
	}
	s.issueUserTokens(w, clientID, scopes, now)
}

// userTokenResponse adds the refresh token to the token response.
type userTokenResponse struct {
	tokenResponse
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) issueUserTokens(w http.ResponseWriter, clientID string, scopes []string, now time.Time) {
	access, err := s.tokens.issue(principal{credential: "client:" + clientID, scopes: scopes}, now.Add(s.cfg.TokenTTL), now)
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "cannot mint a token")
		return
	}
	refresh, err := s.grants.putRefresh(refreshGrant{clientID: clientID, scopes: scopes, expires: now.Add(refreshTTL)}, now)
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "cannot mint a token")
		return
	}
	s.stats.tokenIssued()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, userTokenResponse{
		tokenResponse: tokenResponse{
			AccessToken: access,
			TokenType:   "Bearer",
			ExpiresIn:   int64(s.cfg.TokenTTL / time.Second),
			Scope:       strings.Join(scopes, " "),
		},
		RefreshToken: refresh,
	})
}
