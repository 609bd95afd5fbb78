// Package policy evaluates tenant policies written in CEL (the Common
// Expression Language, cel.dev/cel-go) and records every evaluation as a
// decision that receipts reference.
//
// # Kinds
//
// There are three policy kinds. Each has a documented input (the CEL
// variables, declared with their types, so a policy that names an unknown
// variable or compares a string with a number is refused when it is
// saved) and a built-in default that applies until the tenant saves its
// own expression.
//
// ingest: may a sync or backfill run store one declared type of a stream?
// Evaluated at run start once per type (object and edge types) of every
// stream the grant permits.
//
//	tenant      string        the tenant id
//	connector   string        the connector id
//	connection  string        the connection id
//	run_kind    string        "sync" or "backfill"
//	stream      string        the stream that carries the type
//	object_type string        the object (or edge) type
//	scopes      list(string)  the scopes the stream needs
//	granted     list(string)  the scopes granted to the connection
//
//	default: scopes.all(s, s in granted)
//
// action: may an action run (the preflight of package actions)?
//
//	tenant, connector, connection, action, requester  string
//	destructive, inverse                              bool
//	params              map(string, dyn)  the action's parameters
//	scopes              list(string)      the scopes the action needs
//	granted             list(string)      the scopes granted to the connection
//	approvers           int               approvals collected (0 at submission)
//	required_approvals  int               approvals the tenant's action rules ask for
//	ttl_seconds         int               the grant's TTL, 0 if none
//
//	default: true
//
// redaction: is one field of an exported object hidden from a role?
//
//	tenant, role, connector, object_type, field  string
//	pii_class  string  the field's PII class in the manifest ("" if unknown)
//
//	default: roles without PII rights (every role but "admin" and "pii")
//	redact every field whose class is not "none", unclassified included.
//
// # Results
//
// An expression evaluates to a bool or to a map with the key "allow"
// (ingest, action) or "redact" (redaction) holding a bool, and optional
// "rule" and "reason" strings. true allows (or, for redaction, redacts).
// The two branches of a conditional must have one type: write maps in
// both, or wrap one in dyn(). Anything else is an evaluation error, and
// an error refuses: a policy
// that fails never lets data in, never lets an action run and never
// reveals a field.
//
// # Safety
//
// Expressions are at most 16 KiB, compiled once per policy digest and
// cached, and every evaluation runs under CEL's cost tracking with a cost
// limit ([Config.CostLimit]) and a deadline, so a policy cannot hang the
// host however large its input.
//
// # Decisions
//
// Each evaluation yields a [Decision] {decision_id, policy_digest,
// input_digest, result, reasons}: the policy digest is the SHA-256 of the
// kind and the expression, the input digest the SHA-256 of the input's
// RFC 8785 canonical JSON. The decision id is derived from both, so the
// same policy on the same input is one stored decision, however many
// scheduled runs make it.
package policy
