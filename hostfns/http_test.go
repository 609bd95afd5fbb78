package hostfns

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/tape"
)

func TestHTTPPolicyDenials(t *testing.T) {
	var hits atomic.Int32
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	h, st, _ := newTestHTTP(t, hp, func(c *HTTPConfig) {
		c.Hosts = []protocol.HostRule{{Host: hp, Scheme: "http", Methods: []string{"GET"}}}
	})
	cases := []struct {
		name string
		req  protocol.HTTPRequest
		want string
	}{
		{"undeclared host", get("http://api.example.com/x"), ErrorTypeDeniedHost},
		{"undeclared port", get("http://127.0.0.1:1/x"), ErrorTypeDeniedHost},
		{"undeclared method", protocol.HTTPRequest{Method: "POST", URL: srv.URL}, ErrorTypeDeniedMethod},
		{"scheme mismatch", get(strings.Replace(srv.URL, "http://", "https://", 1)), ErrorTypeDeniedScheme},
		{"relative url", get("/x"), ErrorTypeBadRequest},
		{"opaque url", get("http:x"), ErrorTypeBadRequest},
		{"userinfo", get("http://u:p@" + hp + "/"), ErrorTypeBadRequest},
		{"bad method", protocol.HTTPRequest{Method: "GE T", URL: srv.URL}, ErrorTypeBadRequest},
		{"bad header name", protocol.HTTPRequest{URL: srv.URL, Headers: map[string]string{"X Y": "1"}}, ErrorTypeBadRequest},
		{"header injection", protocol.HTTPRequest{URL: srv.URL, Headers: map[string]string{"X-Y": "1\r\nX-Evil: 1"}}, ErrorTypeBadRequest},
		{"ftp", get("ftp://" + hp + "/"), ErrorTypeDeniedScheme},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.Do(context.Background(), tc.req)
			if resp.Status != 0 || resp.ErrorType != tc.want || resp.Error == "" {
				t.Fatalf("got status %d %q (%s), want error type %q", resp.Status, resp.ErrorType, resp.Error, tc.want)
			}
			if st.LastDenial() != tc.want {
				t.Errorf("LastDenial = %q, want %q", st.LastDenial(), tc.want)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
	if got := st.Denied.Load(); got != int64(len(cases)) {
		t.Errorf("Denied = %d, want %d", got, len(cases))
	}
	if resp := h.Do(context.Background(), get(srv.URL+"/ok")); resp.Status != 200 {
		t.Fatalf("declared GET: status %d %s", resp.Status, resp.Error)
	}
}

func TestHTTPDefaultPortAndScheme(t *testing.T) {
	h := NewHTTP(HTTPConfig{Hosts: []protocol.HostRule{
		{Host: "API.example.com", Methods: []string{"get"}},
		{Host: "files.example.com:8443", Methods: []string{"GET"}},
	}, Transport: refuseAll{}})
	for _, tc := range []struct {
		url, want string
	}{
		{"https://api.example.com/v1", ErrorTypeTransport}, // allowed: reaches the (refusing) transport
		{"https://api.example.com:443/v1", ErrorTypeTransport},
		{"https://api.example.com:8443/v1", ErrorTypeTransport}, // no port in the rule: any port
		{"https://files.example.com:8443/x", ErrorTypeTransport},
		{"https://files.example.com/x", ErrorTypeDeniedHost}, // the rule's port only
		{"https://files.example.com:443/x", ErrorTypeDeniedHost},
		{"http://api.example.com/v1", ErrorTypeDeniedScheme},
		{"https://api.example.com./v1", ErrorTypeDeniedHost},
		{"https://evil.api.example.com/v1", ErrorTypeDeniedHost},
	} {
		resp := h.Do(context.Background(), protocol.HTTPRequest{Method: "get", URL: tc.url})
		if resp.ErrorType != tc.want {
			t.Errorf("%s: error type %q (%s), want %q", tc.url, resp.ErrorType, resp.Error, tc.want)
		}
	}
}

// refuseAll is a transport that refuses every request.
type refuseAll struct{}

func (refuseAll) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("refused by test transport")
}

func TestHTTPReadOnly(t *testing.T) {
	var hits atomic.Int32
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	h, _, _ := newTestHTTP(t, hp, func(c *HTTPConfig) { c.ReadOnly = true })
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		if resp := h.Do(context.Background(), protocol.HTTPRequest{Method: m, URL: srv.URL}); resp.ErrorType != ErrorTypeDeniedMethod {
			t.Errorf("%s in a read-only call: %+v", m, resp)
		}
	}
	for _, m := range []string{"GET", "HEAD"} {
		if resp := h.Do(context.Background(), protocol.HTTPRequest{Method: m, URL: srv.URL}); resp.Status != 200 {
			t.Errorf("%s in a read-only call: %+v", m, resp)
		}
	}
	if hits.Load() != 2 {
		t.Errorf("server saw %d requests, want 2", hits.Load())
	}
}

