// Package sdk is the Go guest SDK for Sluice connectors: write a
// connector as plain Go handlers, test it natively with go test, and
// build it into a WebAssembly module the Sluice engine runs in its
// sandbox.
//
// # Write a connector
//
// A connector is a [Connector] value: one handler per export of the guest
// ABI (discover, authorize, sync, backfill, health, webhook, execute,
// verify, replay). Leave a handler nil when the connector does not
// support that export. Register it from an init function of package
// main; a Wasm module built as a reactor (-buildmode=c-shared) runs init
// functions when it is instantiated and never runs main, so main stays
// empty:
//
//	package main
//
//	import (
//		"github.com/sluicehq/sluice/guest-sdk/protocol"
//		"github.com/sluicehq/sluice/guest-sdk/sdk"
//	)
//
//	func init() {
//		sdk.Register(sdk.Connector{
//			Discover: discover,
//			Sync: func(h *sdk.Host, req protocol.SyncRequest) (protocol.SyncResponse, error) {
//				body, err := h.GetBody(req.Config["base_url"] + "/api/v1/users")
//				if err != nil {
//					return protocol.SyncResponse{}, err
//				}
//				v, err := sdk.RawMembers(body, "data")
//				if err != nil {
//					return protocol.SyncResponse{}, err
//				}
//				records, err := sdk.RawElements(v[0])
//				if err != nil {
//					return protocol.SyncResponse{}, err
//				}
//				for _, raw := range records {
//					obj, err := sdk.ObjectFromRecord("user", raw, sdk.RecordKeys{})
//					if err != nil {
//						return protocol.SyncResponse{}, err
//					}
//					if err := h.Emit(obj); err != nil {
//						return protocol.SyncResponse{}, err
//					}
//				}
//				return protocol.SyncResponse{}, nil // one page, nothing to resume
//			},
//		})
//	}
//
//	func main() {}
//
// Keep the connector logic in a package of its own with no build tags
// (connectors-wasm/directory/connector is a complete example) so that
// tests import it without the Wasm glue. Alongside the module ships
// connector.json, the manifest ([protocol.Manifest]); discover must
// agree with it.
//
// Every handler gets a [Host], its only door out of the sandbox during
// that call:
//
//   - [Host.HTTP], [Host.Get], [Host.GetBody] and [Host.GetJSON] send
//     requests through the host. Never put a credential in a request: set
//     Auth to "default" (the Get helpers do) or write "{{secret:NAME}}" as
//     a header value, and the host injects it. Raw secrets never enter the
//     module.
//   - [Host.Emit], [Host.EmitEdge] and [Host.Delete] buffer records and
//     send them in batches ([BatchRecords] records or [BatchBytes] bytes)
//     and when the handler returns; [Host.Flush] sends them now and
//     [Host.Rejected] lists the records the host rejected.
//   - [Host.Log] and [Host.Logf] write to the run's log.
//
// JSON decoding dominates a Go guest's time: Go compiled to Wasm is slow
// at encoding/json's reflection and per-byte scanning. For records that
// are stored as the remote sent them, [RawMembers] and [RawElements] take
// a list response apart and [ObjectFromRecord] reads an object's id and
// timestamps, all without decoding the records (measured: a users sync
// of the directory example ran 2.3 times faster than with json.Unmarshal).
// Emit copies Data verbatim, after checking it is valid JSON.
//
// Cursors are yours: a sync returns NextCursor and HasMore, the host
// stores the cursor with the page of records in one transaction and
// hands it back on the next call. Make it opaque JSON that says where the
// next call resumes, and make every handler idempotent, because the host
// retries and replays.
//
// # Build it
//
// From the directory of package main, with Go 1.24 or newer:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o x.wasm .
//
// The module exports the nine ABI functions and imports only what the
// engine accepts: extism:host/env memory, input, output and error
// functions (through github.com/extism/go-pdk, pinned at v1.1.3),
// sluice:host/v1 sluice_http, sluice_emit and sluice_log, and
// wasi_snapshot_preview1. Do not call go-pdk's HTTP, config or var
// helpers, nor import anything else: the engine refuses such a module
// at upload. The Go linker drops imports nothing calls, so using only
// this package keeps the import list clean; check it with any Wasm
// tool, or let sluice certify check it.
//
// # Test it natively
//
// [Invoke] runs one export of a Connector in-process, exactly as the
// module does, over a [Transport]. Package sdktest provides one that
// sends HTTP to real loopback test servers (with a static bearer token
// standing in for credential injection) and keeps what was emitted and
// logged:
//
//	tr := sdktest.New(sdktest.Config{Token: "test-token"})
//	resp, err := sdktest.Run[protocol.SyncResponse](ctx, connector.New(), tr,
//		protocol.ExportSync, protocol.SyncRequest{Stream: "users", Config: cfg})
//	// inspect resp, tr.Objects(), tr.Edges(), tr.Logs()
//
// Then run the built module through sluice certify, which drives it in
// the real sandbox against the conformance suite's sandbox remote.
//
// # What the host guarantees
//
//   - Every export call gets a complete JSON input and returns before the
//     next call on the same instance starts; a Host is never shared.
//   - Requests reach only the hosts and methods of the manifest that the
//     tenant granted; the host injects credentials, rate-limits per
//     tenant, honours Retry-After, retries transient failures with
//     backoff and jitter, and caps response size and time. A request the
//     host refuses fails with a *[HostError] (status 0); a remote answer
//     of any status is returned as is.
//   - Emitted objects are validated against the declared JSON Schema,
//     trimmed to the field allow-list, tagged with PII classes, given a
//     deterministic entity id from (tenant, connector, type, id) and
//     upserted idempotently. A page of records and the cursor that
//     follows it commit together.
//   - Logs are scrubbed of every secret value.
//   - Clock and randomness come from WASI and are set per run, so a replay
//     from a tape sees the same time, the same random bytes and the same
//     HTTP answers, and must emit the same records.
//   - Limits per call: memory, wall-clock deadline, output size and
//     records emitted. A module that exceeds one fails the call; its
//     instance is discarded.
//
// A failed export reports a protocol.ErrorResponse as its Extism error:
// [ErrorResponseOf] derives the type (a runbook key) from the error;
// wrap an error in a *[TypedError] to choose it. docs/abi.md in the
// repository is the full ABI for authors using other languages.
package sdk
