package hostfns

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/tape"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s changed (run with -update if intended):\n got %s\nwant %s", name, got, want)
	}
}

// cannedTransport answers every request the same way, echoing the
// credential it was sent, without a network.
type cannedTransport struct{}

func (cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body := `{"ok":true,"seen":"` + r.Header.Get("Authorization") + `"}`
	return &http.Response{
		StatusCode: 200,
		Header:     http.Header{"Content-Type": {"application/json"}, "X-Echo": {r.Header.Get("X-Api-Token")}},
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    r,
	}, nil
}

// TestGoldenTapeExchange pins the recorded (redacted) form of an exchange:
// tapes are persisted and replayed.
func TestGoldenTapeExchange(t *testing.T) {
	var tp []tape.Exchange
	h := NewHTTP(HTTPConfig{
		Hosts:       []protocol.HostRule{{Host: "api.example.com", Methods: []string{"GET", "POST"}}},
		Transport:   cannedTransport{},
		Credentials: testCreds(),
		Scrub:       NewScrubber(apiKey, apiToken),
		Recorder:    func(ex tape.Exchange) { tp = append(tp, ex) },
		Correlation: "corr-1",
	})
	ctx := context.Background()
	h.Do(ctx, protocol.HTTPRequest{
		Method: "post", URL: "https://api.example.com/v1/users?page=2#top", Auth: DefaultCredential,
		Headers: map[string]string{"X-Api-Token": "{{secret:api_token}}", "Accept": "application/json", "Authorization": "Bearer mine"},
		Body:    []byte(`{"q":"x"}`),
	})
	h.Do(ctx, get("https://other.example.com/"))
	got, err := json.MarshalIndent(tp, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "tape_exchanges.golden.json", append(got, '\n'))
}

// TestGoldenEmitted pins what the emit door hands the store for a batch.
func TestGoldenEmitted(t *testing.T) {
	e := newTestEmitter(t, nil)
	e.Emit(context.Background(), []byte(`{
		"objects":[{"type":"user","id":"u1","updated_at":"2025-01-01T00:00:00Z","data":{"name":"Ann","email":"ann@example.com","phone":"555"}},
		           {"type":"user","id":"u2","data":{"name":"Bob"}}],
		"edges":[{"type":"member_of","from":{"type":"user","id":"u1"},"to":{"type":"org","id":"o1"},"confidence":0.75}],
		"deletions":[{"type":"org","id":"o9"}]}`))
	got, err := json.MarshalIndent(e.Take(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "emitted.golden.json", append(got, '\n'))
}
