package sdktest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

// Run invokes export of c through t the way the host would: req is
// encoded as the export's JSON input (nil sends no input, as for
// discover and health), and the JSON output is decoded into a Resp.
func Run[Resp any](ctx context.Context, c sdk.Connector, t *Transport, export string, req any) (Resp, error) {
	var resp Resp
	var in []byte
	if req != nil {
		var err error
		if in, err = json.Marshal(req); err != nil {
			return resp, fmt.Errorf("sdktest: encoding %s input: %w", export, err)
		}
	}
	out, err := sdk.Invoke(ctx, c, t, export, in)
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return resp, fmt.Errorf("sdktest: decoding %s output %q: %w", export, out, err)
	}
	return resp, nil
}
