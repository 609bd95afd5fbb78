// Package receipt produces and checks the signed provenance records of
// Sluice: ingest receipts (and, later, action-run and evidence receipts),
// the payload manifest they commit to, and the per-object digests that make
// selective disclosure possible.
//
// # Receipts
//
// A receipt is an in-toto Statement v1
// (https://in-toto.io/Statement/v1) whose predicate describes the run
// (see [Ingest]) and whose subject is the payload manifest: the name
// "payload-manifest/{run id}" with the Merkle root as its sha256 digest.
// The statement is serialised as RFC 8785 canonical JSON and wrapped in a
// DSSE envelope signed with Ed25519 (payloadType
// "application/vnd.in-toto+json"). RFC 8785 numbers are IEEE doubles, so
// every id is a string and [Signer.Sign] refuses an integer above 2^53.
//
// DSSE signs bytes, not values: [Verify] checks the signature over the
// exact payload bytes and hands back those bytes ([Verified.Statement]);
// [Verified.Ingest] decodes the predicate from them. Nothing is ever
// re-serialised and verified again.
//
// # Object digests (format "sluice-salted-fields-v1")
//
// Every emitted object gets one 32-byte digest built from salted per-field
// digests, in the pattern of SD-JWT (RFC 9901):
//
//	salt(field)   = HMAC-SHA256(saltKey, entityID || 0x00 || field)[:16]
//	digest(field) = SHA-256(salt || 0x00 || field || 0x00 || JCS(value))
//	object        = SHA-256(JCS({"entity_id": entityID,
//	                             "fields": {field: hex(digest(field)), ...}}))
//
// over the top-level fields of the object. entityID holds no NUL byte, and
// JCS output never holds one, so each hash input splits in one way only.
// Because the salt is secret and per field, a redacted export can replace
// a field by its digest without letting a reader guess the value, and a
// reader can still recompute the object digest
// ([ObjectDigestFromFieldDigests]) and check it against the signed root.
//
// # Selective disclosure
//
// A [Disclosure] is an object with each field either revealed
// ({digest, salt, value}) or redacted ({digest}); [Disclosure.Redact]
// turns one into the other, and [VerifyDisclosure] checks every revealed
// value against its digest, rebuilds the object digest from the field
// digests and checks its inclusion proof against a signed root.
//
// # Payload manifest
//
// The object digests of a run, in ascending entity id order, are the
// leaves of an RFC 6962 Merkle tree (SHA-256, algorithm "rfc6962-sha256").
// [PayloadBuilder] computes the root and inclusion proofs;
// [VerifyInclusion] checks a proof with github.com/transparency-dev/merkle.
package receipt
