package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/marketplace"
	"github.com/sluicehq/sluice/store"
)

// Marketplace runs submissions and serves the directory and badges
// (*marketplace.Service implements it).
type Marketplace interface {
	Submit(ctx context.Context, req marketplace.Request) (marketplace.Submission, error)
	Report(ctx context.Context, connector, version string) ([]byte, error)
	Directory(ctx context.Context) ([]marketplace.Entry, error)
	Badge(ctx context.Context, connector string) (string, error)
}

var _ Marketplace = (*marketplace.Service)(nil)

// accessReport: a certification report is for its connector's partner,
// reviewers and admins. Submission is accessUpload's: the service, not
// the guard, refuses another partner's connector, with a 403 naming it,
// as an upload does.
var accessReport = access{roles: []string{store.RoleAdmin, store.RoleReviewer, store.RolePartner}, owner: true}

// marketplaceRoutes lists the routes of this file; see routeTable. The
// directory and badges are public: they are what the marketplace shows.
func (s *Server) marketplaceRoutes() []route {
	const version = "/v1/connectors/{connector}/versions/{version}"
	return []route{
		{method: http.MethodPost, pattern: version + "/submit", access: accessUpload, handler: s.submitVersion},
		{method: http.MethodGet, pattern: version + "/report", access: accessReport, handler: s.getReport},
		{method: http.MethodGet, pattern: "/v1/directory", access: accessPublic, handler: s.getDirectory},
		{method: http.MethodGet, pattern: "/badges/{connector}.svg", access: accessPublic, handler: s.getBadge},
	}
}

// DirectoryList is the answer of GET /v1/directory.
type DirectoryList struct {
	Items []marketplace.Entry `json:"items"`
}

// marketplaceError maps the marketplace's refusals to problems naming
// the path parameter at fault.
func marketplaceError(err error) error {
	var me *marketplace.Error
	if !errors.As(err, &me) {
		return err
	}
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, marketplace.ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, marketplace.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, marketplace.ErrForbidden):
		status = http.StatusForbidden
	case errors.Is(err, marketplace.ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, marketplace.ErrTimeout):
		status = http.StatusServiceUnavailable
	}
	field := me.Field
	if !strings.Contains(field, ".") && !strings.Contains(field, "#") {
		field = "path." + field
	}
	return &StatusError{Status: status, Detail: me.Message, Fields: []FieldError{{Field: field, Message: me.Message}}, Err: err}
}

// submitVersion runs the submission synchronously (see package
// marketplace): 201 with the outcome once the report is stored.
func (s *Server) submitVersion(w http.ResponseWriter, r *http.Request) {
	if s.marketplace == nil {
		s.writeError(w, r, notWired("marketplace"))
		return
	}
	p, _ := principalFrom(r.Context())
	req := marketplace.Request{Connector: param(r, "connector"), Version: param(r, "version"), By: p.KeyID}
	if p.Role == store.RolePartner {
		req.Partner = p.Partner
	}
	sub, err := s.marketplace.Submit(r.Context(), req)
	if err != nil {
		s.writeError(w, r, marketplaceError(err))
		return
	}
	w.Header().Set("Location", sub.Report)
	writeJSON(w, http.StatusCreated, sub)
}

func (s *Server) getReport(w http.ResponseWriter, r *http.Request) {
	if s.marketplace == nil {
		s.writeError(w, r, notWired("marketplace"))
		return
	}
	b, err := s.marketplace.Report(r.Context(), param(r, "connector"), param(r, "version"))
	if err != nil {
		s.writeError(w, r, marketplaceError(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (s *Server) getDirectory(w http.ResponseWriter, r *http.Request) {
	if s.marketplace == nil {
		s.writeError(w, r, notWired("marketplace"))
		return
	}
	entries, err := s.marketplace.Directory(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if entries == nil {
		entries = []marketplace.Entry{}
	}
	writeJSON(w, http.StatusOK, DirectoryList{Items: entries})
}

// getBadge serves the SVG badge. SVG can carry script, so the answer
// forbids every source but inline style, and says it is not to be sniffed.
func (s *Server) getBadge(w http.ResponseWriter, r *http.Request) {
	if s.marketplace == nil {
		s.writeError(w, r, notWired("marketplace"))
		return
	}
	id := param(r, "connector")
	level, err := s.marketplace.Badge(r.Context(), id)
	if err != nil {
		s.writeError(w, r, marketplaceError(err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("Cache-Control", "public, max-age=60")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(marketplace.RenderBadge(id, level))
}
