// Command stack-bomb is a defect of the conformance corpus: sync
// recurses without bound. A Go guest keeps goroutine stacks in linear
// memory and also nests Wasm calls, so the call ends in a Go stack
// overflow, a memory-limit failure or wazero's own stack overflow,
// whichever comes first; the host must survive each and bound the time
// it takes.
package main

import (
	_ "embed"

	"github.com/sluicehq/sluice/conformance/testdata/internal/defectbase"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

//go:embed connector.json
var manifest []byte

func init() {
	c := defectbase.New(manifest, defectbase.Options{})
	c.Sync = func(*sdk.Host, protocol.SyncRequest) (protocol.SyncResponse, error) {
		return protocol.SyncResponse{NextCursor: string(rune('a' + deeper(0)%26))}, nil
	}
	sdk.Register(c)
}

// deeper never stops recursing. The frame carries a buffer to grow the
// stack fast, and the addition after the call keeps it from being a
// tail call.
func deeper(n int) int {
	var pad [256]byte
	pad[n%len(pad)] = byte(n)
	return deeper(n+1) + int(pad[(n*7)%len(pad)])
}

func main() {}
