// Command forbidden-import is a defect of the conformance corpus: its
// sync calls go-pdk's HTTP client, so the module imports extism:host/env
// http_request (and http_status_code, http_headers). Extism's http_request
// checks only the first URL's host and follows redirects anywhere, which
// is why the engine must refuse any module importing it, at load, before
// a single export runs.
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
		base, err := defectbase.BaseURL(req.Config)
		if err != nil {
			return protocol.SyncResponse{}, err
		}
		h.Logf(protocol.LogInfo, "extism http_request answered %d", extismGet(base+"/api/v1/health"))
		return normal(h, req)
	}
	sdk.Register(c)
}

func main() {}
