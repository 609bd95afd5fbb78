package sdktest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Config configures a Transport. The zero value is usable: no
// credential, a 30 s timeout and a 32 MiB response cap.
type Config struct {
	// Token stands in for the connection's default credential: a request
	// with Auth "default" gets "Authorization: Bearer <Token>". Empty
	// adds no header.
	Token string
	// Secrets are the named secrets of the connection: a header value
	// "{{secret:NAME}}" is replaced by Secrets[NAME], and a request with
	// Auth NAME (other than "default") gets "Authorization: Bearer
	// <Secrets[NAME]>". An unknown name fails the request like the host
	// does (status 0).
	Secrets map[string]string
	// Timeout bounds each request; zero means 30 s.
	Timeout time.Duration
	// MaxBody caps a response body; a larger one fails the request with
	// error type "too_large". Zero means 32 MiB.
	MaxBody int64
	// Reject, when set, is asked about every emitted object; a non-empty
	// reason rejects it, as the host rejects an object that breaks its
	// schema.
	Reject func(protocol.Object) string
}

// LogEntry is one line the connector logged.
type LogEntry struct {
	Level   protocol.LogLevel
	Message string
}

// Transport is an in-memory sdk.Transport for native connector tests.
// It is safe for concurrent use.
type Transport struct {
	cfg    Config
	client *http.Client

	mu       sync.Mutex
	requests []protocol.HTTPRequest
	objects  []protocol.Object
	edges    []protocol.Edge
	dels     []protocol.Deletion
	logs     []LogEntry
	batches  int
}

// New returns a Transport configured by cfg. Requests go out through
// net/http with no proxy and no redirects followed, and only to loopback
// addresses: a test never reaches the network.
func New(cfg Config) *Transport {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 32 << 20
	}
	return &Transport{
		cfg: cfg,
		client: &http.Client{
			Transport: &http.Transport{Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
			Timeout: cfg.Timeout,
		},
	}
}

// HTTP performs a JSON protocol.HTTPRequest and returns the JSON
// protocol.HTTPResponse, with the host's status-0 errors for what the
// host would refuse.
func (t *Transport) HTTP(ctx context.Context, in []byte) []byte {
	var req protocol.HTTPRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return refuse("transport", "malformed request: "+err.Error())
	}
	t.mu.Lock()
	t.requests = append(t.requests, req)
	t.mu.Unlock()
	resp := t.do(ctx, req)
	out, err := json.Marshal(resp)
	if err != nil {
		return refuse("transport", err.Error())
	}
	return out
}

func (t *Transport) do(ctx context.Context, req protocol.HTTPRequest) protocol.HTTPResponse {
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return failed("denied_host", fmt.Sprintf("not an absolute http(s) URL: %q", req.URL))
	}
	if !isLoopback(u.Hostname()) {
		return failed("denied_host", "sdktest reaches loopback hosts only, not "+u.Hostname())
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if len(req.Body) > 0 {
		body = bytes.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return failed("transport", err.Error())
	}
	for k, v := range req.Headers {
		v, err := t.substitute(v)
		if err != nil {
			return failed("transport", err.Error())
		}
		hreq.Header.Set(k, v)
	}
	if req.Auth != "" {
		tok, err := t.credential(req.Auth)
		if err != nil {
			return failed("transport", err.Error())
		}
		if tok != "" {
			hreq.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	hresp, err := t.client.Do(hreq)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return failed("timeout", err.Error())
		}
		return failed("transport", err.Error())
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hresp.Body, t.cfg.MaxBody+1))
	if err != nil {
		return failed("transport", err.Error())
	}
	if int64(len(data)) > t.cfg.MaxBody {
		return failed("too_large", fmt.Sprintf("response body over %d bytes", t.cfg.MaxBody))
	}
	headers := make(map[string]string, len(hresp.Header))
	for k, v := range hresp.Header {
		headers[k] = strings.Join(v, ", ")
	}
	return protocol.HTTPResponse{Status: hresp.StatusCode, Headers: headers, Body: data}
}

func (t *Transport) credential(name string) (string, error) {
	if name == "default" {
		return t.cfg.Token, nil
	}
	v, ok := t.cfg.Secrets[name]
	if !ok {
		return "", fmt.Errorf("unknown credential %q", name)
	}
	return v, nil
}

// substitute replaces a whole-value "{{secret:NAME}}" reference.
func (t *Transport) substitute(v string) (string, error) {
	name, ok := strings.CutPrefix(v, "{{secret:")
	if !ok {
		return v, nil
	}
	name, ok = strings.CutSuffix(name, "}}")
	if !ok {
		return v, nil
	}
	s, ok := t.cfg.Secrets[name]
	if !ok {
		return "", fmt.Errorf("unknown secret %q", name)
	}
	return s, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func failed(typ, msg string) protocol.HTTPResponse {
	return protocol.HTTPResponse{Status: 0, Error: msg, ErrorType: typ}
}

func refuse(typ, msg string) []byte {
	out, _ := json.Marshal(failed(typ, msg)) // two strings cannot fail to encode
	return out
}

// Emit decodes a JSON protocol.EmitBatch, keeps its records and answers
// with a JSON protocol.EmitResult. Rejected objects are not kept.
func (t *Transport) Emit(_ context.Context, in []byte) []byte {
	var b protocol.EmitBatch
	var res protocol.EmitResult
	if err := json.Unmarshal(in, &b); err != nil {
		res.Error = "malformed batch: " + err.Error()
	} else {
		t.mu.Lock()
		t.batches++
		for i, o := range b.Objects {
			if t.cfg.Reject != nil {
				if reason := t.cfg.Reject(o); reason != "" {
					res.Rejected = append(res.Rejected, protocol.Rejection{Kind: "object", Index: i, Type: o.Type, ID: o.ID, Reason: reason})
					continue
				}
			}
			t.objects = append(t.objects, o)
			res.Accepted++
		}
		t.edges = append(t.edges, b.Edges...)
		t.dels = append(t.dels, b.Deletions...)
		res.Accepted += len(b.Edges) + len(b.Deletions)
		t.mu.Unlock()
	}
	out, _ := json.Marshal(res) // ints, strings and slices of them cannot fail
	return out
}

// Log keeps one log line.
func (t *Transport) Log(_ context.Context, level protocol.LogLevel, msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.logs = append(t.logs, LogEntry{Level: level, Message: msg})
}

// Objects returns the objects emitted and accepted so far, in order.
func (t *Transport) Objects() []protocol.Object {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]protocol.Object(nil), t.objects...)
}

// Edges returns the edges emitted so far, in order.
func (t *Transport) Edges() []protocol.Edge {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]protocol.Edge(nil), t.edges...)
}

// Deletions returns the deletions emitted so far, in order.
func (t *Transport) Deletions() []protocol.Deletion {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]protocol.Deletion(nil), t.dels...)
}

// Logs returns the log lines so far, in order.
func (t *Transport) Logs() []LogEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]LogEntry(nil), t.logs...)
}

// Requests returns the HTTP requests the connector made, as it made them
// (before credential injection), in order.
func (t *Transport) Requests() []protocol.HTTPRequest {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]protocol.HTTPRequest(nil), t.requests...)
}

// Batches returns how many emit batches the connector sent.
func (t *Transport) Batches() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.batches
}

// Reset forgets everything recorded, keeping the configuration.
func (t *Transport) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.requests, t.objects, t.edges, t.dels, t.logs, t.batches = nil, nil, nil, nil, nil, 0
}
