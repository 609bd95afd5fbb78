package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sluicehq/sluice/actions"
	"github.com/sluicehq/sluice/store"
)

// Actions runs connector actions and verify checks (package actions;
// *actions.Service implements it). The requester or approver is always
// the calling API key's id.
type Actions interface {
	Submit(ctx context.Context, t *store.Tenant, connection string, req actions.Request) (run store.ActionRun, created bool, err error)
	Runs(ctx context.Context, t *store.Tenant, connection, after string, limit int) ([]store.ActionRun, string, error)
	Run(ctx context.Context, t *store.Tenant, connection, id string) (store.ActionRun, error)
	Approve(ctx context.Context, t *store.Tenant, connection, id, by string) (store.ActionRun, error)
	Reject(ctx context.Context, t *store.Tenant, connection, id, by, reason string) (store.ActionRun, error)
	Policy(ctx context.Context, t *store.Tenant) (store.ActionPolicy, error)
	SetPolicy(ctx context.Context, t *store.Tenant, p store.ActionPolicy, by string) (store.ActionPolicy, error)
	RunCheck(ctx context.Context, t *store.Tenant, connection, check string, params json.RawMessage, requester string) (store.Evidence, error)
	Evidence(ctx context.Context, t *store.Tenant, connection, control, after string, limit int) ([]store.Evidence, string, error)
	SetCheckSchedule(ctx context.Context, t *store.Tenant, connection, check string, every time.Duration, params json.RawMessage, by string) (store.CheckSchedule, error)
	CheckSchedule(ctx context.Context, t *store.Tenant, connection, check string) (store.CheckSchedule, error)
	DeleteCheckSchedule(ctx context.Context, t *store.Tenant, connection, check string) error
}

var _ Actions = (*actions.Service)(nil)

// actionRoutes lists the routes of this file; see routeTable.
func (s *Server) actionRoutes() []route {
	const (
		conn   = "/v1/tenants/{tenant}/connections/{connection}"
		tenant = "/v1/tenants/{tenant}"
	)
	return []route{
		{method: http.MethodPost, pattern: conn + "/actions", access: accessTenant, handler: s.submitAction},
		{method: http.MethodGet, pattern: conn + "/actions", access: accessTenant, handler: s.listActions},
		{method: http.MethodGet, pattern: conn + "/actions/{run}", access: accessTenant, handler: s.getAction},
		{method: http.MethodPost, pattern: conn + "/actions/{run}/approve", access: accessTenant, handler: s.approveAction},
		{method: http.MethodPost, pattern: conn + "/actions/{run}/reject", access: accessTenant, handler: s.rejectAction},
		{method: http.MethodGet, pattern: tenant + "/action-policy", access: accessTenant, handler: s.getActionPolicy},
		{method: http.MethodPut, pattern: tenant + "/action-policy", access: accessTenant, handler: s.putActionPolicy},
		{method: http.MethodPost, pattern: conn + "/checks/{check}/run", access: accessTenant, handler: s.runCheck},
		{method: http.MethodGet, pattern: conn + "/checks/{check}/schedule", access: accessTenant, handler: s.getCheckSchedule},
		{method: http.MethodPut, pattern: conn + "/checks/{check}/schedule", access: accessTenant, handler: s.putCheckSchedule},
		{method: http.MethodDelete, pattern: conn + "/checks/{check}/schedule", access: accessTenant, handler: s.deleteCheckSchedule},
		{method: http.MethodGet, pattern: conn + "/evidence", access: accessTenant, handler: s.listEvidence},
	}
}

func (s *Server) actionsOrErr() (Actions, error) {
	if s.actions == nil {
		return nil, notWired("actions")
	}
	return s.actions, nil
}

// ActionSubmit is the body of POST …/actions.
type ActionSubmit struct {
	Action string          `json:"action"`
	Params json.RawMessage `json:"params,omitempty"`
	// TTL makes a grant temporary: seconds as an integer, or a duration
	// string such as "90m" or "24h".
	TTL json.RawMessage `json:"ttl,omitempty"`

	ttl time.Duration
}

