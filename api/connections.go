package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sluicehq/sluice/connections"
	"github.com/sluicehq/sluice/store"
)

func (s *Server) connectionsOrErr() (Connections, error) {
	if s.connections == nil {
		return nil, notWired("connections")
	}
	return s.connections, nil
}

func connectionPath(tenant, id string) string {
	return "/v1/tenants/" + url.PathEscape(tenant) + "/connections/" + url.PathEscape(id)
}

// validate checks what the API can check without the backend, listing
// every problem; the backend checks the rest (connector, version,
// scopes against the manifest, credential names).
func (req ConnectionRequest) validate() error {
	var fields []FieldError
	if req.Connector == "" {
		fields = append(fields, FieldError{Field: "body.connector", Message: "is required"})
	}
	if req.Version == "" {
		fields = append(fields, FieldError{Field: "body.version", Message: "is required"})
	}
	fields = append(fields, checkInterval(req.IntervalSeconds)...)
	fields = append(fields, checkScopes(req.Scopes)...)
	for name, v := range req.Credentials {
		if name == "" || v == "" {
			fields = append(fields, FieldError{Field: "body.credentials", Message: "names and values must not be empty"})
			break
		}
	}
	if len(fields) > 0 {
		return &ValidationError{Errors: fields}
	}
	return nil
}

// validate checks an update like a new connection's fields.
func (req ConnectionUpdate) validate() error {
	var fields []FieldError
	if req.IntervalSeconds != nil {
		fields = append(fields, checkInterval(*req.IntervalSeconds)...)
	}
	fields = append(fields, checkScopes(req.Scopes)...)
	if len(fields) > 0 {
		return &ValidationError{Errors: fields}
	}
	return nil
}

// maxIntervalSeconds is a year: longer than any useful sync period and
// far from overflowing a time.Duration.
const maxIntervalSeconds = 366 * 24 * 3600

func checkInterval(n int) []FieldError {
	if n < 0 || n > maxIntervalSeconds {
		return []FieldError{{Field: "body.interval_seconds", Message: "must be from 0 (no scheduled syncs) to " + strconv.Itoa(maxIntervalSeconds)}}
	}
	return nil
}

func checkScopes(scopes []string) []FieldError {
	var out []FieldError
	for i, sc := range scopes {
		if sc == "" {
			out = append(out, FieldError{Field: "body.scopes[" + strconv.Itoa(i) + "]", Message: "must not be empty"})
		}
	}
	return out
}

// respondConnection answers with the API view of a connection.
func respondConnection(w http.ResponseWriter, status int, c store.Connection) {
	writeJSON(w, status, connectionView(c))
}

