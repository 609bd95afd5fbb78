package sdktest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/guest-sdk/sdk/sdktest"
)

func roundTrip(t *testing.T, tr *sdktest.Transport, req protocol.HTTPRequest) protocol.HTTPResponse {
	t.Helper()
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var resp protocol.HTTPResponse
	if err := json.Unmarshal(tr.HTTP(context.Background(), in), &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		case "/big":
			w.Write([]byte(strings.Repeat("x", 2048)))
		case "/redirect":
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
		default:
			w.Header().Add("X-Multi", "a")
			w.Header().Add("X-Multi", "b")
			w.Write([]byte(r.Method + " " + r.Header.Get("Authorization") + " " + r.Header.Get("X-Key")))
		}
	}))
	defer srv.Close()
	tr := sdktest.New(sdktest.Config{Token: "tok", Secrets: map[string]string{"k": "secret-k", "other": "tok2"}, Timeout: 100 * time.Millisecond, MaxBody: 1024})

	tests := []struct {
		name       string
		req        protocol.HTTPRequest
		wantStatus int
		wantBody   string
		wantErr    string
	}{
		{"default auth", protocol.HTTPRequest{URL: srv.URL + "/", Auth: "default"}, 200, "GET Bearer tok ", ""},
		{"no auth", protocol.HTTPRequest{Method: "POST", URL: srv.URL + "/"}, 200, "POST  ", ""},
		{"named auth and secret header", protocol.HTTPRequest{URL: srv.URL + "/", Auth: "other", Headers: map[string]string{"X-Key": "{{secret:k}}"}}, 200, "GET Bearer tok2 secret-k", ""},
		{"localhost allowed", protocol.HTTPRequest{URL: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/"}, 200, "GET  ", ""},
		{"redirect not followed", protocol.HTTPRequest{URL: srv.URL + "/redirect"}, 302, "", ""},
		{"unknown credential", protocol.HTTPRequest{URL: srv.URL + "/", Auth: "nope"}, 0, "", "transport"},
		{"unknown secret", protocol.HTTPRequest{URL: srv.URL + "/", Headers: map[string]string{"X": "{{secret:nope}}"}}, 0, "", "transport"},
		{"non-loopback host", protocol.HTTPRequest{URL: "https://example.com/"}, 0, "", "denied_host"},
		{"relative URL", protocol.HTTPRequest{URL: "/api"}, 0, "", "denied_host"},
		{"too large", protocol.HTTPRequest{URL: srv.URL + "/big"}, 0, "", "too_large"},
		{"timeout", protocol.HTTPRequest{URL: srv.URL + "/slow"}, 0, "", "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := roundTrip(t, tr, tt.req)
			if resp.Status != tt.wantStatus || resp.ErrorType != tt.wantErr {
				t.Fatalf("got status %d error %q (%s), want %d %q", resp.Status, resp.ErrorType, resp.Error, tt.wantStatus, tt.wantErr)
			}
			if tt.wantBody != "" && string(resp.Body) != tt.wantBody {
				t.Fatalf("body %q, want %q", resp.Body, tt.wantBody)
			}
			if resp.Status == 0 && resp.Error == "" {
				t.Fatal("a refusal without a reason")
			}
		})
	}
	if got := roundTrip(t, tr, protocol.HTTPRequest{URL: srv.URL + "/"}).Headers["X-Multi"]; got != "a, b" {
		t.Fatalf("multi-valued header = %q", got)
	}
	if n := len(tr.Requests()); n != len(tests)+1 {
		t.Fatalf("%d requests recorded, want %d", n, len(tests)+1)
	}
	var bad protocol.HTTPResponse
	if err := json.Unmarshal(tr.HTTP(context.Background(), []byte("nope")), &bad); err != nil || bad.Status != 0 || bad.ErrorType != "transport" {
		t.Fatalf("malformed request answered %+v, %v", bad, err)
	}
}

func TestEmitRejectAndReset(t *testing.T) {
	tr := sdktest.New(sdktest.Config{Reject: func(o protocol.Object) string {
		if o.ID == "bad" {
			return "schema"
		}
		return ""
	}})
	batch := `{"objects":[{"type":"user","id":"ok","data":{}},{"type":"user","id":"bad","data":{}}],"edges":[{"type":"e","from":{"type":"a","id":"1"},"to":{"type":"b","id":"2"}}],"deletions":[{"type":"user","id":"x"}]}`
	var res protocol.EmitResult
	if err := json.Unmarshal(tr.Emit(context.Background(), []byte(batch)), &res); err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 3 || len(res.Rejected) != 1 || res.Rejected[0] != (protocol.Rejection{Kind: "object", Index: 1, Type: "user", ID: "bad", Reason: "schema"}) {
		t.Fatalf("result %+v", res)
	}
	if len(tr.Objects()) != 1 || len(tr.Edges()) != 1 || len(tr.Deletions()) != 1 || tr.Batches() != 1 {
		t.Fatalf("kept %d objects %d edges %d deletions in %d batches", len(tr.Objects()), len(tr.Edges()), len(tr.Deletions()), tr.Batches())
	}
	if err := json.Unmarshal(tr.Emit(context.Background(), []byte("{")), &res); err != nil || res.Error == "" {
		t.Fatalf("malformed batch answered %+v, %v", res, err)
	}
	tr.Log(context.Background(), protocol.LogInfo, "x")
	tr.Reset()
	if len(tr.Objects())+len(tr.Edges())+len(tr.Deletions())+len(tr.Logs())+len(tr.Requests())+tr.Batches() != 0 {
		t.Fatal("Reset kept records")
	}
}

func TestRun(t *testing.T) {
	c := sdk.Connector{
		Sync: func(h *sdk.Host, req protocol.SyncRequest) (protocol.SyncResponse, error) {
			return protocol.SyncResponse{NextCursor: req.Stream, HasMore: true}, h.Emit(protocol.Object{Type: "t", ID: "1", Data: json.RawMessage(`{}`)})
		},
		Health: func(*sdk.Host) (protocol.HealthResponse, error) { return protocol.HealthResponse{Reachable: true}, nil },
	}
	tr := sdktest.New(sdktest.Config{})
	resp, err := sdktest.Run[protocol.SyncResponse](context.Background(), c, tr, protocol.ExportSync, protocol.SyncRequest{Stream: "users"})
	if err != nil || resp != (protocol.SyncResponse{NextCursor: "users", HasMore: true}) || len(tr.Objects()) != 1 {
		t.Fatalf("Run sync = %+v, %v, %d objects", resp, err, len(tr.Objects()))
	}
	health, err := sdktest.Run[protocol.HealthResponse](context.Background(), c, tr, protocol.ExportHealth, nil)
	if err != nil || !health.Reachable {
		t.Fatalf("Run health = %+v, %v", health, err)
	}
	if _, err := sdktest.Run[protocol.SyncResponse](context.Background(), c, tr, protocol.ExportSync, func() {}); err == nil {
		t.Fatal("an unencodable request did not fail")
	}
}
