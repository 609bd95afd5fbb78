package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/guest-sdk/sdk/sdktest"
)

// echoConnector answers every export with something derived from its
// request, so a test can see that the request was decoded.
func echoConnector() sdk.Connector {
	return sdk.Connector{
		Discover: func(*sdk.Host) (protocol.DiscoverResponse, error) {
			return protocol.DiscoverResponse{ID: "echo", Version: "1.0.0", Types: []string{protocol.TypeIngestPull}}, nil
		},
		Authorize: func(_ *sdk.Host, req protocol.AuthorizeRequest) (protocol.AuthorizeResponse, error) {
			return protocol.AuthorizeResponse{AccountID: req.Config["account"], NeededScopes: req.GrantedScopes}, nil
		},
		Sync: func(_ *sdk.Host, req protocol.SyncRequest) (protocol.SyncResponse, error) {
			return protocol.SyncResponse{NextCursor: req.Stream + "|" + req.Cursor, HasMore: req.PageSize > 0}, nil
		},
		Backfill: func(_ *sdk.Host, req protocol.BackfillRequest) (protocol.SyncResponse, error) {
			return protocol.SyncResponse{NextCursor: req.Range.From + "/" + req.Range.To}, nil
		},
		Health: func(h *sdk.Host) (protocol.HealthResponse, error) {
			if base := h.Config()["base_url"]; base != "" {
				return protocol.HealthResponse{Reachable: true, Details: map[string]string{"base_url": base}}, nil
			}
			return protocol.HealthResponse{Reachable: true}, nil
		},
		Webhook: func(_ *sdk.Host, req protocol.WebhookRequest) (protocol.WebhookResponse, error) {
			return protocol.WebhookResponse{EventIDs: []string{req.Headers["X-Event"]}}, nil
		},
		Execute: func(_ *sdk.Host, req protocol.ExecuteRequest) (protocol.ExecuteResponse, error) {
			return protocol.ExecuteResponse{RemoteChangeIDs: []string{req.CorrelationID}}, nil
		},
		Verify: func(_ *sdk.Host, req protocol.VerifyRequest) (protocol.VerifyResponse, error) {
			return protocol.VerifyResponse{Status: protocol.VerifyPass, Evidence: map[string]string{"check": req.Check}}, nil
		},
	}
}

