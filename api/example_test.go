package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/store"
)

// A server with only a store: reads and keys work, the routes of
// backends not wired answer 501 after authorization, and every refusal
// is an RFC 9457 problem naming the field.
func Example() {
	ctx := context.Background()
	db, err := store.Open(store.Options{InMemory: true})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	adminKey, err := api.Bootstrap(ctx, db)
	if err != nil {
		panic(err)
	}
	srv, err := api.New(api.Config{Store: db})
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	get := func(path, key string) {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s", resp.StatusCode, body)
	}
	get("/v1/tenants/acme/objects", "")
	get("/v1/tenants/acme/objects?limit=0", adminKey)
	get("/v1/tenants/acme/objects", adminKey)
	get("/v1/connectors", adminKey)
	// Output:
	// 401 {"type":"https://sluice.dev/problems/unauthenticated","title":"Unauthorized","status":401,"detail":"an API key is required: Authorization: Bearer sk_…","instance":"/v1/tenants/acme/objects","errors":[{"field":"header.Authorization","message":"an API key is required: Authorization: Bearer sk_…"}]}
	// 422 {"type":"https://sluice.dev/problems/validation","title":"Unprocessable Entity","status":422,"detail":"the request has invalid fields","instance":"/v1/tenants/acme/objects","errors":[{"field":"query.limit","message":"must be an integer from 1 to 1000"}]}
	// 200 {"items":[]}
	// 501 {"type":"https://sluice.dev/problems/not-wired","title":"Not Implemented","status":501,"detail":"the registry backend is not wired into this server yet","instance":"/v1/connectors","errors":[]}
}
