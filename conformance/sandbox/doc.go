// Package sandbox is the sandbox remote: a fake identity-directory SaaS
// served over HTTP. It is the sample tenant for the example connectors and
// the remote every test and conformance run talks to, and it is the only
// fake in the project, so it behaves like a real, well-behaved SaaS API:
// OAuth2 (client credentials, authorization code with PKCE, rotating
// refresh tokens) and API keys, cursor pagination with stable
// order, incremental filters, per-credential rate limits with Retry-After,
// RFC 9457 problem JSON for every error, and fault injection (5xx, latency,
// truncated bodies, 429 storms) for the chaos gate.
//
// # Data
//
// The directory holds Config.Users users ("u-0000001"…), max(1, Users/20)
// groups ("g-00001"…) and 1–3 memberships per user. Every record is
// generated on demand from (seed, index) with a cheap hash, so a server with
// a million users costs no more memory to build than one with ten; only
// records changed through UpdateUser or DeleteUser are stored. The same seed
// and user count always give byte-identical responses (testdata/ pins them).
//
// Timestamps are whole seconds in UTC. created_at grows strictly with the
// index across 2020-01-01T00:00:00Z..2025-12-31T23:59:59Z and
// updated_at >= created_at. A mutation stamps updated_at with the later of
// Clock() and one second after every timestamp the server has handed out,
// so a client that asks for updated_since=<the largest updated_at it has
// seen> always sees every later change exactly once.
//
// # HTTP API
//
//	POST /oauth/token                   client_credentials (RFC 6749 §4.4), authorization_code with
//	                                    PKCE (§4.1, RFC 7636) and refresh_token (§6, rotating) grants
//	GET  /oauth/authorize               authorization endpoint: consents at once (a fake has no user)
//	                                    and redirects back with a code; PKCE S256 is required
//	GET  /api/v1/health                 {"status":"ok"}, no credentials needed
//	GET  /api/v1/account                scope account:read
//	GET  /api/v1/users                  scope users:read; limit, cursor, updated_since, created_from, created_to
//	GET  /api/v1/users/{id}             scope users:read
//	GET  /api/v1/groups                 scope groups:read; limit, cursor, updated_since
//	GET  /api/v1/memberships            scope memberships:read; limit, cursor
//
// Everything under /api/v1 except health needs "Authorization: Bearer X"
// where X is an unexpired OAuth2 access token or the API key (which carries
// every scope). Lists answer {"data":[…],"next_cursor":"…","has_more":bool};
// limit defaults to 100 and larger values are clamped to 1000; has_more is
// exact (it is never true in front of an empty page) and next_cursor is ""
// on the last page. A cursor is bound to its resource and filters: send the
// same filters with it. Unknown, repeated or malformed parameters are a 400,
// never silently ignored. updated_since is strictly greater-than;
// created_from/created_to is the half-open range [from, to). Users deleted
// through the control plane vanish from full listings and from
// /users/{id} but appear once, as a tombstone with status "deleted" and
// deleted_at, in listings filtered by updated_since, so incremental syncs
// see deletions.
//
// # Control plane
//
//	GET    /_sandbox/stats              Stats
//	GET    /_sandbox/faults             the faults in force
//	POST   /_sandbox/faults             replace the faults (Faults as JSON)
//	POST   /_sandbox/reset              clear faults and mutations
//	POST   /_sandbox/users/{id}         patch a user (JSON object), bumps updated_at
//	DELETE /_sandbox/users/{id}         delete a user, bumps updated_at
//
// The control plane needs no credentials and answers only clients whose
// address is loopback; Start refuses to listen anywhere but loopback.
package sandbox
