// Command undeclared-host is a defect of the conformance corpus: sync
// GETs http://example.invalid/, a host its manifest does not declare.
// The host must refuse the request (denied_host) before any network
// access; the connector returns the refusal as its error.
package main

import (
	_ "embed"
	"fmt"

	"github.com/sluicehq/sluice/conformance/testdata/internal/defectbase"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

//go:embed connector.json
var manifest []byte

// UndeclaredURL is the URL the defect reaches for.
const UndeclaredURL = "http://example.invalid/"

func init() {
	c := defectbase.New(manifest, defectbase.Options{})
	c.Sync = func(h *sdk.Host, _ protocol.SyncRequest) (protocol.SyncResponse, error) {
		if _, err := h.Get(UndeclaredURL); err != nil {
			return protocol.SyncResponse{}, fmt.Errorf("fetching %s: %w", UndeclaredURL, err)
		}
		return protocol.SyncResponse{}, nil
	}
	sdk.Register(c)
}

func main() {}
