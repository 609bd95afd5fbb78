package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/sluicehq/sluice/dlq"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/store"
)

// DLQ is the dead-letter queue (package dlq; *dlq.Service implements
// it). The replayer or deleter is always the calling API key's id.
type DLQ interface {
	List(ctx context.Context, t *store.Tenant, connection, after string, limit int) ([]store.DLQItem, string, error)
	Get(ctx context.Context, t *store.Tenant, id string) (store.DLQItem, error)
	Tape(ctx context.Context, t *store.Tenant, id string) ([]byte, error)
	Replay(ctx context.Context, t *store.Tenant, id, mode, by string) (*dlq.Result, error)
	Delete(ctx context.Context, t *store.Tenant, id, by string) (store.DLQRemoval, error)
}

var _ DLQ = (*dlq.Service)(nil)

// accessDLQReview: the dead-letter routes a reviewer may call besides
// the tenant's admins, in any tenant: list and read items, download
// tapes and replay from a tape (a reviewer replays modules offline;
// tapes hold no secrets). Live replay and delete change tenant data and
// stay with admins (see docs/RATIONALE.md).
var accessDLQReview = access{roles: []string{store.RoleAdmin, store.RoleTenantAdmin, store.RoleReviewer}, tenant: tenantInPath}

// dlqRoutes lists the routes of this file; see routeTable.
func (s *Server) dlqRoutes() []route {
	const item = "/v1/tenants/{tenant}/connections/{connection}/dlq/{item}"
	return []route{
		{method: http.MethodGet, pattern: "/v1/tenants/{tenant}/connections/{connection}/dlq", access: accessDLQReview, handler: s.listDLQ},
		{method: http.MethodGet, pattern: item, access: accessDLQReview, handler: s.getDLQItem},
		{method: http.MethodGet, pattern: item + "/tape", access: accessDLQReview, handler: s.getDLQTape},
		{method: http.MethodPost, pattern: item + "/replay", access: accessDLQReview, handler: s.replayDLQItem},
		{method: http.MethodDelete, pattern: item, access: accessTenant, handler: s.deleteDLQItem},
	}
}

// DLQItem is a dead-letter item as the API shows it.
type DLQItem struct {
	store.DLQItem
	// Href is the item's URL; its tape is at Href + "/tape".
	Href string `json:"href"`
	// Runbook is where to read what to do about the item's error type:
	// the connector's runbook for it when its bundle ships one, else the
	// platform runbook for dead letters.
	Runbook string `json:"runbook"`
}

// runbooks resolves the runbook of a connection's error types; it reads
// the connection and its version once per request.
func (s *Server) runbooks(ctx context.Context, t *store.Tenant, connection string) func(errorType string) string {
	var (
		c        store.Connection
		names    []string
		resolved bool
	)
	return func(errorType string) string {
		if !resolved {
			resolved = true
			var err error
			if c, err = t.Connection(ctx, connection); err == nil && s.registry != nil {
				if v, err := s.registry.Version(ctx, c.Connector, c.Version); err == nil {
					names = v.Runbooks
				}
			}
		}
		if slices.Contains(names, errorType) {
			return "/v1/connectors/" + url.PathEscape(c.Connector) + "/versions/" + url.PathEscape(c.Version) + "/runbooks/" + url.PathEscape(errorType)
		}
		return platformRunbook(errorType)
	}
}

// DLQReplayRequest is the body of POST …/dlq/{item}/replay.
type DLQReplayRequest struct {
	// Mode is "tape" (offline, from the item's tape) or "live" (against
	// the remote, committing what the replayed call emits).
	Mode string `json:"mode"`
}

func (req DLQReplayRequest) validate() error {
	if req.Mode != dlq.ModeTape && req.Mode != dlq.ModeLive {
		return invalidField("body.mode", "must be tape or live, got %s", quoteShort(req.Mode))
	}
	return nil
}

func dlqItemPath(tenant, connection, id string) string {
	return connectionPath(tenant, connection) + "/dlq/" + url.PathEscape(id)
}

func (s *Server) dlqOrErr() (DLQ, error) {
	if s.dlq == nil {
		return nil, notWired("dead-letter queue")
	}
	return s.dlq, nil
}

