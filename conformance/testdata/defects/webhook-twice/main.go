// Command webhook-twice is a defect of the conformance corpus: it
// processes a redelivered webhook twice. Its webhook export answers the
// event's id plus a random nonce (crypto/rand, which the host seeds per
// run), so every delivery of one event looks new to the host's event-id
// de-duplication and is committed again. The redelivery check must
// catch it.
package main

import (
	"crypto/rand"
	_ "embed"

	"github.com/sluicehq/sluice/conformance/testdata/internal/defectbase"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

//go:embed connector.json
var manifest []byte

func init() {
	sdk.Register(defectbase.New(manifest, defectbase.Options{EventID: func(id string) string {
		return id + "-" + rand.Text()
	}}))
}

func main() {}