func (req *ActionSubmit) validate() error {
	var fields []FieldError
	if strings.TrimSpace(req.Action) == "" {
		fields = append(fields, FieldError{Field: "body.action", Message: "is required"})
	}
	if p := bytes.TrimSpace(req.Params); len(p) > 0 && !bytes.Equal(p, []byte("null")) && p[0] != '{' {
		fields = append(fields, FieldError{Field: "body.params", Message: "must be a JSON object"})
	}
	d, err := parseTTL(req.TTL)
	if err != nil {
		fields = append(fields, FieldError{Field: "body.ttl", Message: err.Error()})
	}
	req.ttl = d
	if len(fields) > 0 {
		return &ValidationError{Errors: fields}
	}
	return nil
}

// parseTTL reads a TTL: integer seconds or a Go duration string.
func parseTTL(raw json.RawMessage) (time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0, nil
	}
	bad := errors.New(`must be a positive number of seconds or a duration such as "90m"`)
	var n json.Number
	if raw[0] != '"' {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&n); err != nil {
			return 0, bad
		}
		secs, err := n.Int64()
		if err != nil || secs <= 0 || secs > int64(365*24*time.Hour/time.Second) {
			return 0, bad
		}
		return time.Duration(secs) * time.Second, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return 0, bad
	}
	d, err := time.ParseDuration(str)
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}

// ActionDecision is the optional body of POST …/reject.
type ActionDecision struct {
	Reason string `json:"reason,omitempty"`
}

