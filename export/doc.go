// Package export builds and checks compliance export bundles: one JSON
// document ("sluice-export-bundle/v1") an auditor verifies offline with
// nothing but the bundle and, ideally, the signing public keys obtained
// out of band.
//
// A bundle holds, for one tenant, one role and a time range [from, to)
// over the receipts' times:
//
//   - the receipts, as the DSSE envelopes the store holds;
//   - the objects those runs committed, each as a selective disclosure
//     (receipt.Disclosure) with the fields the role may not see reduced
//     to their salted digests, the object digest, and the RFC 6962
//     inclusion proof of that digest under the run's signed payload root;
//   - redaction metadata for every redacted field (path, rule id, reason,
//     role);
//   - the policy references of the receipts, and a Decisions list for the
//     stored policy decisions of the CEL policy engine;
//   - lineage as OpenLineage RunEvents, one per ingest run;
//   - the public signing keys with their ids (active and retired).
//
// [Verify] checks all of it and returns an error naming the first thing
// that fails: which key, receipt, object, field, proof, redaction entry,
// policy or lineage event. Redaction is decided by a [Rules]
// implementation; [DefaultRules] hides every field of a PII class from
// the role "auditor" and shows everything to "admin" and "pii".
package export
