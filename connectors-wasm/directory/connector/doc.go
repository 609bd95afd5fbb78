// Package connector is the logic of the directory example connector: it
// ingests users, groups and group memberships from the sandbox remote's
// identity-directory API (conformance/sandbox) through the Sluice guest
// SDK. It has no build tags, so go test runs it natively with sdktest;
// package main one level up registers it for the Wasm build.
//
// # Streams and cursors
//
//   - users: objects of type "user", incremental (updated_since) and
//     backfillable by created_at range.
//   - groups: objects of type "group", incremental (updated_since).
//   - memberships: edges "member_of" user → group; the API has no
//     change filter, so every sync of this stream is a full snapshot.
//
// A cursor is the connector's own JSON, opaque to the host. During a
// pass it holds the remote's page cursor, the running maximum updated_at
// of the pass and the updated_since filter the pass started with (the
// remote binds its page cursors to the filters, so every page of a pass
// repeats them). The last page of a users or groups pass returns
// {"since": <max updated_at>} with has_more false; the next sync starting
// from that cursor asks only for records updated after it (the remote's
// updated_since is strictly greater-than, and it stamps every change
// later than any timestamp it has served, so nothing is missed or seen
// twice). The last page of a memberships pass and of a backfill returns
// an empty cursor: the next call starts over.
//
// Users deleted remotely show up once, in incremental listings, as a
// tombstone with status "deleted" and deleted_at; the connector emits it
// as an ordinary update of the user. It emits no protocol.Deletion: the
// host applies deletions only from complete snapshots, and the remote's
// full listing simply omits deleted users.
//
// # Field policy
//
// The user schema declares every field the remote returns, phone
// included, but phone is deliberately left out of the allow-list: the
// directory use case (who is in which group, who is an admin, who lacks
// MFA) does not need phone numbers, so the host drops them before
// anything is stored, hashed or receipted. This also keeps the host's
// allow-list enforcement exercised by the example connector. PII classes:
// email is contact data, id and name identify a person, the rest is none.
package connector