func TestHTTPRedirectIsReturnedNotFollowed(t *testing.T) {
	var otherHits atomic.Int32
	other, _ := server(t, func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) })
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) {
		target := other.URL + "/steal"
		if r.URL.Path == "/same" {
			target = "/elsewhere"
		}
		http.Redirect(w, r, target, http.StatusFound)
	})
	// Both hosts are declared: even so, the door never follows.
	h, _, _ := newTestHTTP(t, hp, func(c *HTTPConfig) {
		c.Hosts = append(c.Hosts, protocol.HostRule{Host: strings.TrimPrefix(other.URL, "http://"), Scheme: "http", Methods: allMethods})
	})
	resp := h.Do(context.Background(), get(srv.URL+"/start"))
	if resp.Status != http.StatusFound || resp.Headers["Location"] != other.URL+"/steal" {
		t.Fatalf("got %d %v, want the 302 itself", resp.Status, resp.Headers)
	}
	if resp := h.Do(context.Background(), get(srv.URL+"/same")); resp.Status != http.StatusFound {
		t.Fatalf("same-host redirect: got %d, want the 302 itself", resp.Status)
	}
	if otherHits.Load() != 0 {
		t.Fatalf("the redirect target was reached %d times", otherHits.Load())
	}
}

const (
	apiKey   = "sk_live_4f9a8b7c6d5e"
	apiToken = "tok_zyxwvu987654"
)

func testCreds() StaticCredentials {
	return StaticCredentials{
		Keys:    map[string]string{DefaultCredential: apiKey},
		Secrets: map[string]string{"api_token": apiToken},
	}
}

// leaks reports any form of the test secrets in b.
func leaks(b []byte) []string {
	var out []string
	for _, s := range []string{apiKey, apiToken} {
		for _, f := range []string{s, base64.StdEncoding.EncodeToString([]byte(s))} {
			if bytes.Contains(b, []byte(f)) {
				out = append(out, f)
			}
		}
	}
	return out
}

func TestHTTPCredentialInjection(t *testing.T) {
	var seen atomic.Value // http.Header as the server received it
	var seenHost atomic.Value
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Clone())
		seenHost.Store(r.Host)
		// A remote that echoes credentials back, in a header and the body.
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		echo(w, r)
	})
	scrub := NewScrubber() // empty: the door must learn what it injects
	h, _, _ := newTestHTTP(t, hp, func(c *HTTPConfig) {
		c.Credentials = testCreds()
		c.Scrub = scrub
	})
	resp := h.Do(context.Background(), protocol.HTTPRequest{
		Method: "POST", URL: srv.URL + "/v1/things", Auth: DefaultCredential,
		Headers: map[string]string{
			"X-Api-Token":         "{{secret:api_token}}",
			"X-Mixed":             "Token {{secret:api_token}};v=1",
			"authorization":       "Bearer guest-chosen",
			"Host":                "evil.example",
			"Proxy-Authorization": "Basic Zm9vOmJhcg==",
			"Connection":          "X-Hop",
			"X-Hop":               "1",
			"Keep-Alive":          "timeout=5",
			"X-Correlation-Id":    "guest-chosen",
			"X-Plain":             "kept",
		},
		Body: []byte(`{"a":1}`),
	})
	if resp.Status != 200 {
		t.Fatalf("status %d: %s", resp.Status, resp.Error)
	}
	got := seen.Load().(http.Header)
	checks := map[string]string{
		"Authorization":       "Bearer " + apiKey,
		"X-Api-Token":         apiToken,
		"X-Mixed":             "Token " + apiToken + ";v=1",
		"X-Plain":             "kept",
		"Proxy-Authorization": "",
		"X-Hop":               "",
		"Keep-Alive":          "",
		"X-Correlation-Id":    "",
	}
	for k, want := range checks {
		if got.Get(k) != want {
			t.Errorf("server got %s = %q, want %q", k, got.Get(k), want)
		}
	}
	if host := seenHost.Load().(string); host != hp {
		t.Errorf("server got Host %q, want %q", host, hp)
	}
	whole, _ := json.Marshal(resp)
	if l := leaks(whole); l != nil {
		t.Fatalf("answer leaks %v:\n%s", l, whole)
	}
	if !bytes.Contains(resp.Body, []byte(tape.Redacted)) || !strings.Contains(resp.Headers["X-Echo"], tape.Redacted) {
		t.Errorf("echoed credentials were not replaced by %s: %s / %q", tape.Redacted, resp.Body, resp.Headers["X-Echo"])
	}
	if vals := scrub.Values(); len(vals) == 0 {
		t.Error("the scrubber did not learn the injected values")
	}
}

