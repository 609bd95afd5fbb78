// Package sdktest runs connectors natively, with plain go test, against
// real loopback HTTP servers.
//
// [Transport] implements sdk.Transport in memory: HTTP requests go
// through net/http to loopback addresses only (anything else is refused
// like an undeclared host), a static bearer token stands in for the
// host's credential injection, and emitted records and log lines are
// decoded and kept for the test to inspect. [Run] invokes one export with
// a typed request and decodes the typed response.
//
// sdktest does not enforce the manifest, schemas, field allow-lists,
// rate limits or secret scrubbing: those are the host's, and the
// conformance suite (sluice certify) checks a built module against them.
package sdktest
