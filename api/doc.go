// Package api is Sluice's HTTP API: a chi router with API-key
// authentication, role- and tenant-based authorization, RFC 9457 problem
// responses and the embedded OpenAPI 3.1 description (openapi.yaml,
// served at GET /v1/openapi.yaml).
//
// # Authentication
//
// Every route but the public ones (health, readiness, metrics, the
// OpenAPI document, the manifest schema and the OAuth callback) needs
// "Authorization: Bearer sk_…". A key is shown once, when it is created
// (POST /v1/keys or [Bootstrap]); the store keeps only its SHA-256 hash,
// compared in constant time. An unknown, malformed or revoked key is 401.
//
// # Authorization
//
// Authorization runs before any handler, so a route whose backend is not
// wired yet (501) still answers 401 and 403 exactly as it will later.
// The roles are admin (everything), partner (uploads and reads its own
// connectors), tenant_admin (one tenant's routes) and reviewer (reads
// connectors, manifests and modules). A tenant route names its tenant in
// the path; the handler gets the store.Tenant for that tenant, made after
// authorization, and nothing else, so no handler can reach another
// tenant. Another tenant's route is 403 (decided from the path alone, so
// it says nothing about whether the tenant exists); another partner's
// connector is 404, so partners cannot probe each other's catalog.
//
// # Backends
//
// The domain packages are reached through the small interfaces declared
// in backends.go, holding only what the handlers call: Registry,
// Connections (which also rotates secrets, so cached tokens are dropped),
// Scheduler and HostStats. RegistryBackend and ConnectionsBackend adapt
// *registry.Registry and *connections.Manager. A nil backend makes its
// routes answer 501 after authorization.
//
// # Errors
//
// Every 4xx and 5xx is an RFC 9457 problem document whose errors name
// the offending fields ("body.scopes[1]", "query.limit", "path.tenant").
// classify (problem.go, domain_errors.go) maps the API's sentinels, a
// backend's *StatusError, the documented errors of the domain packages
// and those of store, manifest and engine; anything else is a logged 500
// with a generic detail.
package api
