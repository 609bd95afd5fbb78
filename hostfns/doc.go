// Package hostfns implements Sluice's host functions, the only doors out of
// the connector sandbox: sluice_http (egress), sluice_emit (records) and
// sluice_log (scrubbed logs), in the namespace [protocol.HostNamespace].
//
// Every door is a capability of one invocation. The engine builds a [Call]
// for each export it invokes, opening only the doors that export needs,
// and attaches it to the invocation's context with [WithCall]. The Wasm
// glue returned by [Functions] reads the Call from the context; a nil door
// (or no Call at all) answers "denied". Native runs hand the same *Call
// to the guest SDK, whose transport interface it satisfies, so a connector
// linked into the host process goes through the same checks as one in Wasm.
//
// The egress door ([HTTP]) enforces the manifest's host, scheme and method
// allow-list, injects credentials by reference so raw secrets never enter
// the sandbox, rate-limits per tenant×connector ([Limiter]), retries with
// full-jitter backoff honouring Retry-After, caps size and time, refuses
// private and metadata addresses at dial time ([NewTransport]), scrubs
// every answer ([Scrubber]) and records redacted exchanges to the run's
// tape. It never follows a redirect: the 3xx goes back to the guest, whose
// request to the Location is checked like any other, so no hop escapes
// the allow-list and there is a single code path for the checks. The emit door ([Emitter]) checks each record against the manifest
// (declared type, stream, allow-list, JSON Schema, backfill range), derives
// deterministic entity ids and returns canonical (RFC 8785) data for the
// store. The log door ([Log]) writes scrubbed, capped slog records.
//
// Nothing in this package panics on guest input: malformed JSON, bad
// offsets and oversized messages all come back as error answers.
package hostfns
