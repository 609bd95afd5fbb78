package hostfns

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// guestTransport is the guest SDK's sdk.Transport, restated so this
// package's tests do not build the SDK: the native runner takes the same
// byte-level doors as the Wasm glue.
type guestTransport interface {
	HTTP(ctx context.Context, req []byte) []byte
	Emit(ctx context.Context, batch []byte) []byte
	Log(ctx context.Context, level protocol.LogLevel, msg string)
}

var _ guestTransport = (*Call)(nil)

func TestCallShutDoorsAreDenied(t *testing.T) {
	ctx := context.Background()
	for name, c := range map[string]*Call{"nil Call": nil, "zero Call": {}} {
		t.Run(name, func(t *testing.T) {
			var resp protocol.HTTPResponse
			if err := json.Unmarshal(c.HTTP(ctx, []byte(`{"method":"GET","url":"https://api.example.com/"}`)), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Status != 0 || resp.ErrorType != ErrorTypeDenied || resp.Error == "" {
				t.Fatalf("http: %+v", resp)
			}
			var res protocol.EmitResult
			if err := json.Unmarshal(c.Emit(ctx, []byte(`{"objects":[{"type":"user","id":"1","data":{}}]}`)), &res); err != nil {
				t.Fatal(err)
			}
			if res.Error == "" || res.Accepted != 0 {
				t.Fatalf("emit: %+v", res)
			}
			c.Log(ctx, protocol.LogInfo, "dropped") // no panic, nowhere to go
		})
	}
}

func TestCallFromContext(t *testing.T) {
	c := &Call{}
	if callFrom(context.Background()) != nil {
		t.Fatal("a bare context has a Call")
	}
	if callFrom(WithCall(context.Background(), c)) != c {
		t.Fatal("WithCall/callFrom lost the Call")
	}
}

func TestCallOpenDoors(t *testing.T) {
	logger, buf := jsonLogger()
	st := &NetStats{}
	c := &Call{
		Net:  NewHTTP(HTTPConfig{Hosts: []protocol.HostRule{{Host: "api.example.com", Methods: []string{"GET"}}}, Transport: refuseAll{}, Stats: st}),
		Sink: newTestEmitter(t, nil),
		Logs: NewLog(logger, nil),
	}
	ctx := context.Background()
	var resp protocol.HTTPResponse
	_ = json.Unmarshal(c.HTTP(ctx, []byte(`not json`)), &resp)
	if resp.ErrorType != ErrorTypeBadRequest || st.LastDenial() != ErrorTypeBadRequest {
		t.Fatalf("bad JSON: %+v", resp)
	}
	_ = json.Unmarshal(c.HTTP(ctx, []byte(`{"method":"GET","url":"https://other.example.com/"}`)), &resp)
	if resp.ErrorType != ErrorTypeDeniedHost {
		t.Fatalf("undeclared host: %+v", resp)
	}
	var res protocol.EmitResult
	_ = json.Unmarshal(c.Emit(ctx, []byte(`{"objects":[{"type":"org","id":"1","data":{"name":"n"}}]}`)), &res)
	if res.Accepted != 1 {
		t.Fatalf("emit: %+v", res)
	}
	c.Log(ctx, protocol.LogInfo, "hello")
	if !bytes.Contains(buf.Bytes(), []byte(`"msg":"hello"`)) {
		t.Fatalf("log: %s", buf)
	}
}

func TestFunctionsSignatures(t *testing.T) {
	fns := Functions()
	want := map[string]struct{ params, results int }{
		protocol.FuncHTTP: {1, 1},
		protocol.FuncEmit: {1, 1},
		protocol.FuncLog:  {2, 0},
	}
	if len(fns) != len(want) {
		t.Fatalf("%d functions", len(fns))
	}
	for _, f := range fns {
		w, ok := want[f.Name]
		if !ok || f.Namespace != protocol.HostNamespace || len(f.Params) != w.params || len(f.Returns) != w.results {
			t.Errorf("%s in %q: %d params, %d results", f.Name, f.Namespace, len(f.Params), len(f.Returns))
		}
	}
}
