// Package outbound is the outbound sink of connections in the
// no-persistent-indexing mode: the engine hands it the objects of each
// page instead of storing them, and it fans them out, as NDJSON records,
// to the live subscribers of the connection (GET
// /v1/tenants/{t}/connections/{c}/stream) and, if configured, to an
// append-only file per connection.
//
// Delivery is at least once: the engine delivers a page before it
// commits the page's digests and cursor, so a commit that fails and is
// retried may deliver objects twice; a consumer de-duplicates by
// (entity_id, digest). A subscriber that is too slow applies
// back-pressure to the run (bounded by the run's context), never
// silent loss; a subscriber that goes away is dropped. With no
// subscriber and no file sink a page is delivered to nobody: that is
// counted, and the receipt still carries every object's digest.
package outbound
