package api

import (
	"errors"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/sluicehq/sluice/store"
)

// tenantSource says where a tenant route names its tenant.
type tenantSource int

const (
	noTenant      tenantSource = iota
	tenantInPath               // {tenant}
	tenantInQuery              // ?tenant= (GET /v1/oauth/start)
)

// access is the authorization rule of one route. The zero value is a
// public route: no key is read, a bad one is ignored.
type access struct {
	// roles may call the route; empty means public.
	roles []string
	// tenant, if set, limits tenant_admin keys to their own tenant and
	// puts the tenant's store handle in the request context.
	tenant tenantSource
	// owner limits partner keys to connectors they own: the route's
	// {connector}, resolved through the registry. Another partner's
	// connector is 404, as is a missing one.
	owner bool
}

var (
	accessPublic = access{}
	accessAdmin  = access{roles: []string{store.RoleAdmin}}
	accessUpload = access{roles: []string{store.RoleAdmin, store.RolePartner}}
	// accessCatalog: connectors, versions, manifests, runbooks. Tenant
	// admins read the catalog to choose what to enable.
	accessCatalog = access{roles: []string{store.RoleAdmin, store.RoleReviewer, store.RoleTenantAdmin, store.RolePartner}, owner: true}
	// accessModule: module bytes, for review and replay.
	accessModule      = access{roles: []string{store.RoleAdmin, store.RoleReviewer, store.RolePartner}, owner: true}
	accessTenant      = access{roles: []string{store.RoleAdmin, store.RoleTenantAdmin}, tenant: tenantInPath}
	accessTenantQuery = access{roles: []string{store.RoleAdmin, store.RoleTenantAdmin}, tenant: tenantInQuery}
)

// public reports whether the route needs no key.
func (a access) public() bool { return len(a.roles) == 0 }

// guard returns the middleware enforcing a: authentication (401), role
// (403), tenant (403), ownership (404). It runs before the handler and
// before any backend is asked for the route's data, so the decision is
// the same whether or not the backend is wired; only the ownership check
// needs the registry.
func (s *Server) guard(a access) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if a.public() {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := s.authenticate(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			ctx := withPrincipal(r.Context(), p)
			if !slices.Contains(a.roles, p.Role) {
				writeProblem(w, r, http.StatusForbidden, "this route is not open to "+p.Role+" keys",
					FieldError{Field: "header.Authorization", Message: "a " + p.Role + " key may not call this route"})
				return
			}
			if a.tenant != noTenant {
				field, id := "path.tenant", chi.URLParam(r, "tenant")
				if a.tenant == tenantInQuery {
					field, id = "query.tenant", r.URL.Query().Get("tenant")
				}
				if p.Role == store.RoleTenantAdmin && id != p.Tenant {
					writeProblem(w, r, http.StatusForbidden, "this key manages another tenant",
						FieldError{Field: field, Message: "this key may only reach tenant " + p.Tenant})
					return
				}
				t, err := s.db.Tenant(id)
				if err != nil {
					status := http.StatusNotFound
					if a.tenant == tenantInQuery {
						status = http.StatusUnprocessableEntity
					}
					writeProblem(w, r, status, "no such tenant", FieldError{Field: field, Message: tenantIDRule})
					return
				}
				ctx = withTenant(ctx, t)
			}
			if a.owner && p.Role == store.RolePartner {
				if id := chi.URLParam(r, "connector"); id != "" {
					if err := s.checkOwner(r, p, id); err != nil {
						s.writeError(w, r, err)
						return
					}
				}
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

const tenantIDRule = "a tenant id matches ^[a-z0-9][a-z0-9_-]{0,62}$"

// checkOwner refuses a partner another partner's connector with the same
// 404 as a missing one, so partners cannot learn each other's catalog.
func (s *Server) checkOwner(r *http.Request, p principal, connector string) error {
	if s.registry == nil {
		return notWired("registry")
	}
	c, err := s.registry.Connector(r.Context(), connector)
	if errors.Is(err, ErrNotFound) || errors.Is(err, store.ErrNotFound) || (err == nil && c.Partner != p.Partner) {
		return newProblem(http.StatusNotFound, "no such connector", FieldError{Field: "path.connector", Message: "no connector " + connector + " of partner " + p.Partner})
	}
	return err
}

func notWired(backend string) error {
	return &StatusError{Status: http.StatusNotImplemented, Detail: "the " + backend + " backend is not wired into this server yet", Err: ErrNotWired}
}
