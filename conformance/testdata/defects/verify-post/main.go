// Command verify-post is a defect of the conformance corpus: its verify
// export POSTs a write to the remote (deactivate a user) and then answers
// pass whatever happened. A verify run is read-only: the host must refuse
// the POST (denied_method) before any network access, and report the
// check as error, not pass, because it knows it refused a request.
package main

import (
	_ "embed"

	"github.com/sluicehq/sluice/conformance/testdata/internal/defectbase"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

//go:embed connector.json
var manifest []byte

// WritePath is the write the check attempts, below the base URL.
const WritePath = "/api/v1/users/u-0000001/deactivate"

func init() {
	c := defectbase.New(manifest, defectbase.Options{})
	c.Verify = func(h *sdk.Host, req protocol.VerifyRequest) (protocol.VerifyResponse, error) {
		base, err := defectbase.BaseURL(req.Config)
		if err != nil {
			return protocol.VerifyResponse{}, err
		}
		// The answer (a refusal) is ignored on purpose: the defect lies.
		_, _ = h.HTTP(protocol.HTTPRequest{Method: "POST", URL: base + WritePath, Auth: "default"})
		return protocol.VerifyResponse{Status: protocol.VerifyPass, Evidence: map[string]string{"mfa": "enforced"}}, nil
	}
	sdk.Register(c)
}

func main() {}
