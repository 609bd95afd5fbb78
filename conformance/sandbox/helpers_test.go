package sandbox_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

// fakeClock is an injectable Config.Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// client talks to one sandbox over real HTTP on 127.0.0.1.
type client struct {
	t    testing.TB
	base string
	auth string // bearer credential; "" sends none
	hc   *http.Client
}

type result struct {
	status int
	header http.Header
	body   []byte
	err    error // reading the body
}

// start serves cfg on 127.0.0.1 and returns a client that uses the API key.
func start(t testing.TB, cfg sandbox.Config) (*sandbox.Server, *client) {
	t.Helper()
	s := sandbox.New(cfg)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	tr := &http.Transport{Proxy: nil}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	key := cfg.APIKey
	if key == "" {
		key = sandbox.DefaultAPIKey
	}
	return s, &client{t: t, base: base, auth: key, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (c *client) with(auth string) *client {
	cp := *c
	cp.auth = auth
	return &cp
}

func (c *client) do(method, path, contentType string, body io.Reader) result {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatalf("NewRequest: %v", err)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", "Bearer "+c.auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

func (c *client) get(path string) result {
	c.t.Helper()
	return c.do(http.MethodGet, path, "", nil)
}

func (c *client) postJSON(path, body string) result {
	c.t.Helper()
	return c.do(http.MethodPost, path, "application/json", strings.NewReader(body))
}

func (c *client) postForm(path string, form url.Values) result {
	c.t.Helper()
	return c.do(http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}

// ok asserts a complete 200 answer.
func (r result) ok(t testing.TB) result {
	t.Helper()
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("status %d, read error %v, body %s", r.status, r.err, r.body)
	}
	return r
}

func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T: %v in %s", v, err, b)
	}
	return v
}

// problem asserts an RFC 9457 answer with status and code.
func (r result) problem(t testing.TB, status int, code string) sandbox.Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	p := decode[sandbox.Problem](t, r.body)
	if p.Status != status || p.Code != code || p.Title == "" {
		t.Fatalf("problem = %+v, want status %d code %q", p, status, code)
	}
	return p
}

// walk follows next_cursor from path (which carries its own query) until
// has_more is false and returns every item, checking the envelope.
func walk[T any](t testing.TB, c *client, path string) []T {
	t.Helper()
	var all []T
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	cursor := ""
	for pages := 0; ; pages++ {
		p := path
		if cursor != "" {
			p += sep + "cursor=" + url.QueryEscape(cursor)
		}
		page := decode[sandbox.Page[T]](t, c.get(p).ok(t).body)
		if page.HasMore && (len(page.Data) == 0 || page.NextCursor == "") {
			t.Fatalf("page %d: has_more with %d items and cursor %q", pages, len(page.Data), page.NextCursor)
		}
		if !page.HasMore && page.NextCursor != "" {
			t.Fatalf("page %d: last page carries cursor %q", pages, page.NextCursor)
		}
		all = append(all, page.Data...)
		if !page.HasMore {
			return all
		}
		cursor = page.NextCursor
		if pages > 10_000 {
			t.Fatal("pagination does not end")
		}
	}
}

// b64 and fingerprintOf let tests forge cursors in the server's format.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func fingerprintOf(t testing.TB, cursor string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		t.Fatalf("cursor %q: %v", cursor, err)
	}
	parts := strings.Split(string(raw), ":")
	return parts[len(parts)-1]
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

// plainGet fetches url with a fresh client that ignores proxy settings.
func plainGet(url string) (*http.Response, error) {
	c := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 10 * time.Second}
	return c.Get(url)
}