func (s *Server) listDLQ(w http.ResponseWriter, r *http.Request) {
	q, err := s.dlqOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := queryLimit(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, conn := tenantFrom(r.Context()), param(r, "connection")
	items, next, err := q.List(r.Context(), t, conn, r.URL.Query().Get("after"), limit)
	if err != nil {
		s.writeError(w, r, renameFields(pathNotFound(err, "path.connection"), map[string]string{"after": "query.after"}))
		return
	}
	out := make([]DLQItem, len(items))
	runbook := s.runbooks(r.Context(), t, conn)
	for i, it := range items {
		out[i] = DLQItem{DLQItem: it, Href: dlqItemPath(t.ID(), conn, it.ID), Runbook: runbook(it.ErrorType)}
	}
	writeJSON(w, http.StatusOK, newPage(out, next))
}

// item loads the path's item and checks that it belongs to the path's
// connection: an item of another connection is as missing as none.
// It answers 501 first when the backend is not wired.
func (s *Server) dlqItem(r *http.Request) (DLQ, store.DLQItem, error) {
	q, err := s.dlqOrErr()
	if err != nil {
		return nil, store.DLQItem{}, err
	}
	it, err := q.Get(r.Context(), tenantFrom(r.Context()), param(r, "item"))
	if err == nil && it.Connection != param(r, "connection") {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrInvalid) { // a malformed id names nothing that could exist
		err = store.ErrNotFound
	}
	return q, it, pathNotFound(err, "path.item")
}

func (s *Server) getDLQItem(w http.ResponseWriter, r *http.Request) {
	_, it, err := s.dlqItem(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t := tenantFrom(r.Context())
	writeJSON(w, http.StatusOK, DLQItem{DLQItem: it, Href: dlqItemPath(t.ID(), it.Connection, it.ID),
		Runbook: s.runbooks(r.Context(), t, it.Connection)(it.ErrorType)})
}

// getDLQTape sends the tape as stored: package tape's JSON, the file
// `sluice replay --tape` reads. Reads by principals of no tenant
// (reviewers, platform admins) are logged: a tape holds no secret but
// does hold what the remote answered.
func (s *Server) getDLQTape(w http.ResponseWriter, r *http.Request) {
	q, it, err := s.dlqItem(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t := tenantFrom(r.Context())
	b, err := q.Tape(r.Context(), t, it.ID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = newProblem(http.StatusNotFound, "the item has no tape", FieldError{Field: "path.item", Message: "was dead-lettered without a tape"})
		}
		s.writeError(w, r, err)
		return
	}
	if p, _ := principalFrom(r.Context()); p.Role != store.RoleTenantAdmin {
		s.log.InfoContext(r.Context(), "dead-letter tape read", "tenant", t.ID(), "connection", it.Connection, "dlq_item", it.ID, "key", p.KeyID, "role", p.Role)
	}
	w.Header().Set("Content-Disposition", `attachment; filename="dlq-`+it.ID+`.tape.json"`)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (s *Server) replayDLQItem(w http.ResponseWriter, r *http.Request) {
	q, err := s.dlqOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req DLQReplayRequest
	if err := decodeValid(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, _ := principalFrom(r.Context())
	if p.Role == store.RoleReviewer && req.Mode == dlq.ModeLive {
		s.writeError(w, r, newProblem(http.StatusForbidden, "a reviewer replays from tapes only",
			FieldError{Field: "body.mode", Message: "live replay changes tenant data; it needs an admin or tenant_admin key"}))
		return
	}
	_, it, err := s.dlqItem(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := q.Replay(r.Context(), tenantFrom(r.Context()), it.ID, req.Mode, p.KeyID)
	if err != nil {
		s.writeError(w, r, dlqProblem(err))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) deleteDLQItem(w http.ResponseWriter, r *http.Request) {
	q, it, err := s.dlqItem(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, _ := principalFrom(r.Context())
	rm, err := q.Delete(r.Context(), tenantFrom(r.Context()), it.ID, p.KeyID)
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.item"))
		return
	}
	writeJSON(w, http.StatusOK, rm)
}

// dlqProblem maps a replay that could not be attempted to 409 naming
// why; a replay that ran and failed is a 200 with status failed.
func dlqProblem(err error) error {
	var re *dlq.ReplayError
	if !errors.As(err, &re) {
		if errors.Is(err, dlq.ErrInvalidMode) {
			return invalidField("body.mode", "must be tape or live")
		}
		return pathNotFound(err, "path.item")
	}
	field := FieldError{Field: "path.item", Message: re.Err.Error()}
	switch {
	case errors.Is(err, dlq.ErrNoTape), errors.Is(err, dlq.ErrBadTape):
		return newProblem(http.StatusConflict, "the item cannot be replayed from a tape", field)
	case errors.Is(err, dlq.ErrNotReplayableLive), errors.Is(err, engine.ErrNotReplayable):
		return newProblem(http.StatusConflict, "the item cannot be replayed live", field)
	case errors.Is(err, store.ErrNotFound):
		return newProblem(http.StatusConflict, "the item's connection is missing or not active", FieldError{Field: "path.connection", Message: "cannot run the replay"})
	case errors.Is(err, engine.ErrNoStreams), errors.Is(err, engine.ErrScopeNotGranted), errors.Is(err, engine.ErrNotDeclared):
		return newProblem(http.StatusConflict, "the connection no longer permits this replay", field)
	}
	return err
}
