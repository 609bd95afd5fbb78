// Package manifest parses and validates connector.json, the manifest a
// partner uploads beside a connector module.
//
// Validation has two layers. The document is first checked against the
// published JSON Schema (Schema, served by the API at
// /v1/schemas/connector.json), which catches shape errors with a pointer
// to the offending field. Then semantic rules the schema cannot express
// are checked: a semver version, unique names, streams that only name
// declared types and scopes, object-type schemas that compile, exact
// host names. Every error names the field it is about.
package manifest