func TestInvokeDispatch(t *testing.T) {
	tests := []struct {
		export string
		input  string
		want   string
	}{
		{protocol.ExportDiscover, "", `{"id":"echo","version":"1.0.0","types":["ingest_pull"],"scopes":null}`},
		{protocol.ExportDiscover, "ignored", `{"id":"echo","version":"1.0.0","types":["ingest_pull"],"scopes":null}`},
		{protocol.ExportAuthorize, `{"granted_scopes":["a"],"config":{"account":"acc-1"}}`, `{"account_id":"acc-1","needed_scopes":["a"]}`},
		{protocol.ExportSync, `{"stream":"users","cursor":"c1","page_size":10,"future_field":1}`, `{"next_cursor":"users|c1","has_more":true}`},
		{protocol.ExportBackfill, `{"stream":"users","range":{"from":"a","to":"b"}}`, `{"next_cursor":"a/b","has_more":false}`},
		{protocol.ExportHealth, "", `{"reachable":true}`},
		{protocol.ExportHealth, "{}", `{"reachable":true}`},
		{protocol.ExportHealth, `{"config":{"base_url":"http://x"}}`, `{"reachable":true,"details":{"base_url":"http://x"}}`},
		{protocol.ExportWebhook, `{"headers":{"X-Event":"e1"},"body":{}}`, `{"event_ids":["e1"]}`},
		{protocol.ExportExecute, `{"action":"x","correlation_id":"corr-1"}`, `{"remote_change_ids":["corr-1"]}`},
		{protocol.ExportVerify, `{"check":"mfa"}`, `{"status":"pass","evidence":{"check":"mfa"}}`},
		{protocol.ExportReplay, `{"item_id":"i1","kind":"sync","input":{"stream":"groups","cursor":"c9"}}`, `{"next_cursor":"groups|c9","has_more":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.export, func(t *testing.T) {
			out, err := sdk.Invoke(context.Background(), echoConnector(), sdktest.New(sdktest.Config{}), tt.export, []byte(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Fatalf("output %s, want %s", out, tt.want)
			}
		})
	}
}

func TestInvokeErrors(t *testing.T) {
	boom := errors.New("boom")
	c := sdk.Connector{
		Sync: func(*sdk.Host, protocol.SyncRequest) (protocol.SyncResponse, error) {
			return protocol.SyncResponse{}, &sdk.TypedError{Type: "quota", Err: boom}
		},
		Backfill: func(*sdk.Host, protocol.BackfillRequest) (protocol.SyncResponse, error) {
			var m map[string]int
			m["x"] = 1 // a connector bug: nil map write
			return protocol.SyncResponse{}, nil
		},
	}
	tests := []struct {
		name, export, input string
		is                  error
		errType             string
	}{
		{"nil handler", protocol.ExportHealth, "", sdk.ErrNotSupported, sdk.ErrorTypeUnsupported},
		{"nil handler with input", protocol.ExportHealth, "{", sdk.ErrNotSupported, sdk.ErrorTypeUnsupported},
		{"unknown export", "drop_tables", "{}", sdk.ErrUnknownExport, "unknown_export"},
		{"empty input", protocol.ExportSync, "", sdk.ErrBadInput, sdk.ErrorTypeBadInput},
		{"not json", protocol.ExportSync, "{nope", sdk.ErrBadInput, sdk.ErrorTypeBadInput},
		{"wrong type", protocol.ExportSync, `{"page_size":"ten"}`, sdk.ErrBadInput, sdk.ErrorTypeBadInput},
		{"trailing data", protocol.ExportSync, `{} {}`, sdk.ErrBadInput, sdk.ErrorTypeBadInput},
		{"handler error", protocol.ExportSync, `{"stream":"users"}`, boom, "quota"},
		{"panic", protocol.ExportBackfill, `{"stream":"users"}`, sdk.ErrPanic, sdk.ErrorTypePanic},
		{"replay of replay", protocol.ExportReplay, `{"kind":"replay","input":{}}`, sdk.ErrBadInput, sdk.ErrorTypeBadInput},
		{"replay unknown kind", protocol.ExportReplay, `{"kind":"nope","input":{}}`, sdk.ErrUnknownExport, "unknown_export"},
		{"replay bad input", protocol.ExportReplay, `{"kind":"sync","input":"x"}`, sdk.ErrBadInput, sdk.ErrorTypeBadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := sdk.Invoke(context.Background(), c, sdktest.New(sdktest.Config{}), tt.export, []byte(tt.input))
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			if out != nil {
				t.Fatalf("output %q with an error", out)
			}
			if got := sdk.ErrorResponseOf(err); got.Type != tt.errType || got.Message != err.Error() {
				t.Fatalf("ErrorResponseOf = %+v, want type %q", got, tt.errType)
			}
		})
	}
}

func TestHostConfig(t *testing.T) {
	var seen []protocol.Config
	c := sdk.Connector{
		Sync: func(h *sdk.Host, req protocol.SyncRequest) (protocol.SyncResponse, error) {
			seen = append(seen, h.Config())
			return protocol.SyncResponse{}, nil
		},
		Discover: func(h *sdk.Host) (protocol.DiscoverResponse, error) {
			seen = append(seen, h.Config())
			return protocol.DiscoverResponse{}, nil
		},
		Health: func(*sdk.Host) (protocol.HealthResponse, error) { return protocol.HealthResponse{}, nil },
	}
	tr := sdktest.New(sdktest.Config{})
	for _, call := range []struct{ export, input string }{
		{protocol.ExportSync, `{"config":{"k":"v"}}`},
		{protocol.ExportDiscover, `{"config":{"k":"v"}}`},
		{protocol.ExportReplay, `{"kind":"sync","input":{"config":{"k":"replayed"}}}`},
	} {
		if _, err := sdk.Invoke(context.Background(), c, tr, call.export, []byte(call.input)); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 3 || seen[0]["k"] != "v" || seen[1] != nil || seen[2]["k"] != "replayed" {
		t.Fatalf("configs seen %v, want [v, nil, replayed]", seen)
	}
	if _, err := sdk.Invoke(context.Background(), c, tr, protocol.ExportHealth, []byte(`{"config":1}`)); !errors.Is(err, sdk.ErrBadInput) {
		t.Fatalf("health with a malformed request: %v, want ErrBadInput", err)
	}
}

func TestInvokeNilTransport(t *testing.T) {
	if _, err := sdk.Invoke(context.Background(), echoConnector(), nil, protocol.ExportDiscover, nil); !errors.Is(err, sdk.ErrNilTransport) {
		t.Fatalf("err = %v, want ErrNilTransport", err)
	}
}

func TestInvokeCustomReplay(t *testing.T) {
	c := sdk.Connector{Replay: func(_ *sdk.Host, req protocol.ReplayRequest) ([]byte, error) {
		return []byte(`"` + req.ItemID + `"`), nil
	}}
	out, err := sdk.Invoke(context.Background(), c, sdktest.New(sdktest.Config{}), protocol.ExportReplay, []byte(`{"item_id":"dlq-7","kind":"sync","input":{}}`))
	if err != nil || string(out) != `"dlq-7"` {
		t.Fatalf("out %s err %v", out, err)
	}
}

func TestErrorResponseOfStatusClasses(t *testing.T) {
	for status, want := range map[int]string{401: "unauthorized", 403: "unauthorized", 404: "remote_error", 429: "rate_limited", 503: "remote_unavailable"} {
		err := error(&sdk.StatusError{Method: "GET", URL: "http://127.0.0.1/x", Status: status})
		if got := sdk.ErrorResponseOf(err).Type; got != want {
			t.Errorf("status %d: type %q, want %q", status, got, want)
		}
	}
	if got := sdk.ErrorResponseOf(&sdk.HostError{Type: "denied_host", Message: "no"}).Type; got != "denied_host" {
		t.Errorf("host error type %q", got)
	}
	if got := sdk.ErrorResponseOf(errors.New("x")).Type; got != sdk.ErrorTypeConnector {
		t.Errorf("plain error type %q", got)
	}
	if got := sdk.ErrorResponseOf(nil); got != (protocol.ErrorResponse{}) {
		t.Errorf("nil error gives %+v", got)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	sdk.Register(echoConnector())
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "twice") {
			t.Fatalf("second Register: recover() = %v, want a panic about calling twice", r)
		}
	}()
	sdk.Register(echoConnector())
}

// FuzzInvoke feeds arbitrary input to every export: Invoke must return an
// output or an error, never panic, and a successful output is JSON.
func FuzzInvoke(f *testing.F) {
	f.Add(uint8(2), []byte(`{"stream":"users","cursor":"x","page_size":3}`))
	f.Add(uint8(5), []byte(`{"item_id":"i","kind":"sync","input":{"stream":"s"}}`))
	f.Add(uint8(1), []byte(`{"granted_scopes":null}`))
	f.Add(uint8(3), []byte(`{"range":{"from":1}}`))
	f.Add(uint8(9), []byte("\x00\xff"))
	c := echoConnector()
	exports := append(append([]string(nil), protocol.Exports...), "unknown")
	f.Fuzz(func(t *testing.T, which uint8, input []byte) {
		export := exports[int(which)%len(exports)]
		out, err := sdk.Invoke(context.Background(), c, sdktest.New(sdktest.Config{}), export, input)
		if err != nil {
			if out != nil {
				t.Fatalf("output %q with error %v", out, err)
			}
			if errors.Is(err, sdk.ErrPanic) {
				t.Fatalf("handler panicked: %v", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%s output is not JSON: %q", export, out)
		}
	})
}
