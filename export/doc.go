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
//     role) and, when a recorded policy decision redacted it, that
//     decision's id and the field's PII class (decision_id, pii_class;
//     omitted otherwise, so DefaultRules bundles have neither);
//   - the policy references of the receipts, and a Decisions list (with
//     their kind) of the stored CEL policy decisions the receipts
//     reference and the redactions name;
//   - lineage as OpenLineage RunEvents, one per ingest run;
//   - the public signing keys with their ids (active and retired).
//
// [Verify] checks all of it and returns an error naming the first thing
// that fails: which key, receipt, object, field, proof, redaction entry,
// policy or lineage event. A redaction that names a decision must be
// justified by it: listed, of kind redaction, result redact, and with
// the input digest policy.RedactionInputDigest gives for that field.
// Redaction is decided by a [Rules]
// implementation; [DefaultRules] hides every field of a PII class from
// the role "auditor" and shows everything to "admin" and "pii";
// [PolicyRules] evaluate the tenant's CEL redaction policy. A [Field]
// names no value and no object, so the exporter asks the rules once per
// distinct Field per bundle: a bundle of a thousand users records a
// handful of decisions, not thousands.
package export
