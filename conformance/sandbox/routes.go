package sandbox

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// routes is the whole HTTP surface in one place. observe wraps
// everything; the other middleware sits in groups, which chi runs after
// it has matched the route, so Stats counts even a faulted or refused
// request under its route pattern. Order inside: injectFaults, then
// authenticate, rateLimit and the scope check.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.observe)
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", "this endpoint does not take this method")
	})

	r.Group(func(r chi.Router) {
		r.Use(s.injectFaults)
		r.Post("/oauth/token", s.handleToken)
		r.Get("/oauth/authorize", s.handleAuthorize)
		r.Get("/api/v1/health", s.handleHealth)
		r.Group(func(r chi.Router) {
			r.Use(s.authenticate, s.rateLimit)
			r.With(requireScope(ScopeAccountRead)).Get("/api/v1/account", s.handleAccount)
			r.With(requireScope(ScopeUsersRead)).Get("/api/v1/users", s.handleListUsers)
			r.With(requireScope(ScopeUsersRead)).Get("/api/v1/users/{id}", s.handleGetUser)
			r.With(requireScope(ScopeGroupsRead)).Get("/api/v1/groups", s.handleListGroups)
			r.With(requireScope(ScopeMembershipsRead)).Get("/api/v1/memberships", s.handleListMemberships)
			r.With(requireScope(ScopeUsersWrite)).Post("/api/v1/users", s.handleCreateUser)
			r.With(requireScope(ScopeUsersWrite)).Post("/api/v1/users/{id}/deactivate", s.handleDeactivateUser)
			r.With(requireScope(ScopeGroupsWrite)).Post("/api/v1/groups/{gid}/members", s.handleAddMember)
			r.With(requireScope(ScopeGroupsWrite)).Delete("/api/v1/groups/{gid}/members/{uid}", s.handleRemoveMember)
			r.With(requireScope(ScopeComplianceRead)).Get("/api/v1/compliance/password-policy", s.handlePasswordPolicy)
			r.With(requireScope(ScopeComplianceRead)).Get("/api/v1/compliance/mfa", s.handleMFA)
			r.With(requireScope(ScopeComplianceRead)).Get("/api/v1/compliance/admins", s.handleAdmins)
			s.ticketRoutes(r)
		})
	})

	r.Group(func(r chi.Router) {
		r.Use(loopbackOnly)
		r.Get("/_sandbox/stats", s.handleGetStats)
		r.Get("/_sandbox/faults", s.handleGetFaults)
		r.Post("/_sandbox/faults", s.handleSetFaults)
		r.Post("/_sandbox/reset", s.handleReset)
		r.Post("/_sandbox/users/{id}", s.handlePatchUser)
		r.Delete("/_sandbox/users/{id}", s.handleDeleteUser)
		r.Get("/_sandbox/changes", s.handleGetChanges)
		r.Get("/_sandbox/webhooks", s.handleGetWebhooks)
		r.Post("/_sandbox/webhooks", s.handleSubscribe)
		s.ticketControlRoutes(r)
	})
	return r
}

// misconfigured answers every request when New was given a Config that
// fails Validate, so the mistake is visible instead of half-served.
func misconfigured(err error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, http.StatusInternalServerError, "misconfigured", err.Error())
	})
}
