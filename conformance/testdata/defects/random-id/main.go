// Command random-id is a defect of the conformance corpus: sync emits
// every user under a random id from crypto/rand instead of its remote id,
// so the same remote user maps to a new entity on every run. Replaying a
// tape with a different random seed, or syncing twice, must expose it.
package main

import (
	"crypto/rand"
	_ "embed"

	"github.com/sluicehq/sluice/conformance/testdata/internal/defectbase"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

//go:embed connector.json
var manifest []byte

func init() {
	sdk.Register(defectbase.New(manifest, defectbase.Options{Object: func(_ int, o protocol.Object) protocol.Object {
		if o.Type == "user" {
			o.ID = "u-" + rand.Text()
		}
		return o
	}}))
}

func main() {}
