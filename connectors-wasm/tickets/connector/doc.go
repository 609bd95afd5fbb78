// Package connector is the logic of the tickets example connector: it
// ingests a help desk's tickets and their comments from the sandbox
// remote's ticket API (conformance/sandbox) through the Sluice guest
// SDK, by pull (sync) and push (webhooks). It is ingest only, on
// purpose: no actions, no checks, no backfill, so it certifies at Bronze
// and shows where Silver starts (Silver certifies actions).
//
// # Streams and cursors
//
//   - tickets: objects of type "ticket", incremental (updated_since).
//   - comments: objects of type "comment" and their "on_ticket" edge
//     comment → ticket, incremental (updated_since), read from the
//     remote's flat /api/v1/comments listing rather than one ticket at a
//     time, so an incremental sync costs one request when nothing changed.
//
// The cursor is the connector's own JSON, opaque to the host: during a
// pass the remote's page cursor, the running maximum updated_at and the
// pass's updated_since filter (the remote binds page cursors to their
// filters); at the end of a pass {"since": <max updated_at>}. The
// remote's updated_since is strictly greater-than and it stamps every
// change later than anything it served, so an incremental pass sees each
// change once. A pass that saw nothing keeps the cursor it started from,
// so a cursor ahead of the remote stays put and returns nothing.
//
// # Field policy
//
// Tickets: requester_email is contact data; requester_id and assignee_id
// identify people; subject and the rest are none. Comments: author_id
// identifies a person and body, free text people write, is sensitive.
//
// # Webhooks
//
// ticket.created and ticket.updated carry the ticket, emitted as is with
// its updated_at as the version (the host keeps the newest, whatever
// order events arrive in); comment.created carries the comment, emitted
// with its on_ticket edge. The export answers the event's id, which the
// host de-duplicates redeliveries by. Another event type fails with
// error type "unsupported_event", a malformed event with "bad_event".
package connector
