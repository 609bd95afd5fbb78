// Command ignore-retry-after is a defect of the conformance corpus: when
// a request fails (429, 5xx, or a refusal by the host such as
// rate_limited) sync retries it at once, forever, ignoring Retry-After
// and any backoff. The host's rate limiter and the per-call deadline must
// keep the remote safe.
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
	normal := c.Sync
	c.Sync = func(h *sdk.Host, req protocol.SyncRequest) (protocol.SyncResponse, error) {
		for {
			resp, err := normal(h, req)
			if err == nil {
				return resp, nil
			}
			// No sleep, no Retry-After, no attempt limit: straight back.
		}
	}
	sdk.Register(c)
}

func main() {}
