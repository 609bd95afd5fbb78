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
//
// # Webhooks
//
// The remote pushes {"id","type","occurred_at","data"} events. user.created,
// user.updated and user.deleted carry the user record, which is emitted
// as is (the tombstone of a deleted user included), with the record's
// updated_at as the object's version: the host refuses an event older
// than what it stored, so out-of-order delivery never regresses a user.
// membership.added emits the member_of edge; membership.removed emits
// nothing, since the ABI has no edge deletion, and the next memberships
// snapshot drops the edge. Any other type fails with error type
// "unsupported_event", a malformed event with "bad_event". The export
// answers the event id, which the host de-duplicates by.
//
// # Actions
//
// create_user (users:write), grant_group (groups:write, inverse
// revoke_group), revoke_group (destructive) and deactivate_user
// (destructive, users:write). Each makes one write, sends the correlation
// id as X-Correlation-Id, and answers the remote's change id in
// remote_change_ids. Repeats are safe: a second grant or deactivation
// changes nothing and answers the first change (already_member=true), a
// revoke of a membership that is gone answers no change
// (was_member=false). A dry run checks the parameters and that the user
// exists, with GETs only. Parameters are checked against the same rules
// as their JSON Schemas before anything is sent ("bad_input"); remote
// refusals are typed "not_found", "conflict" or "bad_input", other
// statuses by the SDK (unauthorized, rate_limited, remote_unavailable).
//
// # Checks
//
// Read-only, GET only: mfa_enforced (IAM-MFA: the tenant requires MFA),
// no_stale_admins (IAM-ADMIN-ACTIVITY: no active admin without a sign-in
// in max_age_days, default 90, judged against the remote's as_of so a
// replay from the tape gives the same verdict) and password_policy
// (IAM-PASSWORD: length ≥ 12, history ≥ 5, lockout after 1..10 failures).
// Each answers pass or fail with its evidence; a remote that cannot be
// read is an error of the export, never a pass.
package connector