func TestHTTPCredentialErrors(t *testing.T) {
	var hits atomic.Int32
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	cases := []struct {
		name  string
		creds Credentials
		req   protocol.HTTPRequest
		want  string
	}{
		{"unknown auth", testCreds(), protocol.HTTPRequest{URL: srv.URL, Auth: "other"}, ErrorTypeDeniedSecret},
		{"no credentials", nil, protocol.HTTPRequest{URL: srv.URL, Auth: DefaultCredential}, ErrorTypeDeniedSecret},
		{"unknown secret", testCreds(), protocol.HTTPRequest{URL: srv.URL, Headers: map[string]string{"X-K": "{{secret:nope}}"}}, ErrorTypeDeniedSecret},
		{"unterminated", testCreds(), protocol.HTTPRequest{URL: srv.URL, Headers: map[string]string{"X-K": "{{secret:api_token"}}, ErrorTypeBadRequest},
		{"bad name", testCreds(), protocol.HTTPRequest{URL: srv.URL, Headers: map[string]string{"X-K": "{{secret:a b}}"}}, ErrorTypeBadRequest},
		{"secret breaks header", StaticCredentials{Secrets: map[string]string{"s": "line1\r\nX-Evil: yes"}}, protocol.HTTPRequest{URL: srv.URL, Headers: map[string]string{"X-K": "{{secret:s}}"}}, ErrorTypeDeniedSecret},
		{"token endpoint down", failingCreds{}, protocol.HTTPRequest{URL: srv.URL, Auth: DefaultCredential}, ErrorTypeAuth},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, _, _ := newTestHTTP(t, hp, func(c *HTTPConfig) { c.Credentials = tc.creds })
			resp := h.Do(context.Background(), tc.req)
			if resp.ErrorType != tc.want {
				t.Fatalf("got %+v, want error type %q", resp, tc.want)
			}
			if strings.Contains(resp.Error, "line1") {
				t.Errorf("error quotes the secret: %s", resp.Error)
			}
		})
	}
	if hits.Load() != 0 {
		t.Errorf("server saw %d requests, want 0", hits.Load())
	}
}

type failingCreds struct{}

func (failingCreds) Authorization(context.Context, string) (string, string, error) {
	return "", "", fmt.Errorf("%w: token endpoint answered 500", ErrToken)
}
func (failingCreds) Secret(string) (string, bool) { return "", false }

func TestHTTPCorrelationAndUserAgent(t *testing.T) {
	var got atomic.Value
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) { got.Store(r.Header.Clone()) })
	h, _, _ := newTestHTTP(t, hp, func(c *HTTPConfig) { c.Correlation = "corr-123" })
	if resp := h.Do(context.Background(), get(srv.URL)); resp.Status != 200 {
		t.Fatal(resp.Error)
	}
	hd := got.Load().(http.Header)
	if hd.Get("X-Correlation-Id") != "corr-123" || hd.Get("User-Agent") != "sluice" {
		t.Fatalf("headers %v", hd)
	}
}