// ActionRun is an action run as the API shows it.
type ActionRun struct {
	ID              string            `json:"id"`
	Href            string            `json:"href"`
	Connection      string            `json:"connection"`
	Connector       string            `json:"connector"`
	Version         string            `json:"version"`
	Action          string            `json:"action"`
	Destructive     bool              `json:"destructive"`
	Params          json.RawMessage   `json:"params,omitempty"`
	Requester       string            `json:"requester"`
	State           string            `json:"state"`
	Approvals       []store.Approval  `json:"approvals"`
	Preflight       store.Preflight   `json:"preflight"`
	TTLSeconds      int64             `json:"ttl_seconds,omitempty"`
	ExpiresAt       time.Time         `json:"expires_at,omitzero"`
	InverseOf       string            `json:"inverse_of,omitempty"`
	InverseRun      string            `json:"inverse_run,omitempty"`
	CorrelationID   string            `json:"correlation_id"`
	RemoteChangeIDs []string          `json:"remote_change_ids"`
	Outputs         map[string]string `json:"outputs,omitempty"`
	Error           *store.RunError   `json:"error,omitempty"`
	ReceiptID       string            `json:"receipt_id,omitempty"`
	DLQItem         string            `json:"dlq_item,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	FinishedAt      time.Time         `json:"finished_at,omitzero"`
}

func actionPath(tenant, connection, run string) string {
	return connectionPath(tenant, connection) + "/actions/" + url.PathEscape(run)
}

func actionView(tenant string, r store.ActionRun) ActionRun {
	v := ActionRun{
		ID: r.ID, Href: actionPath(tenant, r.Connection, r.ID), Connection: r.Connection, Connector: r.Connector,
		Version: r.Version, Action: r.Action, Destructive: r.Destructive, Params: r.Params, Requester: r.Requester,
		State: r.State, Approvals: r.Approvals, Preflight: r.Preflight, TTLSeconds: int64(r.TTL / time.Second),
		ExpiresAt: r.ExpiresAt, InverseOf: r.InverseOf, InverseRun: r.InverseRun, CorrelationID: r.CorrelationID,
		RemoteChangeIDs: r.RemoteChanges, Outputs: r.Outputs, Error: r.Error, ReceiptID: r.ReceiptID,
		DLQItem: r.DLQItem, CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt,
	}
	if v.Approvals == nil {
		v.Approvals = []store.Approval{}
	}
	if v.RemoteChangeIDs == nil {
		v.RemoteChangeIDs = []string{}
	}
	return v
}

// requester is the calling key's id: who asks, approves or rejects.
func requester(r *http.Request) string {
	p, _ := principalFrom(r.Context())
	return "key:" + p.KeyID
}

func (s *Server) submitAction(w http.ResponseWriter, r *http.Request) {
	a, err := s.actionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 || strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		s.writeError(w, r, invalidField("header.Idempotency-Key", "must be 1-255 printable ASCII characters without spaces"))
		return
	}
	var req ActionSubmit
	if err := decodeValid(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, conn := tenantFrom(r.Context()), param(r, "connection")
	run, created, err := a.Submit(r.Context(), t, conn, actions.Request{
		Action: req.Action, Params: req.Params, TTL: req.ttl, IdempotencyKey: key, Requester: requester(r),
	})
	if err != nil {
		s.writeError(w, r, actionsProblem(err, "path.connection"))
		return
	}
	v := actionView(t.ID(), run)
	w.Header().Set("Location", v.Href)
	status := http.StatusOK // a repeat of an Idempotency-Key
	switch {
	case created && run.State == store.ActionPendingApproval:
		status = http.StatusAccepted
	case created:
		status = http.StatusCreated
	}
	writeJSON(w, status, v)
}

func (s *Server) listActions(w http.ResponseWriter, r *http.Request) {
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
	t := tenantFrom(r.Context())
	runs, next, err := a.Runs(r.Context(), t, param(r, "connection"), r.URL.Query().Get("after"), limit)
	if err != nil {
		s.writeError(w, r, pathNotFound(renameFields(err, map[string]string{"before": "query.after"}), "path.connection"))
		return
	}
	out := make([]ActionRun, len(runs))
	for i, run := range runs {
		out[i] = actionView(t.ID(), run)
	}
	writeJSON(w, http.StatusOK, newPage(out, next))
}

func (s *Server) getAction(w http.ResponseWriter, r *http.Request) {
	s.decideAction(w, r, func(a Actions, t *store.Tenant, conn, id string) (store.ActionRun, error) {
		return a.Run(r.Context(), t, conn, id)
	})
}

func (s *Server) approveAction(w http.ResponseWriter, r *http.Request) {
	s.decideAction(w, r, func(a Actions, t *store.Tenant, conn, id string) (store.ActionRun, error) {
		var empty struct{}
		if err := decodeBody(r, &empty, true); err != nil {
			return store.ActionRun{}, err
		}
		return a.Approve(r.Context(), t, conn, id, requester(r))
	})
}

func (s *Server) rejectAction(w http.ResponseWriter, r *http.Request) {
	s.decideAction(w, r, func(a Actions, t *store.Tenant, conn, id string) (store.ActionRun, error) {
		var req ActionDecision
		if err := decodeBody(r, &req, true); err != nil {
			return store.ActionRun{}, err
		}
		return a.Reject(r.Context(), t, conn, id, requester(r), req.Reason)
	})
}

// decideAction is the shared frame of the routes on one run.
func (s *Server) decideAction(w http.ResponseWriter, r *http.Request, op func(Actions, *store.Tenant, string, string) (store.ActionRun, error)) {
	a, err := s.actionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, conn, id := tenantFrom(r.Context()), param(r, "connection"), param(r, "run")
	run, err := op(a, t, conn, id)
	if err != nil {
		var sve *store.ValidationError
		if errors.As(err, &sve) && sve.Field == "action run id" {
			err = store.ErrNotFound // a malformed id names nothing
		}
		s.writeError(w, r, actionsProblem(err, "path.run"))
		return
	}
	writeJSON(w, http.StatusOK, actionView(t.ID(), run))
}

// ActionPolicy is the body of PUT and the answer of GET
// /v1/tenants/{tenant}/action-policy.
type ActionPolicy struct {
	// RequiredApprovals of a destructive action: 1 or 2.
	RequiredApprovals int `json:"required_approvals"`
	// Denied actions are refused by every preflight of the tenant.
	Denied    []string  `json:"denied"`
	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

func (p *ActionPolicy) validate() error {
	var fields []FieldError
	if p.RequiredApprovals < 1 || p.RequiredApprovals > 2 {
		fields = append(fields, FieldError{Field: "body.required_approvals", Message: "must be 1 or 2"})
	}
	for i, d := range p.Denied {
		if d == "" || len(d) > 128 {
			fields = append(fields, FieldError{Field: fmt.Sprintf("body.denied[%d]", i), Message: "must be an action name of 1-128 characters"})
		}
	}
	if p.UpdatedBy != "" || !p.UpdatedAt.IsZero() {
		fields = append(fields, FieldError{Field: "body.updated_by", Message: "is set by the server"})
	}
	if len(fields) > 0 {
		return &ValidationError{Errors: fields}
	}
	return nil
}

func policyView(p store.ActionPolicy) ActionPolicy {
	v := ActionPolicy{RequiredApprovals: max(1, p.RequiredApprovals), Denied: p.Denied, UpdatedBy: p.UpdatedBy, UpdatedAt: p.UpdatedAt}
	if v.Denied == nil {
		v.Denied = []string{}
	}
	return v
}

func (s *Server) getActionPolicy(w http.ResponseWriter, r *http.Request) {
	a, err := s.actionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := a.Policy(r.Context(), tenantFrom(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, policyView(p))
}

func (s *Server) putActionPolicy(w http.ResponseWriter, r *http.Request) {
	a, err := s.actionsOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req ActionPolicy
	if err := decodeValid(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := a.SetPolicy(r.Context(), tenantFrom(r.Context()), store.ActionPolicy{RequiredApprovals: req.RequiredApprovals, Denied: req.Denied}, requester(r))
	if err != nil {
		s.writeError(w, r, actionsProblem(err, "path.tenant"))
		return
	}
	writeJSON(w, http.StatusOK, policyView(p))
}

// actionsFields maps package actions' field names to the request's.
var actionsFields = map[string]string{
	"action": "body.action", "params": "body.params", "ttl": "body.ttl", "idempotency_key": "header.Idempotency-Key",
	"check": "path.check", "interval": "body.interval_seconds", "required_approvals": "body.required_approvals",
	"reason": "body.reason",
}

// actionsProblem maps the errors of package actions to problems; a
// missing record names notFoundField. Other errors pass through.
func actionsProblem(err error, notFoundField string) error {
	var (
		pe *actions.PreflightError
		fe *actions.FieldError
		se *actions.StateError
	)
	switch {
	case errors.As(err, &pe):
		fields := make([]FieldError, 0, len(pe.Run.Preflight.Reasons))
		for _, reason := range pe.Run.Preflight.Reasons {
			fields = append(fields, FieldError{Field: "body.action", Message: reason})
		}
		return newProblem(http.StatusForbidden, fmt.Sprintf("the policy preflight refused the action; it is recorded as run %s with receipt %s", pe.Run.ID, pe.Run.ReceiptID), fields...)
	case errors.Is(err, actions.ErrSelfApproval):
		return newProblem(http.StatusForbidden, "a run cannot be approved by the key that requested it",
			FieldError{Field: "header.Authorization", Message: "this key requested the run; another principal must approve it"})
	case errors.Is(err, actions.ErrAlreadyApproved):
		return newProblem(http.StatusConflict, "this key already approved the run",
			FieldError{Field: "header.Authorization", Message: "the second approval must come from another principal"})
	case errors.As(err, &se):
		return newProblem(http.StatusConflict, "the run is not awaiting approval", FieldError{Field: "path.run", Message: "the run is " + se.State})
	case errors.As(err, &fe):
		field, ok := actionsFields[fe.Field]
		if !ok {
			field = "body." + fe.Field
		}
		switch {
		case errors.Is(err, actions.ErrUnknownCheck):
			return newProblem(http.StatusNotFound, "no such check", FieldError{Field: field, Message: fe.Message})
		case errors.Is(err, actions.ErrScopeNotGranted):
			return newProblem(http.StatusForbidden, "the check needs scopes the connection was not granted", FieldError{Field: field, Message: fe.Message})
		}
		return &ValidationError{Errors: []FieldError{{Field: field, Message: fe.Message}}}
	}
	return pathNotFound(err, notFoundField)
}
