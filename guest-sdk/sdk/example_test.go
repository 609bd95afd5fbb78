package sdk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/guest-sdk/sdk/sdktest"
)

// tinyConnector lists users from {base_url}/api/v1/users and emits them.
func tinyConnector() sdk.Connector {
	return sdk.Connector{
		Sync: func(h *sdk.Host, req protocol.SyncRequest) (protocol.SyncResponse, error) {
			var page struct {
				Data []struct {
					ID        string `json:"id"`
					UpdatedAt string `json:"updated_at"`
				} `json:"data"`
			}
			resp, err := h.Get(req.Config["base_url"] + "/api/v1/users")
			if err != nil {
				return protocol.SyncResponse{}, err
			}
			if err := json.Unmarshal(resp.Body, &page); err != nil {
				return protocol.SyncResponse{}, err
			}
			for _, u := range page.Data {
				data, _ := json.Marshal(u)
				if err := h.Emit(protocol.Object{Type: "user", ID: u.ID, UpdatedAt: u.UpdatedAt, Data: data}); err != nil {
					return protocol.SyncResponse{}, err
				}
			}
			h.Logf(protocol.LogInfo, "emitted %d users", len(page.Data))
			return protocol.SyncResponse{NextCursor: "done"}, nil
		},
	}
}

// Invoke runs an export natively, exactly as the Wasm module would run it,
// against a loopback server with sdktest standing in for the host.
func ExampleInvoke() {
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer test-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"data":[{"id":"u-0000001","updated_at":"2024-05-01T10:00:00Z"},{"id":"u-0000002","updated_at":"2024-05-02T10:00:00Z"}]}`)
	}))
	defer remote.Close()

	host := sdktest.New(sdktest.Config{Token: "test-token"})
	input, _ := json.Marshal(protocol.SyncRequest{Stream: "users", Config: protocol.Config{"base_url": remote.URL}})
	out, err := sdk.Invoke(context.Background(), tinyConnector(), host, protocol.ExportSync, input)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(string(out))
	for _, o := range host.Objects() {
		fmt.Println(o.Type, o.ID, o.UpdatedAt)
	}
	fmt.Println(host.Logs()[0].Message)
	// Output:
	// {"next_cursor":"done","has_more":false}
	// user u-0000001 2024-05-01T10:00:00Z
	// user u-0000002 2024-05-02T10:00:00Z
	// emitted 2 users
}

// An export whose handler is nil fails with ErrNotSupported; the module
// still exports it, so the host gets this error instead of a missing
// function.
func ExampleInvoke_notSupported() {
	_, err := sdk.Invoke(context.Background(), tinyConnector(), sdktest.New(sdktest.Config{}), protocol.ExportExecute, []byte(`{"action":"x"}`))
	fmt.Println(err)
	fmt.Printf("%+v\n", sdk.ErrorResponseOf(err))
	// Output:
	// sdk: export not supported by this connector: execute
	// {Type:unsupported Message:sdk: export not supported by this connector: execute}
}
