// Command memory-bomb is a defect of the conformance corpus: sync
// allocates 1 MiB slices forever and keeps every one, so linear memory
// grows until the engine's memory limit stops the call.
package main

import (
	_ "embed"

	"github.com/sluicehq/sluice/conformance/testdata/internal/defectbase"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

//go:embed connector.json
var manifest []byte

// hoard keeps every allocation reachable, so the garbage collector can
// free nothing and the compiler cannot drop the allocations.
var hoard [][]byte

func init() {
	c := defectbase.New(manifest, defectbase.Options{})
	c.Sync = func(*sdk.Host, protocol.SyncRequest) (protocol.SyncResponse, error) {
		for i := 0; ; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = byte(i) // touch every page
			}
			hoard = append(hoard, b)
		}
	}
	sdk.Register(c)
}

func main() {}