func (s *Server) createConnection(w http.ResponseWriter, r *http.Request) {
	cs, err := s.connectionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req ConnectionRequest
	if err := decodeValid(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	t := tenantFrom(r.Context())
	c, err := cs.Create(r.Context(), t, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", connectionPath(t.ID(), c.ID))
	respondConnection(w, http.StatusCreated, c)
}

func (s *Server) listConnections(w http.ResponseWriter, r *http.Request) {
	cs, err := s.connectionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	all, err := cs.List(r.Context(), tenantFrom(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]Connection, len(all))
	for i, c := range all {
		out[i] = connectionView(c)
	}
	writeJSON(w, http.StatusOK, newList(out))
}

func (s *Server) updateConnection(w http.ResponseWriter, r *http.Request) {
	cs, err := s.connectionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req ConnectionUpdate
	if err := decodeValid(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := cs.Update(r.Context(), tenantFrom(r.Context()), param(r, "connection"), req)
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.connection"))
		return
	}
	respondConnection(w, http.StatusOK, c)
}

func (s *Server) deleteConnection(w http.ResponseWriter, r *http.Request) {
	cs, err := s.connectionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := cs.Delete(r.Context(), tenantFrom(r.Context()), param(r, "connection")); err != nil {
		s.writeError(w, r, pathNotFound(err, "path.connection"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// connectionOp is a read or state change of one connection: a method
// expression of Connections (Get, Authorize, Disable).
type connectionOp func(Connections, context.Context, *store.Tenant, string) (store.Connection, error)

// connectionAction serves a route that reads one connection or moves it
// between states, answering with the connection.
func (s *Server) connectionAction(op connectionOp) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cs, err := s.connectionsOrErr()
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		c, err := op(cs, r.Context(), tenantFrom(r.Context()), param(r, "connection"))
		if err != nil {
			s.writeError(w, r, pathNotFound(err, "path.connection"))
			return
		}
		respondConnection(w, http.StatusOK, c)
	}
}

// putSecret stores or rotates one secret through the connections
// manager, which drops the tokens the old value earned and authorizes
// again; the answer is the connection, never the secret.
func (s *Server) putSecret(w http.ResponseWriter, r *http.Request) {
	cs, err := s.connectionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req SecretRequest
	if err := decodeBody(r, &req, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Value == "" {
		s.writeError(w, r, invalidField("body.value", "is required"))
		return
	}
	creds := map[string]string{param(r, "secret"): string(req.Value)}
	c, err := cs.PutCredentials(r.Context(), tenantFrom(r.Context()), param(r, "connection"), creds)
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.connection"))
		return
	}
	respondConnection(w, http.StatusOK, c)
}

// OAuthStart is the answer to GET /v1/oauth/start: the provider page the
// tenant admin opens in a browser.
type OAuthStart struct {
	AuthorizeURL string `json:"authorize_url"`
}

// callbackURL is the redirect URI the provider sends the browser back to.
func (s *Server) callbackURL(r *http.Request) string {
	base := s.baseURL
	if base == "" {
		base = "http://" + r.Host
	}
	return base + "/v1/oauth/callback"
}

func (s *Server) oauthStart(w http.ResponseWriter, r *http.Request) {
	cs, err := s.connectionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.URL.Query().Get("connection")
	if id == "" {
		s.writeError(w, r, invalidField("query.connection", "is required"))
		return
	}
	u, err := cs.StartOAuth(r.Context(), tenantFrom(r.Context()), id, s.callbackURL(r))
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "query.connection"))
		return
	}
	writeJSON(w, http.StatusOK, OAuthStart{AuthorizeURL: u})
}

// OAuthResult is the answer to GET /v1/oauth/callback.
type OAuthResult struct {
	Tenant     string `json:"tenant"`
	Connection string `json:"connection"`
	// Status is "authorized".
	Status string `json:"status"`
}

// oauthCallback is public: the provider redirects the browser here, and
// the state (bound by StartOAuth to one tenant and connection, single
// use) is what authorizes it.
func (s *Server) oauthCallback(w http.ResponseWriter, r *http.Request) {
	cs, err := s.connectionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	state, code, provErr := q.Get("state"), q.Get("code"), q.Get("error")
	var fields []FieldError
	if state == "" {
		fields = append(fields, FieldError{Field: "query.state", Message: "is required"})
	}
	if code == "" && provErr == "" {
		fields = append(fields, FieldError{Field: "query.code", Message: "is required unless the provider sent error"})
	}
	if len(fields) > 0 {
		s.writeError(w, r, &ValidationError{Errors: fields})
		return
	}
	if provErr != "" {
		// The provider refused (the admin denied consent): the backend
		// spends the state and records why; the answer is its refusal.
		// The connections manager returns the refusal it recorded as an
		// *AuthError, which classify would answer as a failed
		// authorization naming body.credentials, a field the callback
		// does not have. Any other error (an unknown or spent state, a
		// store failure joined to the refusal) is the backend's answer.
		_, _, err := cs.DenyOAuth(r.Context(), state, provErr, q.Get("error_description"))
		var refused *connections.AuthError
		if errors.As(err, &refused) && error(refused) == err {
			err = nil
		}
		if err == nil {
			err = newProblem(http.StatusUnprocessableEntity, "the provider refused authorization",
				FieldError{Field: "query.error", Message: provErr})
		}
		s.writeError(w, r, err)
		return
	}
	tenant, conn, err := cs.CompleteOAuth(r.Context(), state, code)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, OAuthResult{Tenant: tenant, Connection: conn, Status: "authorized"})
}
