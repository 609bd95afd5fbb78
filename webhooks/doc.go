// Package webhooks is Sluice's webhook intake: per-connection endpoints
// with Standard Webhooks signing secrets, the public intake that verifies
// and durably accepts deliveries, and the inbox worker that has the
// connector process them.
//
// # Endpoints
//
// [Service.RotateEndpoint] gives a connection an unguessable hook id
// (its URL is /v1/hooks/{hook}) and a new whsec_ secret, shown once. The
// previous secret keeps verifying for Config.RotationOverlap, so a
// sender can switch without a gap (Standard Webhooks sends one signature
// per active secret). Secrets are sealed under the tenant's data key
// (package secrets) inside the endpoint record; they never appear in a
// log line, an error or a later response.
//
// # Intake
//
// [Service.Accept] checks, in order: the hook id (unknown → ErrUnknownHook),
// the signature ([Verifier]: webhook-id, webhook-timestamp within the
// tolerance, at least one "v1," signature matching an active secret →
// otherwise ErrSignature, nothing stored), the body (JSON), and a queue
// slot (none → ErrQueueFull with a Retry-After, nothing stored). Then the
// delivery is written to the tenant's inbox with its webhook-id de-dup
// key (Badger TTL) before Accept returns: a redelivery of the same
// webhook-id is answered as a duplicate without a second write.
// Concurrent deliveries are written together, one Badger transaction per
// group (group commit), and each is acknowledged only after its group
// committed. The accept transaction also checks that the hook still
// routes to its connection, so an endpoint deleted with its connection
// stops accepting at once, even while keys are cached.
//
// # Processing
//
// Workers take accepted events from a bounded queue and call
// engine.Webhook, which commits what the connector emitted, remembers the
// event ids it returned and deletes the inbox entry in one transaction.
// An event that fails for good becomes a DLQ item. On Start, the inbox is
// read back and every pending event queued again, so a crash between
// accept and processing loses nothing and processes each event once.
package webhooks
