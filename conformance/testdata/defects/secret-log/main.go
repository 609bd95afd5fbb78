// Command secret-log is a defect of the conformance corpus, for the
// secret-scrub scan: sync calls /api/v1/account with the default
// credential, logs every response header and the body it sees, and logs
// the value of config key "canary" (which the test sets to a secret).
// Then it syncs normally. Every log line must reach storage scrubbed.
package main

import (
	_ "embed"
	"maps"
	"slices"

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
		resp, err := h.HTTP(protocol.HTTPRequest{Method: "GET", URL: base + "/api/v1/account", Auth: "default"})
		if err != nil {
			h.Logf(protocol.LogError, "account request failed: %v", err)
		}
		for _, k := range slices.Sorted(maps.Keys(resp.Headers)) {
			h.Logf(protocol.LogInfo, "response header %s: %s", k, resp.Headers[k])
		}
		h.Logf(protocol.LogInfo, "response body: %s", resp.Body)
		h.Logf(protocol.LogWarn, "canary: %s", req.Config["canary"])
		h.Log(protocol.LogError, req.Config["canary"])
		return normal(h, req)
	}
	sdk.Register(c)
}

func main() {}
