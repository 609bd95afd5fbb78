package sdk

import (
	"context"
	"sync"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Connector is one registration of handlers, one per export of the ABI.
// A nil handler means the connector does not support that export: Invoke
// answers it with an error wrapping ErrNotSupported, and the module still
// exports the function so the host sees the clear error, not a missing
// export.
//
// Handlers receive a *Host valid only during the call. They must not keep
// it, nor start goroutines that use it: a Wasm export runs to completion
// on one thread.
type Connector struct {
	Discover  func(h *Host) (protocol.DiscoverResponse, error)
	Authorize func(h *Host, req protocol.AuthorizeRequest) (protocol.AuthorizeResponse, error)
	Sync      func(h *Host, req protocol.SyncRequest) (protocol.SyncResponse, error)
	Backfill  func(h *Host, req protocol.BackfillRequest) (protocol.SyncResponse, error)
	Health    func(h *Host) (protocol.HealthResponse, error)
	Webhook   func(h *Host, req protocol.WebhookRequest) (protocol.WebhookResponse, error)
	Execute   func(h *Host, req protocol.ExecuteRequest) (protocol.ExecuteResponse, error)
	Verify    func(h *Host, req protocol.VerifyRequest) (protocol.VerifyResponse, error)
	// Replay handles a dead-letter item. It returns the raw output
	// document of the export it replayed. Nil selects the default: decode
	// req.Input as the input of the export named by req.Kind and run that
	// handler, which is right for every connector whose handlers are
	// idempotent (as the host requires).
	Replay func(h *Host, req protocol.ReplayRequest) ([]byte, error)
}

// Transport carries the host functions of the ABI. In a Wasm module the
// SDK's glue implements it with the sluice:host/v1 imports; natively a
// test (sdktest.Transport) or the host's native benchmark implements it.
// Every method takes and returns the JSON documents of the ABI, exactly
// the bytes that would cross the Wasm boundary.
type Transport interface {
	// HTTP takes a JSON protocol.HTTPRequest and returns a JSON
	// protocol.HTTPResponse.
	HTTP(ctx context.Context, req []byte) []byte
	// Emit takes a JSON protocol.EmitBatch and returns a JSON
	// protocol.EmitResult.
	Emit(ctx context.Context, batch []byte) []byte
	// Log writes one log line.
	Log(ctx context.Context, level protocol.LogLevel, msg string)
}

// registry holds the Connector of the module. It is the one piece of
// package state the SDK has, and cannot avoid: Wasm exports are plain
// functions the host calls with no argument that could carry it.
var registry struct {
	mu  sync.Mutex
	c   Connector
	set bool
}

// Register makes c the connector served by the module's exports. Call it
// once, from an init function of the main package: a c-shared (reactor)
// module runs package initialisers when it is instantiated but never
// runs main. Register panics when called twice, like other registration
// functions of the standard library, because two connectors in one
// module is a build mistake, not a runtime condition.
func Register(c Connector) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.set {
		panic("sdk: Register called twice")
	}
	registry.c, registry.set = c, true
}

// registered returns the registered connector.
func registered() (Connector, bool) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return registry.c, registry.set
}
