package sandbox

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// routes is the whole HTTP surface in one place. Middleware order, outside
// in: observe (Stats), injectFaults, then per group authentication, rate
// limiting and scope checks.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.observe, s.injectFaults)
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", "this endpoint does not take this method")
	})

	r.Post("/oauth/token", s.handleToken)

	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/health", s.handleHealth)
		r.Group(func(r chi.Router) {
			r.Use(s.authenticate, s.rateLimit)
			r.With(requireScope(ScopeAccountRead)).Get("/account", s.handleAccount)
			r.With(requireScope(ScopeUsersRead)).Get("/users", s.handleListUsers)
			r.With(requireScope(ScopeUsersRead)).Get("/users/{id}", s.handleGetUser)
			r.With(requireScope(ScopeGroupsRead)).Get("/groups", s.handleListGroups)
			r.With(requireScope(ScopeMembershipsRead)).Get("/memberships", s.handleListMemberships)
		})
	})

	r.Route("/_sandbox", func(r chi.Router) {
		r.Use(loopbackOnly)
		r.Get("/stats", s.handleGetStats)
		r.Get("/faults", s.handleGetFaults)
		r.Post("/faults", s.handleSetFaults)
		r.Post("/reset", s.handleReset)
		r.Post("/users/{id}", s.handlePatchUser)
		r.Delete("/users/{id}", s.handleDeleteUser)
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
