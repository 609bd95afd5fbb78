package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/store"
)

// Policies serves the tenants' CEL policies and their recorded decisions
// (*policy.Service implements it).
type Policies interface {
	Effective(ctx context.Context, t *store.Tenant) ([]policy.Policy, error)
	Put(ctx context.Context, t *store.Tenant, kind, expression, by string) (policy.Policy, error)
	Decision(ctx context.Context, t *store.Tenant, id string) (policy.Decision, error)
}

var _ Policies = (*policy.Service)(nil)

// policyRoutes lists the routes of this file; see routeTable. Tenant
// admins (of their own tenant) and admins read and replace policies:
// what may be ingested, which actions may run and what an export
// reveals are the tenant's decisions.
func (s *Server) policyRoutes() []route {
	const tenant = "/v1/tenants/{tenant}"
	return []route{
		{method: http.MethodGet, pattern: tenant + "/policies", access: accessTenant, handler: s.listPolicies},
		{method: http.MethodPut, pattern: tenant + "/policies/{kind}", access: accessTenant, handler: s.putPolicy},
		{method: http.MethodGet, pattern: tenant + "/decisions/{decision}", access: accessTenant, handler: s.getDecision},
	}
}

// PolicyRequest is the body of PUT …/policies/{kind}.
type PolicyRequest struct {
	Expression string `json:"expression"`
}

func (p *PolicyRequest) validate() error {
	switch {
	case strings.TrimSpace(p.Expression) == "":
		return invalidField("body.expression", "required: a CEL expression")
	case len(p.Expression) > policy.MaxExpressionLen:
		return invalidField("body.expression", "is longer than %d bytes", policy.MaxExpressionLen)
	}
	return nil
}

// PolicyList is the answer of GET …/policies: every kind's effective
// policy.
type PolicyList struct {
	Items []policy.Policy `json:"items"`
}

// DecisionView is the answer of GET …/decisions/{decision}.
type DecisionView = policy.Decision

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request) {
	if s.policies == nil {
		s.writeError(w, r, notWired("policies"))
		return
	}
	items, err := s.policies.Effective(r.Context(), tenantFrom(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, PolicyList{Items: items})
}

func (s *Server) putPolicy(w http.ResponseWriter, r *http.Request) {
	if s.policies == nil {
		s.writeError(w, r, notWired("policies"))
		return
	}
	kind := param(r, "kind")
	if !slices.Contains(policy.Kinds(), kind) {
		s.writeError(w, r, newProblem(http.StatusNotFound, "no such policy kind",
			FieldError{Field: "path.kind", Message: "must be one of " + strings.Join(policy.Kinds(), ", ")}))
		return
	}
	var req PolicyRequest
	if err := decodeValid(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, _ := principalFrom(r.Context())
	saved, err := s.policies.Put(r.Context(), tenantFrom(r.Context()), kind, req.Expression, p.KeyID)
	var ce *policy.CompileError
	if errors.As(err, &ce) {
		// The compiler's own message (with line and column) is the answer.
		err = invalidField("body.expression", "%s", ce.Message)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, saved)
}

func (s *Server) getDecision(w http.ResponseWriter, r *http.Request) {
	if s.policies == nil {
		s.writeError(w, r, notWired("policies"))
		return
	}
	id := param(r, "decision")
	d, err := s.policies.Decision(r.Context(), tenantFrom(r.Context()), id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		err = newProblem(http.StatusNotFound, "no such decision", FieldError{Field: "path.decision", Message: "no decision " + quoteShort(id)})
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
