package hostfns_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
)

// The egress door denies by default: only declared hosts, schemes and
// methods get through, and a read-only (verify) call may only read.
func ExampleHTTP_Do() {
	h := hostfns.NewHTTP(hostfns.HTTPConfig{
		Hosts:     []protocol.HostRule{{Host: "api.example.com", Methods: []string{"GET", "POST"}}},
		ReadOnly:  true,
		Transport: hostfns.NewTransport(hostfns.NetOptions{}),
	})
	ctx := context.Background()
	for _, req := range []protocol.HTTPRequest{
		{Method: "GET", URL: "https://evil.example.com/steal"},
		{Method: "GET", URL: "http://api.example.com/v1/users"},
		{Method: "POST", URL: "https://api.example.com/v1/users"},
	} {
		resp := h.Do(ctx, req)
		fmt.Println(resp.ErrorType)
	}
	// Output:
	// denied_host
	// denied_scheme
	// denied_method
}

func ExampleParseRetryAfter() {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "Wed, 01 Jan 2025 12:00:30 GMT", "3600", "soon"} {
		d, ok := hostfns.ParseRetryAfter(v, now, time.Minute)
		fmt.Println(d, ok)
	}
	// Output:
	// 1m0s true
	// 30s true
	// 1m0s true
	// 0s false
}
