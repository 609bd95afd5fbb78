package hostfns

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/tape"
)

func TestRecorderGetsRedactedExchanges(t *testing.T) {
	srv, hp := server(t, echo)
	var tp []tape.Exchange
	h, _, _ := newTestHTTP(t, hp, func(c *HTTPConfig) {
		c.Credentials = testCreds()
		c.Scrub = NewScrubber(apiKey, apiToken)
		c.Recorder = func(ex tape.Exchange) { tp = append(tp, ex) }
		c.Correlation = "corr-1"
	})
	ctx := context.Background()
	h.Do(ctx, protocol.HTTPRequest{
		Method: "POST", URL: srv.URL + "/v1/x#frag", Auth: DefaultCredential,
		Headers: map[string]string{"X-Api-Token": "{{secret:api_token}}", "X-Plain": "v"},
		Body:    []byte(`{"echo":"` + apiKey + `"}`),
	})
	h.Do(ctx, get("http://undeclared.example/"))
	if len(tp) != 2 {
		t.Fatalf("recorded %d exchanges, want 2 (denials are recorded too)", len(tp))
	}
	ex := tp[0]
	if ex.Request.Method != "POST" || ex.Request.URL != srv.URL+"/v1/x" || ex.Request.Auth != DefaultCredential {
		t.Errorf("request %+v", ex.Request)
	}
	for k, want := range map[string]string{"Authorization": tape.Redacted, "X-Api-Token": tape.Redacted, "X-Plain": "v"} {
		if ex.Request.Headers[k] != want {
			t.Errorf("recorded %s = %q, want %q", k, ex.Request.Headers[k], want)
		}
	}
	if ex.Response.Status != 200 {
		t.Errorf("recorded status %d", ex.Response.Status)
	}
	all, _ := json.Marshal(tp)
	if l := leaks(all); l != nil {
		t.Fatalf("tape leaks %v:\n%s", l, all)
	}
	if tp[1].Response.ErrorType != ErrorTypeDeniedHost {
		t.Errorf("second exchange %+v", tp[1].Response)
	}
}

// noNetwork fails the test on any use.
type noNetwork struct{ t *testing.T }

func (n noNetwork) RoundTrip(*http.Request) (*http.Response, error) {
	n.t.Error("replay mode touched the network")
	return nil, errors.New("no network")
}

type noCreds struct{ t *testing.T }

func (n noCreds) Authorization(context.Context, string) (string, string, error) {
	n.t.Error("replay mode asked for a credential")
	return "", "", errors.New("no")
}

func (n noCreds) Secret(string) (string, bool) {
	n.t.Error("replay mode asked for a secret")
	return "", false
}

func TestPlayerMakesNoNetworkCall(t *testing.T) {
	recorded := []tape.Exchange{
		{Request: get("http://api.example.com/denied"), Response: protocol.HTTPResponse{Error: "x", ErrorType: ErrorTypeDeniedHost}},
		{Request: protocol.HTTPRequest{Method: "GET", URL: "https://api.example.com/v1/users?page=2"},
			Response: protocol.HTTPResponse{Status: 200, Headers: map[string]string{"X-Next": "3"}, Body: []byte(`{"users":[]}`)}},
		{Request: protocol.HTTPRequest{Method: "GET", URL: "https://api.example.com/v1/slow"},
			Response: protocol.HTTPResponse{Error: "no answer within 30s", ErrorType: ErrorTypeTimeout}},
	}
	player := NewTapePlayer(recorded)
	var asked []protocol.HTTPRequest
	var replayed []tape.Exchange
	h := NewHTTP(HTTPConfig{
		Hosts:       []protocol.HostRule{{Host: "api.example.com", Methods: []string{"GET"}}},
		Transport:   noNetwork{t},
		Credentials: noCreds{t},
		Player: func(r protocol.HTTPRequest) (protocol.HTTPResponse, error) {
			asked = append(asked, r)
			return player.Play(r)
		},
		Recorder: func(ex tape.Exchange) { replayed = append(replayed, ex) },
	})
	ctx := context.Background()
	if resp := h.Do(ctx, get("https://evil.example.com/")); resp.ErrorType != ErrorTypeDeniedHost {
		t.Fatalf("policy in replay: %+v", resp)
	}
	resp := h.Do(ctx, protocol.HTTPRequest{Method: "GET", URL: "https://api.example.com/v1/users?page=2", Auth: DefaultCredential,
		Headers: map[string]string{"X-K": "{{secret:k}}"}})
	if resp.Status != 200 || string(resp.Body) != `{"users":[]}` || resp.Headers["X-Next"] != "3" {
		t.Fatalf("replayed answer %+v", resp)
	}
	if resp := h.Do(ctx, get("https://api.example.com/v1/slow")); resp.ErrorType != ErrorTypeTimeout {
		t.Fatalf("replayed failure %+v", resp)
	}
	if len(asked) != 2 || asked[0].Headers["X-K"] != tape.Redacted {
		t.Fatalf("player asked %+v", asked)
	}
	if player.Remaining() != 0 {
		t.Errorf("%d exchanges left unplayed", player.Remaining())
	}
	if len(replayed) != 3 {
		t.Errorf("replay recorded %d exchanges, want 3", len(replayed))
	}
	// A request the tape does not have is an error, not a network call.
	if resp := h.Do(ctx, get("https://api.example.com/v1/extra")); resp.ErrorType != ErrorTypeReplay {
		t.Fatalf("diverged replay: %+v", resp)
	}
}

func TestTapePlayerDivergence(t *testing.T) {
	p := NewTapePlayer([]tape.Exchange{{Request: get("https://a/1"), Response: protocol.HTTPResponse{Status: 200}}})
	if _, err := p.Play(get("https://a/2")); err == nil {
		t.Fatal("a different URL was answered")
	}
	if r, err := p.Play(get("https://a/1")); err != nil || r.Status != 200 {
		t.Fatalf("%v %v", r, err)
	}
}
