package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/guest-sdk/sdk/sdktest"
)

// scripted is a Transport whose emit answers a test chooses.
type scripted struct {
	batches [][]byte
	answer  func(n int, batch protocol.EmitBatch) string
	http    string
}

func (s *scripted) Emit(_ context.Context, b []byte) []byte {
	s.batches = append(s.batches, append([]byte(nil), b...))
	var batch protocol.EmitBatch
	if err := json.Unmarshal(b, &batch); err != nil {
		panic(fmt.Sprintf("SDK sent an undecodable batch: %v", err))
	}
	return []byte(s.answer(len(s.batches)-1, batch))
}

func (s *scripted) HTTP(context.Context, []byte) []byte { return []byte(s.http) }

func (s *scripted) Log(context.Context, protocol.LogLevel, string) {}

func syncWith(fn func(h *sdk.Host) error) sdk.Connector {
	return sdk.Connector{Sync: func(h *sdk.Host, _ protocol.SyncRequest) (protocol.SyncResponse, error) {
		return protocol.SyncResponse{}, fn(h)
	}}
}

func user(i int) protocol.Object {
	return protocol.Object{Type: "user", ID: fmt.Sprintf("u-%07d", i), Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
}

func TestEmitBatching(t *testing.T) {
	big := protocol.Object{Type: "blob", ID: "b", Data: json.RawMessage(`"` + strings.Repeat("x", 100<<10) + `"`)}
	tests := []struct {
		name        string
		emit        func(h *sdk.Host) error
		wantBatches int
		wantObjects int
		wantEdges   int
		wantDels    int
	}{
		{"nothing", func(*sdk.Host) error { return nil }, 0, 0, 0, 0},
		{"one record flushed at return", func(h *sdk.Host) error { return h.Emit(user(1)) }, 1, 1, 0, 0},
		{"exactly one full batch", func(h *sdk.Host) error {
			for i := range sdk.BatchRecords {
				if err := h.Emit(user(i)); err != nil {
					return err
				}
			}
			return nil
		}, 1, sdk.BatchRecords, 0, 0},
		{"record count threshold across kinds", func(h *sdk.Host) error {
			for i := range 300 {
				if err := h.Emit(user(i)); err != nil {
					return err
				}
				if err := h.EmitEdge(protocol.Edge{Type: "member_of", From: protocol.Ref{Type: "user", ID: "u"}, To: protocol.Ref{Type: "group", ID: "g"}}); err != nil {
					return err
				}
				if err := h.Delete(protocol.Deletion{Type: "user", ID: "gone"}); err != nil {
					return err
				}
			}
			return nil
		}, 4, 300, 300, 300}, // 900 records: 256+256+256+132
		{"byte threshold", func(h *sdk.Host) error {
			return h.Emit(big, big, big, big, big) // 100 KiB each: flush at the third
		}, 2, 5, 0, 0},
		{"explicit flush", func(h *sdk.Host) error {
			if err := h.Emit(user(1)); err != nil {
				return err
			}
			if err := h.Flush(); err != nil {
				return err
			}
			return h.Emit(user(2))
		}, 2, 2, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := sdktest.New(sdktest.Config{})
			if _, err := sdk.Invoke(context.Background(), syncWith(tt.emit), tr, protocol.ExportSync, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if got := tr.Batches(); got != tt.wantBatches {
				t.Errorf("batches = %d, want %d", got, tt.wantBatches)
			}
			if o, e, d := len(tr.Objects()), len(tr.Edges()), len(tr.Deletions()); o != tt.wantObjects || e != tt.wantEdges || d != tt.wantDels {
				t.Errorf("got %d objects %d edges %d deletions, want %d %d %d", o, e, d, tt.wantObjects, tt.wantEdges, tt.wantDels)
			}
		})
	}
}

func TestEmitKeepsOrderAndContent(t *testing.T) {
	tr := sdktest.New(sdktest.Config{})
	c := syncWith(func(h *sdk.Host) error {
		for i := range 600 {
			if err := h.Emit(user(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if _, err := sdk.Invoke(context.Background(), c, tr, protocol.ExportSync, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	objs := tr.Objects()
	if len(objs) != 600 {
		t.Fatalf("%d objects", len(objs))
	}
	for i, o := range objs {
		if want := user(i); o.ID != want.ID || string(o.Data) != string(want.Data) {
			t.Fatalf("object %d = %+v, want %+v", i, o, want)
		}
	}
}

func TestRejectionsAreCallRelative(t *testing.T) {
	// The host rejects every object whose data has an odd n; indexes
	// must count from the start of the call, not the batch.
	tr := sdktest.New(sdktest.Config{Reject: func(o protocol.Object) string {
		var d struct{ N int }
		_ = json.Unmarshal(o.Data, &d)
		if d.N%2 == 1 && d.N > 500 {
			return "odd"
		}
		return ""
	}})
	var rejected []protocol.Rejection
	c := syncWith(func(h *sdk.Host) error {
		for i := range 520 {
			if err := h.Emit(user(i)); err != nil {
				return err
			}
		}
		if err := h.Flush(); err != nil {
			return err
		}
		rejected = h.Rejected()
		return nil
	})
	if _, err := sdk.Invoke(context.Background(), c, tr, protocol.ExportSync, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if len(rejected) != 10 {
		t.Fatalf("%d rejections, want 10: %+v", len(rejected), rejected)
	}
	for _, r := range rejected {
		if r.Kind != "object" || r.ID != fmt.Sprintf("u-%07d", r.Index) || r.Index%2 != 1 {
			t.Fatalf("rejection %+v does not name the emitted object by call index", r)
		}
	}
}

func TestEmitRefusalIsSticky(t *testing.T) {
	s := &scripted{answer: func(n int, _ protocol.EmitBatch) string {
		if n == 1 {
			return `{"accepted":0,"error":"record cap exceeded"}`
		}
		return `{"accepted":256}`
	}}
	var errs []error
	c := syncWith(func(h *sdk.Host) error {
		for i := range 3 * sdk.BatchRecords {
			if err := h.Emit(user(i)); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, h.Flush(), h.EmitEdge(protocol.Edge{}), h.Delete(protocol.Deletion{}))
		return nil
	})
	_, err := sdk.Invoke(context.Background(), c, s, protocol.ExportSync, []byte(`{}`))
	var ee *sdk.EmitError
	if !errors.As(err, &ee) || ee.Message != "record cap exceeded" {
		t.Fatalf("Invoke err = %v, want the EmitError", err)
	}
	if len(s.batches) != 2 {
		t.Fatalf("%d batches sent, want 2 (none after the refusal)", len(s.batches))
	}
	// The emit that filled the second batch, the 256 after it, and the
	// three calls after the loop.
	if len(errs) != 1+sdk.BatchRecords+3 {
		t.Fatalf("%d failed calls, want every call after the refusal to fail", len(errs))
	}
	for _, e := range errs {
		if !errors.Is(e, sdk.ErrEmitRefused) {
			t.Fatalf("err %v, want ErrEmitRefused", e)
		}
	}
}

func TestBadHostReplies(t *testing.T) {
	s := &scripted{answer: func(int, protocol.EmitBatch) string { return "" }, http: "{not json"}
	var httpErr, emitErr error
	c := syncWith(func(h *sdk.Host) error {
		_, httpErr = h.Get("http://127.0.0.1/")
		emitErr = h.Emit(user(1))
		if emitErr == nil {
			emitErr = h.Flush()
		}
		return nil
	})
	_, err := sdk.Invoke(context.Background(), c, s, protocol.ExportSync, []byte(`{}`))
	for name, e := range map[string]error{"http": httpErr, "emit": emitErr, "invoke": err} {
		if !errors.Is(e, sdk.ErrBadHostReply) {
			t.Errorf("%s: err = %v, want ErrBadHostReply", name, e)
		}
	}
}

func TestEmitRefusesInvalidData(t *testing.T) {
	tr := sdktest.New(sdktest.Config{})
	var emitErr error
	c := syncWith(func(h *sdk.Host) error {
		emitErr = h.Emit(user(1), protocol.Object{Type: "user", ID: "bad", Data: json.RawMessage(`{"x":`)}, user(3))
		return nil
	})
	if _, err := sdk.Invoke(context.Background(), c, tr, protocol.ExportSync, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(emitErr, sdk.ErrBadRecord) || !strings.Contains(emitErr.Error(), `"bad"`) {
		t.Fatalf("emit err = %v, want ErrBadRecord naming the object", emitErr)
	}
	if objs := tr.Objects(); len(objs) != 1 || objs[0].ID != "u-0000001" {
		t.Fatalf("objects %+v, want only the one before the bad record", objs)
	}
}

func TestHostHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			w.Header().Set("X-Auth-Seen", r.Header.Get("Authorization"))
			w.Header().Set("X-Key-Seen", r.Header.Get("X-Key"))
			fmt.Fprint(w, `{"ok":true}`)
		case "/missing":
			http.NotFound(w, r)
		default:
			fmt.Fprint(w, "not json")
		}
	}))
	defer srv.Close()
	tr := sdktest.New(sdktest.Config{Token: "tok-123", Secrets: map[string]string{"api_key": "k-9"}})

	var (
		raw                           protocol.HTTPResponse
		rawErr, missErr, notJSON, den error
		body                          struct{ OK bool }
		jsonErr                       error
	)
	c := syncWith(func(h *sdk.Host) error {
		raw, rawErr = h.HTTP(protocol.HTTPRequest{Method: "GET", URL: srv.URL + "/json", Auth: "default", Headers: map[string]string{"X-Key": "{{secret:api_key}}"}})
		jsonErr = h.GetJSON(srv.URL+"/json", &body)
		missErr = h.GetJSON(srv.URL+"/missing", &body)
		notJSON = h.GetJSON(srv.URL+"/text", &body)
		_, den = h.Get("http://example.invalid/")
		h.Logf(protocol.LogInfo, "status %d", raw.Status)
		return nil
	})
	if _, err := sdk.Invoke(context.Background(), c, tr, protocol.ExportSync, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if rawErr != nil || raw.Status != 200 || raw.Headers["X-Auth-Seen"] != "Bearer tok-123" || raw.Headers["X-Key-Seen"] != "k-9" {
		t.Fatalf("HTTP = %+v, %v; want 200 with the token and secret injected", raw, rawErr)
	}
	if jsonErr != nil || !body.OK {
		t.Fatalf("GetJSON = %+v, %v", body, jsonErr)
	}
	var se *sdk.StatusError
	if !errors.As(missErr, &se) || se.Status != 404 {
		t.Fatalf("GetJSON of a 404: %v, want StatusError 404", missErr)
	}
	if notJSON == nil || errors.As(notJSON, new(*sdk.StatusError)) {
		t.Fatalf("GetJSON of a text body: %v, want a decode error", notJSON)
	}
	var he *sdk.HostError
	if !errors.As(den, &he) || he.Type != "denied_host" || !errors.Is(den, sdk.ErrHostRefused) {
		t.Fatalf("GET of a non-loopback host: %v, want HostError denied_host", den)
	}
	if logs := tr.Logs(); len(logs) != 1 || logs[0] != (sdktest.LogEntry{Level: protocol.LogInfo, Message: "status 200"}) {
		t.Fatalf("logs %+v", logs)
	}
	if reqs := tr.Requests(); len(reqs) != 5 || reqs[0].Headers["X-Key"] != "{{secret:api_key}}" {
		t.Fatalf("requests %+v: want 5, recorded before injection", reqs)
	}
}

func TestHostClosedAfterCall(t *testing.T) {
	var kept *sdk.Host
	c := syncWith(func(h *sdk.Host) error { kept = h; return nil })
	tr := sdktest.New(sdktest.Config{})
	if _, err := sdk.Invoke(context.Background(), c, tr, protocol.ExportSync, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	_, httpErr := kept.Get("http://127.0.0.1/")
	for name, err := range map[string]error{"http": httpErr, "emit": kept.Emit(user(1)), "edge": kept.EmitEdge(), "delete": kept.Delete(), "flush": kept.Flush()} {
		if !errors.Is(err, sdk.ErrHostClosed) {
			t.Errorf("%s after return: %v, want ErrHostClosed", name, err)
		}
	}
	kept.Log(protocol.LogError, "late")
	if len(tr.Logs()) != 0 || len(tr.Requests()) != 0 {
		t.Fatal("a closed Host reached the transport")
	}
}

func TestFlushOnErrorNotOnPanic(t *testing.T) {
	for _, tt := range []struct {
		name    string
		fail    func()
		wantErr error
		want    int
	}{
		{"error", func() {}, errBoom, 1},
		{"panic", func() { panic("bug") }, sdk.ErrPanic, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := sdktest.New(sdktest.Config{})
			c := syncWith(func(h *sdk.Host) error {
				if err := h.Emit(user(1)); err != nil {
					return err
				}
				tt.fail()
				return errBoom
			})
			if _, err := sdk.Invoke(context.Background(), c, tr, protocol.ExportSync, []byte(`{}`)); !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := len(tr.Objects()); got != tt.want {
				t.Fatalf("%d objects reached the host, want %d", got, tt.want)
			}
		})
	}
}

var errBoom = errors.New("boom")
