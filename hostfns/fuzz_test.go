package hostfns

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// FuzzEmitBatch: arbitrary bytes into the emit door never panic, always
// answer a valid EmitResult, and never accept more than was sent.
func FuzzEmitBatch(f *testing.F) {
	for _, s := range []string{
		`{"objects":[{"type":"user","id":"u1","created_at":"2024-01-05T00:00:00Z","data":{"email":"a@b.c","age":3,"x":[1,{"y":null}]}}]}`,
		`{"edges":[{"type":"member_of","from":{"type":"user","id":"1"},"to":{"type":"org","id":"2"},"confidence":0.5}]}`,
		`{"deletions":[{"type":"org","id":"9"}]}`,
		`{"objects":[{"type":"org","id":"1","data":{"name":"\ud800 hunter2hunter2 \u0000","n":1e999}}]}`,
		`{"objects":null,"edges":[],"deletions":[{}]}`,
		`[]`, `{`, ``, `null`, `{"objects":[{"data":{}}]}`,
	} {
		f.Add([]byte(s))
	}
	m := testManifest()
	sch, err := CompileSchemas(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, batch []byte) {
		c := &Call{Sink: NewEmitter(EmitConfig{
			Tenant: "t", Connector: "acme", Connection: "c", RunID: "r",
			Schemas: sch, Manifest: m, Stream: "users", MaxRecords: 50,
			Range: &protocol.Range{From: "2024-01-01T00:00:00Z", To: "2024-02-01T00:00:00Z"},
			Scrub: NewScrubber("hunter2hunter2"), Clock: fixedClock,
		})}
		out := c.Emit(context.Background(), batch)
		var res protocol.EmitResult
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("answer is not JSON: %s", out)
		}
		got := c.Sink.Take()
		if res.Accepted != len(got.Objects)+len(got.Edges)+len(got.Deletions) || res.Accepted < 0 {
			t.Fatalf("accepted %d, took %d+%d+%d", res.Accepted, len(got.Objects), len(got.Edges), len(got.Deletions))
		}
		for _, o := range got.Objects {
			if !json.Valid(o.Data) {
				t.Fatalf("stored data is not JSON: %s", o.Data)
			}
		}
	})
}

// FuzzHTTPRequest: arbitrary bytes into the egress door, with a transport
// that refuses everything, never panic and always answer a valid
// HTTPResponse that is a refusal or a failure.
func FuzzHTTPRequest(f *testing.F) {
	for _, s := range []string{
		`{"method":"GET","url":"https://api.example.com/v1/x"}`,
		`{"method":"POST","url":"https://api.example.com:443/v1/x#f","auth":"default","body":"eyJhIjoxfQ==","headers":{"X-K":"{{secret:k}}","Connection":"X-K"}}`,
		`{"method":"get","url":"https://API.EXAMPLE.COM/","headers":{"Host":"evil","X":"{{secret:"}}`,
		`{"url":"http://[::1]:80/"}`, `{"url":"%zz"}`, `{"method":"\u0000"}`, `{}`, `[]`, ``, `{"body":"!!"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, req []byte) {
		c := &Call{Net: NewHTTP(HTTPConfig{
			Hosts:       []protocol.HostRule{{Host: "api.example.com", Methods: []string{"GET", "POST"}}, {Host: "[::1]:80", Scheme: "http", Methods: []string{"GET"}}},
			Transport:   refuseAll{},
			Credentials: StaticCredentials{Keys: map[string]string{"default": "key-123456"}, Secrets: map[string]string{"k": "secret-value"}},
			Scrub:       NewScrubber("key-123456", "secret-value"),
			MaxRetries:  1,
			Sleep:       func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		})}
		out := c.HTTP(context.Background(), req)
		var resp protocol.HTTPResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("answer is not JSON: %s", out)
		}
		if resp.Status != 0 || resp.ErrorType == "" || resp.Error == "" {
			t.Fatalf("a refusing transport produced %+v", resp)
		}
	})
}

// FuzzRetryAfter: any header value parses to a delay in [0, max].
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range []string{"0", "120", "-1", "1e3", " 7 ", "99999999999999999999999",
		now.Add(time.Minute).Format(http.TimeFormat), "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994", "Fri, 31 Dec 9999 23:59:59 GMT", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		const limit = time.Minute
		d, ok := ParseRetryAfter(v, now, limit)
		if d < 0 || d > limit || (!ok && d != 0) {
			t.Fatalf("ParseRetryAfter(%q) = %s, %v", v, d, ok)
		}
	})
}
