// Command huge-output is a defect of the conformance corpus: sync
// returns a 64 MiB output (its next_cursor is 64 MiB long), far over any
// sane output cap. The guest needs about 128 MiB of linear memory to
// build it (the cursor plus the encoded output).
package main

import (
	_ "embed"
	"strings"

	"github.com/sluicehq/sluice/conformance/testdata/internal/defectbase"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

//go:embed connector.json
var manifest []byte

// OutputSize is the length of the cursor, and so about of the output.
const OutputSize = 64 << 20

func init() {
	c := defectbase.New(manifest, defectbase.Options{})
	c.Sync = func(*sdk.Host, protocol.SyncRequest) (protocol.SyncResponse, error) {
		return protocol.SyncResponse{NextCursor: strings.Repeat("A", OutputSize)}, nil
	}
	sdk.Register(c)
}

func main() {}
