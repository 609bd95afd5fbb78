// Command endless-loop is a defect of the conformance corpus: sync spins
// forever without calling the host. Only the per-call deadline
// (WithCloseOnContextDone, checked on loop back-edges) can stop it.
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
		spin()
		return protocol.SyncResponse{}, nil
	}
	sdk.Register(c)
}

// spin never returns and makes no call: a bare loop the Go compiler
// keeps, with nothing for the host to intercept.
func spin() {
	for {
	}
}

func main() {}
