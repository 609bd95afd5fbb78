// Package protocol is the single definition of Sluice's wire contract: the
// JSON messages that cross the boundary between a connector (the Wasm guest)
// and the Sluice host, and the connector manifest (connector.json).
//
// Every export of a connector takes one JSON document as input and returns
// one JSON document as output; every host function in the versioned
// namespace [HostNamespace] does the same. The types here are what both
// sides marshal. The host imports this package; the guest SDK builds on it;
// a partner writing a connector in another language reads docs/abi.md,
// which documents these same types field by field.
//
// The package depends on the standard library only, so it can be compiled
// into a guest module (GOOS=wasip1) and into the host alike.
package protocol
