package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OAuth2 scopes the API checks. A token request without a scope gets the
// read scopes; the API key carries all of them.
const (
	ScopeAccountRead     = "account:read"
	ScopeUsersRead       = "users:read"
	ScopeGroupsRead      = "groups:read"
	ScopeMembershipsRead = "memberships:read"
	ScopeUsersWrite      = "users:write"
	ScopeGroupsWrite     = "groups:write"
	ScopeComplianceRead  = "compliance:read"
)

// readScopes are what a token request that names no scope gets: writing
// and compliance data must be asked for by name, as least privilege
// wants. allScopes are every scope a request may name.
var (
	readScopes = []string{ScopeAccountRead, ScopeUsersRead, ScopeGroupsRead, ScopeMembershipsRead}
	allScopes  = []string{ScopeAccountRead, ScopeUsersRead, ScopeGroupsRead, ScopeMembershipsRead,
		ScopeUsersWrite, ScopeGroupsWrite, ScopeComplianceRead, ScopeTicketsRead}
)

const (
	maxFormBytes   = 16 << 10
	sweepEvery     = 256 // token issues between sweeps of expired tokens
	apiKeyIdentity = "api-key"
)

// principal is who a request authenticated as.
type principal struct {
	credential string // rate-limit bucket: the API key, or the OAuth2 client
	scopes     []string
}

func (p principal) can(scope string) bool { return slices.Contains(p.scopes, scope) }

type principalKey struct{}

type issuedToken struct {
	principal
	expires time.Time
}

// tokenStore holds access tokens until they expire.
type tokenStore struct {
	mu     sync.Mutex
	tokens map[string]issuedToken
	issued int
}

func (ts *tokenStore) issue(p principal, expires, now time.Time) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.issued++; ts.issued%sweepEvery == 0 {
		for k, t := range ts.tokens {
			if !now.Before(t.expires) {
				delete(ts.tokens, k)
			}
		}
	}
	ts.tokens[tok] = issuedToken{principal: p, expires: expires}
	return tok, nil
}

// lookup returns the token's principal, or a reason it is not valid.
func (ts *tokenStore) lookup(tok string, now time.Time) (principal, string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.tokens[tok]
	switch {
	case !ok:
		return principal{}, "unknown access token"
	case !now.Before(t.expires):
		delete(ts.tokens, tok)
		return principal{}, "access token expired"
	}
	return t.principal, ""
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="sandbox"`)
	}
	writeJSON(w, status, oauthError{Error: code, Description: description})
}

// handleToken is the token endpoint: the client credentials grant of
// RFC 6749 §4.4 here, the authorization code and refresh token grants in
// authorize.go, all with client authentication by HTTP Basic or by form
// parameters (§2.3.1).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	form := r.PostForm
	for k, v := range form {
		if len(v) > 1 {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "parameter "+strconv.Quote(k)+" repeated")
			return
		}
	}
	gt := form.Get("grant_type")
	switch gt {
	case "client_credentials", grantAuthorizationCode, grantRefreshToken:
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "supported grants: client_credentials, authorization_code, refresh_token")
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		if form.Has("client_secret") {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "use one client authentication method, not two")
			return
		}
		// §2.3.1: Basic credentials are form-encoded before base64.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || form.Has("client_id") && form.Get("client_id") != id {
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
			return
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if !equalSecret(id, s.cfg.ClientID) || !equalSecret(secret, s.cfg.ClientSecret) {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if gt != "client_credentials" {
		s.handleUserGrant(w, form, id, gt) // authorize.go
		return
	}
	scopes, bad := parseScopes(form.Get("scope"))
	if bad != "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "unknown scope "+strconv.Quote(bad))
		return
	}
	now := s.cfg.Clock()
	tok, err := s.tokens.issue(principal{credential: "client:" + id, scopes: scopes}, now.Add(s.cfg.TokenTTL), now)
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "cannot mint a token")
		return
	}
	s.stats.tokenIssued()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: tok,
		TokenType:   "Bearer",
		ExpiresIn:   int64(s.cfg.TokenTTL / time.Second),
		Scope:       strings.Join(scopes, " "),
	})
}

// parseScopes returns the scopes a token request asked for (the read
// scopes when none), or the first unknown one.
func parseScopes(raw string) ([]string, string) {
	fields := strings.Fields(raw)
	if len(fields) == 0 {
		return readScopes, ""
	}
	var out []string
	for _, f := range fields {
		if !slices.Contains(allScopes, f) {
			return nil, f
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, ""
}

func equalSecret(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// bearer extracts the credential of an RFC 6750 Authorization header.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	return tok, ok && strings.EqualFold(scheme, "Bearer") && tok != ""
}

func unauthorized(w http.ResponseWriter, reason string) {
	challenge := `Bearer realm="sandbox"`
	if reason != "" {
		challenge += `, error="invalid_token", error_description=` + strconv.Quote(reason)
	} else {
		reason = "send Authorization: Bearer <access token or API key>"
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeProblem(w, http.StatusUnauthorized, "unauthorized", reason)
}

// authenticate admits requests that carry the API key or a live token.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			unauthorized(w, "")
			return
		}
		p := principal{credential: apiKeyIdentity, scopes: allScopes}
		if !equalSecret(tok, s.cfg.APIKey) {
			var reason string
			if p, reason = s.tokens.lookup(tok, s.cfg.Clock()); reason != "" {
				unauthorized(w, reason)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// requireScope answers 403 insufficient_scope (RFC 6750 §3.1) to a
// principal without scope.
func requireScope(scope string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := r.Context().Value(principalKey{}).(principal)
			if !p.can(scope) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="sandbox", error="insufficient_scope", scope="`+scope+`"`)
				writeProblem(w, http.StatusForbidden, "insufficient_scope", "this endpoint needs scope "+scope)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
