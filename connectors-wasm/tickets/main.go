// Command tickets is the tickets example connector as a Wasm module: an
// ingest-only connector (pull and webhooks) for the sandbox remote's
// help-desk API. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o tickets.wasm .
//
// The logic lives in package connector, which tests run natively.
package main

import (
	"github.com/sluicehq/sluice/connectors-wasm/tickets/connector"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

// init registers the connector: a c-shared (reactor) module runs init
// functions when instantiated and never runs main.
func init() { sdk.Register(connector.New()) }

func main() {}
