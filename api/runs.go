package api

import (
	"net/http"
	"net/url"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
)

func (s *Server) schedulerOrErr() (Scheduler, error) {
	if s.scheduler == nil {
		return nil, notWired("scheduler")
	}
	return s.scheduler, nil
}

// RunAccepted is the answer to POST …/sync and …/backfill (202).
type RunAccepted struct {
	RunID string `json:"run_id"`
	// Href is the run's URL, also sent as Location.
	Href string `json:"href"`
}

func runPath(tenant, connection, run string) string {
	return connectionPath(tenant, connection) + "/runs/" + url.PathEscape(run)
}

func (s *Server) accepted(w http.ResponseWriter, t *store.Tenant, connection, runID string) {
	href := runPath(t.ID(), connection, runID)
	w.Header().Set("Location", href)
	writeJSON(w, http.StatusAccepted, RunAccepted{RunID: runID, Href: href})
}

func (s *Server) startSync(w http.ResponseWriter, r *http.Request) {
	sch, err := s.schedulerOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req SyncRequest
	if err := decodeBody(r, &req, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, conn := tenantFrom(r.Context()), param(r, "connection")
	id, err := sch.Sync(r.Context(), t, conn, req)
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.connection"))
		return
	}
	s.accepted(w, t, conn, id)
}

// validate checks the range: RFC 3339 times, from before to.
func (req BackfillRequest) validate() error {
	var fields []FieldError
	from, errFrom := time.Parse(time.RFC3339, req.From)
	if errFrom != nil {
		fields = append(fields, FieldError{Field: "body.from", Message: "must be an RFC 3339 time, e.g. 2024-01-01T00:00:00Z"})
	}
	to, errTo := time.Parse(time.RFC3339, req.To)
	if errTo != nil {
		fields = append(fields, FieldError{Field: "body.to", Message: "must be an RFC 3339 time, e.g. 2024-02-01T00:00:00Z"})
	}
	if errFrom == nil && errTo == nil && !from.Before(to) {
		fields = append(fields, FieldError{Field: "body.to", Message: "must be after from"})
	}
	if len(fields) > 0 {
		return &ValidationError{Errors: fields}
	}
	return nil
}

func (s *Server) startBackfill(w http.ResponseWriter, r *http.Request) {
	sch, err := s.schedulerOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req BackfillRequest
	if err := decodeValid(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, conn := tenantFrom(r.Context()), param(r, "connection")
	id, err := sch.Backfill(r.Context(), t, conn, protocol.Range{From: req.From, To: req.To})
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.connection"))
		return
	}
	s.accepted(w, t, conn, id)
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	sch, err := s.schedulerOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := queryLimit(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	runs, err := sch.Runs(r.Context(), tenantFrom(r.Context()), param(r, "connection"), limit)
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.connection"))
		return
	}
	writeJSON(w, http.StatusOK, newList(runs))
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	sch, err := s.schedulerOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	conn := param(r, "connection")
	run, err := sch.Run(r.Context(), tenantFrom(r.Context()), param(r, "run"))
	if err == nil && run.Connection != conn {
		err = ErrNotFound // a run of another connection of the tenant
	}
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.run"))
		return
	}
	writeJSON(w, http.StatusOK, run)
}
