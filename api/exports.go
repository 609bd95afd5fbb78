package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/keyring"
	"github.com/sluicehq/sluice/store"
)

// Exports builds compliance export bundles (*export.Exporter implements
// it).
type Exports interface {
	Export(ctx context.Context, s export.Scope) (*export.Bundle, error)
}

var _ Exports = (*export.Exporter)(nil)

// SigningKeys is the receipt signing keyring (*keyring.Ring implements
// it).
type SigningKeys interface {
	Keys(ctx context.Context) ([]keyring.PublicKey, error)
	Rotate(ctx context.Context) (store.SigningKey, error)
}

var _ SigningKeys = (*keyring.Ring)(nil)

// exportRoutes lists the routes of this file; see routeTable. The
// signing keys' public halves are public: a verifier must be able to
// fetch them from the service, apart from any bundle, to anchor its
// trust, and they hold nothing secret (see docs/RATIONALE.md). Rotation
// is an admin's.
func (s *Server) exportRoutes() []route {
	return []route{
		{method: http.MethodGet, pattern: "/v1/tenants/{tenant}/exports", access: accessTenant, handler: s.getExport},
		{method: http.MethodGet, pattern: "/v1/signing-keys", access: accessPublic, handler: s.listSigningKeys},
		{method: http.MethodPost, pattern: "/v1/signing-keys/rotate", access: accessAdmin, handler: s.rotateSigningKey},
	}
}

// SigningKeyList is the answer of GET /v1/signing-keys, oldest first.
type SigningKeyList struct {
	Items []keyring.PublicKey `json:"items"`
}

// exportScope reads ?from=&to=&role=, naming the query field at fault.
func exportScope(r *http.Request, tenant string) (export.Scope, error) {
	q := r.URL.Query()
	sc := export.Scope{Tenant: tenant, Role: q.Get("role")}
	for _, f := range []struct {
		name string
		into *time.Time
	}{{"from", &sc.From}, {"to", &sc.To}} {
		v := q.Get(f.name)
		if v == "" {
			return sc, invalidField("query."+f.name, "required: an RFC 3339 time")
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return sc, invalidField("query."+f.name, "must be an RFC 3339 time, got %s", quoteShort(v))
		}
		*f.into = t
	}
	if sc.Role == "" {
		return sc, invalidField("query.role", "required: auditor, admin or pii")
	}
	return sc, nil
}

func (s *Server) getExport(w http.ResponseWriter, r *http.Request) {
	if s.exports == nil {
		s.writeError(w, r, notWired("exports"))
		return
	}
	t := tenantFrom(r.Context())
	sc, err := exportScope(r, t.ID())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b, err := s.exports.Export(r.Context(), sc)
	var se *export.ScopeError
	if errors.As(err, &se) {
		err = invalidField("query."+se.Field, "%s", se.Reason)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc, err := export.Marshal(b)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="sluice-export-`+t.ID()+`-`+sc.Role+`.json"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

func (s *Server) listSigningKeys(w http.ResponseWriter, r *http.Request) {
	if s.signingKeys == nil {
		s.writeError(w, r, notWired("signing keys"))
		return
	}
	keys, err := s.signingKeys.Keys(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if keys == nil {
		keys = []keyring.PublicKey{}
	}
	writeJSON(w, http.StatusOK, SigningKeyList{Items: keys})
}

func (s *Server) rotateSigningKey(w http.ResponseWriter, r *http.Request) {
	if s.signingKeys == nil {
		s.writeError(w, r, notWired("signing keys"))
		return
	}
	if _, err := s.signingKeys.Rotate(r.Context()); err != nil {
		s.writeError(w, r, err)
		return
	}
	keys, err := s.signingKeys.Keys(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, SigningKeyList{Items: keys})
}
