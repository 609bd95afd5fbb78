package api

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/go-chi/chi/v5"
)

// routeTable is every route of the API with its authorization rule.
// openapi.yaml documents each one (TestSpecCoversRoutes keeps the two in
// step, and TestSpecRolesMatchRoutes checks each route's x-roles).
func (s *Server) routeTable() []route {
	const (
		conn    = "/v1/tenants/{tenant}/connections/{connection}"
		tenant  = "/v1/tenants/{tenant}"
		version = "/v1/connectors/{connector}/versions/{version}"
	)
	core := []route{
		// Operations and documents: public.
		{method: http.MethodGet, pattern: "/healthz", access: accessPublic, handler: s.healthz},
		{method: http.MethodGet, pattern: "/readyz", access: accessPublic, handler: s.readyz},
		{method: http.MethodGet, pattern: "/metrics", access: accessPublic, handler: s.metricsHandler().ServeHTTP},
		{method: http.MethodGet, pattern: "/v1/openapi.yaml", access: accessPublic, handler: s.openAPI},
		{method: http.MethodGet, pattern: "/v1/schemas/connector.json", access: accessPublic, handler: s.manifestSchema},

		// API keys: admin.
		{method: http.MethodPost, pattern: "/v1/keys", access: accessAdmin, handler: s.createKey},
		{method: http.MethodGet, pattern: "/v1/keys", access: accessAdmin, handler: s.listKeys},
		{method: http.MethodDelete, pattern: "/v1/keys/{key}", access: accessAdmin, handler: s.revokeKey},

		// Connector registry.
		{method: http.MethodPost, pattern: "/v1/connectors", access: accessUpload, maxBody: s.maxBundle, handler: s.uploadConnector},
		{method: http.MethodGet, pattern: "/v1/connectors", access: accessCatalog, handler: s.listConnectors},
		{method: http.MethodGet, pattern: "/v1/connectors/{connector}/versions", access: accessCatalog, handler: s.listVersions},
		{method: http.MethodGet, pattern: version, access: accessCatalog, handler: s.getVersion},
		{method: http.MethodGet, pattern: version + "/module", access: accessModule, handler: s.getModule},
		{method: http.MethodGet, pattern: version + "/runbooks", access: accessCatalog, handler: s.listRunbooks},
		{method: http.MethodGet, pattern: version + "/runbooks/{runbook}", access: accessCatalog, handler: s.getRunbook},

		// Connections, secrets, OAuth.
		{method: http.MethodPost, pattern: tenant + "/connections", access: accessTenant, handler: s.createConnection},
		{method: http.MethodGet, pattern: tenant + "/connections", access: accessTenant, handler: s.listConnections},
		{method: http.MethodGet, pattern: conn, access: accessTenant, handler: s.connectionAction(Connections.Get)},
		{method: http.MethodPatch, pattern: conn, access: accessTenant, handler: s.updateConnection},
		{method: http.MethodDelete, pattern: conn, access: accessTenant, handler: s.deleteConnection},
		{method: http.MethodPost, pattern: conn + "/authorize", access: accessTenant, handler: s.connectionAction(Connections.Authorize)},
		{method: http.MethodPost, pattern: conn + "/disable", access: accessTenant, handler: s.connectionAction(Connections.Disable)},
		{method: http.MethodPut, pattern: conn + "/secrets/{secret}", access: accessTenant, handler: s.putSecret},
		{method: http.MethodGet, pattern: conn + "/health", access: accessTenant, handler: s.connectionHealth},
		{method: http.MethodGet, pattern: "/v1/oauth/start", access: accessTenantQuery, handler: s.oauthStart},
		{method: http.MethodGet, pattern: "/v1/oauth/callback", access: accessPublic, handler: s.oauthCallback},

		// Runs.
		{method: http.MethodPost, pattern: conn + "/sync", access: accessTenant, handler: s.startSync},
		{method: http.MethodPost, pattern: conn + "/backfill", access: accessTenant, handler: s.startBackfill},
		{method: http.MethodGet, pattern: conn + "/runs", access: accessTenant, handler: s.listRuns},
		{method: http.MethodGet, pattern: conn + "/runs/{run}", access: accessTenant, handler: s.getRun},

		// Reads of ingested data and metering.
		{method: http.MethodGet, pattern: tenant + "/objects", access: accessTenant, handler: s.listObjects},
		{method: http.MethodGet, pattern: tenant + "/objects/{entity_id}", access: accessTenant, handler: s.getObject},
		{method: http.MethodGet, pattern: tenant + "/edges", access: accessTenant, handler: s.listEdges},
		{method: http.MethodGet, pattern: tenant + "/lineage", access: accessTenant, handler: s.getLineage},
		{method: http.MethodGet, pattern: tenant + "/receipts", access: accessTenant, handler: s.listReceipts},
		{method: http.MethodGet, pattern: tenant + "/receipts/{receipt}", access: accessTenant, handler: s.getReceipt},
		{method: http.MethodGet, pattern: tenant + "/usage", access: accessTenant, handler: s.getUsage},
	}
	// Webhook intake, actions and verify checks, and the dead-letter
	// queue each keep their routes beside their handlers.
	return slices.Concat(core, s.hookRoutes(), s.actionRoutes(), s.dlqRoutes(), s.exportRoutes(), s.marketplaceRoutes(), s.streamRoutes(), s.policyRoutes())
}

// page is one page of a listing. Next is the cursor of the following
// page (pass it as ?after=), absent after the last page.
type page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

func newPage[T any](items []T, next string) page[T] {
	if items == nil {
		items = []T{}
	}
	return page[T]{Items: items, Next: next}
}

// list is a complete, unpaginated listing.
type list[T any] struct {
	Items []T `json:"items"`
}

func newList[T any](items []T) list[T] {
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items}
}

const (
	defaultLimit = 100
	maxLimit     = 1000
)

// queryLimit parses ?limit= (1-1000, default 100).
func queryLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, invalidField("query.limit", "must be an integer from 1 to %d", maxLimit)
	}
	return n, nil
}

func param(r *http.Request, name string) string { return chi.URLParam(r, name) }
