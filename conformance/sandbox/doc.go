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
//	POST /api/v1/users                  scope users:write; {email,name,department?,title?} → 201 user + change_id
//	POST /api/v1/users/{id}/deactivate  scope users:write; → 200 {change_id,user} (status "suspended")
//	POST /api/v1/groups/{gid}/members   scope groups:write; {user_id} → 201 {change_id,membership}, 200 if already one
//	DELETE /api/v1/groups/{gid}/members/{uid}  scope groups:write; → 200 {change_id,membership}, 404 not_member
//	GET  /api/v1/compliance/mfa         scope compliance:read; MFAReport
//	GET  /api/v1/compliance/admins      scope compliance:read; AdminReport (admins' last sign-in)
//	GET  /api/v1/compliance/password-policy  scope compliance:read; PasswordPolicy
//	GET  /api/v1/tickets                scope tickets:read; limit, cursor, updated_since
//	GET  /api/v1/tickets/{id}           scope tickets:read
//	GET  /api/v1/tickets/{id}/comments  scope tickets:read; limit, cursor (one ticket's comments)
//	GET  /api/v1/comments               scope tickets:read; limit, cursor, updated_since (every comment)
//
// Everything under /api/v1 except health needs "Authorization: Bearer X"
// where X is an unexpired OAuth2 access token or the API key (which carries
// every scope). A token request that names no scope gets the read scopes;
// users:write, groups:write and compliance:read must be asked for. Lists answer {"data":[…],"next_cursor":"…","has_more":bool};
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
//	GET    /_sandbox/changes            {"data":[Change…]}: the write API's changes, oldest first
//	POST   /_sandbox/webhooks           subscribe (SubscribeRequest as JSON)
//	POST   /_sandbox/tickets            open a ticket (NewTicket as JSON)
//	POST   /_sandbox/tickets/{id}       patch a ticket (subject, status, priority, assignee_id)
//	POST   /_sandbox/tickets/{id}/comments  add a comment (NewComment as JSON)
//	GET    /_sandbox/webhooks           DeliveryStats
//
// # Writes, changes and webhooks
//
// Every write of the API that changes something is a Change with an id
// ("chg_000001"…) returned as change_id, and keeps the request's
// X-Correlation-Id, so a test can tie a remote change to the action run
// that made it. A repeated write that changes nothing (adding a member
// twice, deactivating a suspended user) answers the earlier change.
//
// Subscribe (or POST /_sandbox/webhooks) sends every later mutation,
// through the API or UpdateUser/DeleteUser, to a loopback URL as a
// Standard Webhooks message signed by the reference library:
// webhook-id "msg_…", webhook-timestamp, webhook-signature "v1,…", body
// {"id":"evt_…","type":T,"occurred_at":RFC 3339,"data":D} where T is
// user.created, user.updated (deactivation included), user.deleted,
// membership.added or membership.removed and D the user (the tombstone
// for user.deleted) or the membership. Delivery options add duplicates
// and deliberate re-deliveries of a message (same webhook-id), retry
// failures with backoff honouring Retry-After, and Emit pushes
// handcrafted events.
//
// # Tickets
//
// A second API, a help desk, for the ingest-only tickets example: one
// ticket ("t-000001"…) per two users, requested by a generated user, and
// 0–3 comments per ticket ("c-00000001"…; added ones "c-n000001"…),
// generated from the seed like the directory. tickets:read is not a
// default scope: a token request names it. CreateTicket, UpdateTicket and
// AddComment (or the control plane) stamp their records like every
// mutation and send ticket.created, ticket.updated and comment.created
// events (data: the ticket or the comment) through the same webhook
// sender. See tickets.go.
//
// The control plane needs no credentials and answers only clients whose
// address is loopback; Start refuses to listen anywhere but loopback.
package sandbox
