package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/store"
)

// CheckRun is the optional body of POST …/checks/{check}/run.
type CheckRun struct {
	Params json.RawMessage `json:"params,omitempty"`
}

// CheckScheduleRequest is the body of PUT …/checks/{check}/schedule.
type CheckScheduleRequest struct {
	IntervalSeconds int64           `json:"interval_seconds"`
	Params          json.RawMessage `json:"params,omitempty"`
}

func (req *CheckScheduleRequest) validate() error {
	var fields []FieldError
	if req.IntervalSeconds <= 0 || req.IntervalSeconds > int64(365*24*time.Hour/time.Second) {
		fields = append(fields, FieldError{Field: "body.interval_seconds", Message: "must be a positive number of seconds, at most a year"})
	}
	if !objectOrNull(req.Params) {
		fields = append(fields, FieldError{Field: "body.params", Message: "must be a JSON object"})
	}
	if len(fields) > 0 {
		return &ValidationError{Errors: fields}
	}
	return nil
}

func objectOrNull(p json.RawMessage) bool {
	p = bytes.TrimSpace(p)
	return len(p) == 0 || bytes.Equal(p, []byte("null")) || p[0] == '{'
}

// CheckSchedule is a check's schedule as the API shows it.
type CheckSchedule struct {
	Connection      string          `json:"connection"`
	Check           string          `json:"check"`
	IntervalSeconds int64           `json:"interval_seconds"`
	Params          json.RawMessage `json:"params,omitempty"`
	NextAt          time.Time       `json:"next_at"`
	SetBy           string          `json:"set_by"`
	UpdatedAt       time.Time       `json:"updated_at"`
}

func scheduleView(sc store.CheckSchedule) CheckSchedule {
	return CheckSchedule{Connection: sc.Connection, Check: sc.Check, IntervalSeconds: int64(sc.Every / time.Second),
		Params: sc.Params, NextAt: sc.NextAt, SetBy: sc.SetBy, UpdatedAt: sc.UpdatedAt}
}

func evidenceView(e store.Evidence) store.Evidence {
	if e.Evidence == nil {
		e.Evidence = map[string]string{}
	}
	if e.Digests == nil {
		e.Digests = map[string]string{}
	}
	return e
}

func (s *Server) runCheck(w http.ResponseWriter, r *http.Request) {
	a, err := s.actionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req CheckRun
	if err := decodeBody(r, &req, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !objectOrNull(req.Params) {
		s.writeError(w, r, invalidField("body.params", "must be a JSON object"))
		return
	}
	ev, err := a.RunCheck(r.Context(), tenantFrom(r.Context()), param(r, "connection"), param(r, "check"), req.Params, requester(r))
	if err != nil {
		s.writeError(w, r, actionsProblem(err, "path.connection"))
		return
	}
	writeJSON(w, http.StatusCreated, evidenceView(ev))
}

func (s *Server) listEvidence(w http.ResponseWriter, r *http.Request) {
	a, err := s.actionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := queryLimit(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	list, next, err := a.Evidence(r.Context(), tenantFrom(r.Context()), param(r, "connection"), q.Get("control"), q.Get("after"), limit)
	if err != nil {
		s.writeError(w, r, pathNotFound(renameFields(err, map[string]string{"control": "query.control", "before": "query.after"}), "path.connection"))
		return
	}
	out := make([]store.Evidence, len(list))
	for i, e := range list {
		out[i] = evidenceView(e)
	}
	writeJSON(w, http.StatusOK, newPage(out, next))
}

func (s *Server) getCheckSchedule(w http.ResponseWriter, r *http.Request) {
	a, err := s.actionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sc, err := a.CheckSchedule(r.Context(), tenantFrom(r.Context()), param(r, "connection"), param(r, "check"))
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.check"))
		return
	}
	writeJSON(w, http.StatusOK, scheduleView(sc))
}

func (s *Server) putCheckSchedule(w http.ResponseWriter, r *http.Request) {
	a, err := s.actionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req CheckScheduleRequest
	if err := decodeValid(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	sc, err := a.SetCheckSchedule(r.Context(), tenantFrom(r.Context()), param(r, "connection"), param(r, "check"),
		time.Duration(req.IntervalSeconds)*time.Second, req.Params, requester(r))
	if err != nil {
		s.writeError(w, r, actionsProblem(err, "path.connection"))
		return
	}
	writeJSON(w, http.StatusOK, scheduleView(sc))
}

func (s *Server) deleteCheckSchedule(w http.ResponseWriter, r *http.Request) {
	a, err := s.actionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := a.DeleteCheckSchedule(r.Context(), tenantFrom(r.Context()), param(r, "connection"), param(r, "check")); err != nil {
		s.writeError(w, r, pathNotFound(err, "path.check"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
