package hostfns

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/tape"
)

// Error types of an [protocol.HTTPResponse] the host refused or failed
// (Status 0). The first five are decided by policy alone, identically in
// a live run and in its replay; the rest depend on the network or the
// connection's credentials and are replayed from the tape.
const (
	ErrorTypeDenied       = "denied"        // the door is shut for this invocation
	ErrorTypeBadRequest   = "bad_request"   // not a well-formed request
	ErrorTypeDeniedHost   = "denied_host"   // host (or port) not declared
	ErrorTypeDeniedScheme = "denied_scheme" // scheme not declared for the host
	ErrorTypeDeniedMethod = "denied_method" // method not declared, or not GET/HEAD in a read-only call

	ErrorTypeDeniedAddress = "denied_address" // the host resolves to a forbidden address
	ErrorTypeDeniedSecret  = "denied_secret"  // unknown credential or secret name
	ErrorTypeAuth          = "auth"           // the credential could not be obtained
	ErrorTypeRateLimited   = "rate_limited"   // 429 until retries ran out, or no slot before the deadline
	ErrorTypeTimeout       = "timeout"
	ErrorTypeTooLarge      = "too_large"
	ErrorTypeTransport     = "transport"
	ErrorTypeReplay        = "replay" // the tape has no answer for this request
)

// PolicyDenial reports whether an error type is decided by policy alone
// (see the Error types); a tape player skips such exchanges, because the
// replaying host answers them itself.
func PolicyDenial(errorType string) bool {
	switch errorType {
	case ErrorTypeDenied, ErrorTypeBadRequest, ErrorTypeDeniedHost, ErrorTypeDeniedScheme, ErrorTypeDeniedMethod:
		return true
	}
	return false
}

// HTTPConfig configures the egress door of one invocation. The zero value
// denies every request (no hosts) and has no transport.
type HTTPConfig struct {
	// Hosts is the manifest's allow-list: exact host name (no wildcards,
	// case-insensitive), port if the rule gives one (else any port),
	// scheme (default https) and methods (an empty list allows none).
	Hosts []protocol.HostRule
	// ReadOnly allows only GET and HEAD (verify runs).
	ReadOnly bool
	// Transport sends requests: the engine's shared [NewTransport]. It is
	// used as a RoundTripper, so redirects are never followed: a 3xx goes
	// back to the guest, whose next request to the Location passes the
	// same checks as any other. nil answers "transport" errors.
	Transport http.RoundTripper
	// Credentials resolve "auth" and "{{secret:NAME}}"; nil has none.
	Credentials Credentials
	// Scrub removes secret values from what the guest receives, from logs
	// and from the tape; credentials the door injects are added to it.
	Scrub *Scrubber
	// Limiter is the tenant×connector's budget; nil = unlimited.
	Limiter *Limiter
	// MaxRetries is the number of retries after the first attempt (0 = 4,
	// negative = none). Retried: 429 and 503 for any method; other 5xx
	// (not 501), timeouts, transport errors and truncated bodies only for
	// idempotent methods or requests with an Idempotency-Key header.
	MaxRetries int
	// MaxRetryAfter caps a Retry-After wait (0 = 60s).
	MaxRetryAfter time.Duration
	// Timeout bounds one attempt, body included (0 = 30s).
	Timeout time.Duration
	// MaxResponseBytes caps a response body (0 = 8 MiB); larger answers
	// error_type "too_large".
	MaxResponseBytes int64
	// Recorder gets every exchange, denials included, as the tape keeps
	// it; nil records nothing.
	Recorder func(tape.Exchange)
	// Player, when set, is replay mode: requests that pass the policy are
	// answered by it and nothing touches the network or the credentials.
	Player func(protocol.HTTPRequest) (protocol.HTTPResponse, error)
	// Sleep waits between attempts and for the limiter (nil = a real timer
	// that respects ctx).
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand is the jitter source (nil = seeded from crypto/rand).
	Rand *rand.Rand
	// Stats receives the counters (nil = not counted).
	Stats *NetStats
	// Correlation is sent as X-Correlation-Id when set.
	Correlation string
	// TracerProvider makes one span per exchange and the traceparent
	// sent to the remote; nil means the provider of the span in the
	// call's context (noop when there is none).
	TracerProvider trace.TracerProvider
}

// HTTP is the egress door (sluice_http). It is safe for concurrent use.
type HTTP struct {
	cfg           HTTPConfig
	rules         map[string][]hostRule
	maxRetries    int
	maxRetryAfter time.Duration
	timeout       time.Duration
	maxBytes      int64
	sleep         func(context.Context, time.Duration) error
	stats         *NetStats

	randMu sync.Mutex
	rnd    *rand.Rand
}

// NewHTTP returns the egress door for cfg.
func NewHTTP(cfg HTTPConfig) *HTTP {
	h := &HTTP{
		cfg:           cfg,
		rules:         compileRules(cfg.Hosts),
		maxRetries:    cfg.MaxRetries,
		maxRetryAfter: orDuration(cfg.MaxRetryAfter, 60*time.Second),
		timeout:       orDuration(cfg.Timeout, 30*time.Second),
		maxBytes:      orInt64(cfg.MaxResponseBytes, 8<<20),
		sleep:         cfg.Sleep,
		stats:         cfg.Stats,
		rnd:           cfg.Rand,
	}
	switch {
	case h.maxRetries == 0:
		h.maxRetries = 4
	case h.maxRetries < 0:
		h.maxRetries = 0
	}
	if h.sleep == nil {
		h.sleep = sleepCtx
	}
	if h.stats == nil {
		h.stats = &NetStats{}
	}
	if h.rnd == nil {
		var seed [32]byte
		_, _ = crand.Read(seed[:]) // never fails (Go 1.24+)
		h.rnd = rand.New(rand.NewChaCha8(seed))
	}
	return h
}

// Do performs one sluice_http request and returns the answer the guest
// gets: the remote's response (scrubbed), or Status 0 with Error and
// ErrorType when the host refused or failed it.
func (h *HTTP) Do(ctx context.Context, req protocol.HTTPRequest) protocol.HTTPResponse {
	h.stats.Requests.Add(1)
	ctx, span := h.startExchange(ctx, req.Method)
	o, d := h.checkPolicy(&req)
	if d == nil {
		d = h.injectCredentials(ctx, o, req.Auth)
	}
	rec := h.recordForm(&req, o)
	var resp protocol.HTTPResponse
	switch {
	case d != nil:
		resp = h.refuse(d)
	case h.cfg.Player != nil:
		resp = h.replay(rec)
	default:
		resp = h.send(ctx, o)
	}
	if h.cfg.Recorder != nil {
		h.cfg.Recorder(tape.Exchange{Request: rec, Response: resp})
	}
	endExchange(span, o, resp)
	return resp
}

// refuse turns a denial into the guest's answer and counts it.
func (h *HTTP) refuse(d *denial) protocol.HTTPResponse {
	switch d.errorType {
	case ErrorTypeAuth:
		h.stats.Errors.Add(1)
	default:
		h.stats.denied(d.errorType)
	}
	return protocol.HTTPResponse{Error: h.cfg.Scrub.String(d.msg), ErrorType: d.errorType}
}

func (h *HTTP) replay(rec protocol.HTTPRequest) protocol.HTTPResponse {
	resp, err := h.cfg.Player(rec)
	if err != nil {
		h.stats.Errors.Add(1)
		return protocol.HTTPResponse{Error: h.cfg.Scrub.String(err.Error()), ErrorType: ErrorTypeReplay}
	}
	if resp.Status == 0 || resp.Status >= 500 {
		h.stats.Errors.Add(1)
	}
	return h.scrubResponse(resp)
}

// attemptResult is the outcome of one attempt.
type attemptResult struct {
	status    int
	header    http.Header
	body      []byte
	errType   string // set when there is no usable response
	err       string
	retryable bool // for errType: may another attempt help?
}

// send runs the attempts: limiter, request, retry decision, backoff.
func (h *HTTP) send(ctx context.Context, o *outbound) protocol.HTTPResponse {
	if h.cfg.Transport == nil {
		return h.fail(ErrorTypeTransport, "no transport configured")
	}
	reauthed := false
	var res attemptResult
	for attempt := 0; ; attempt++ {
		if err := h.cfg.Limiter.wait(ctx, h.sleep); err != nil {
			if errors.Is(err, ErrRateLimited) {
				return h.fail(ErrorTypeRateLimited, err.Error())
			}
			return h.fail(ErrorTypeTimeout, "call ended while waiting for the rate limiter: "+err.Error())
		}
		res = h.attempt(ctx, o)
		if ctx.Err() != nil {
			break // the call is over; no retry can be answered
		}
		if res.status == http.StatusUnauthorized && !reauthed && h.reauth(ctx, o) {
			reauthed = true
			h.stats.Retries.Add(1)
			continue
		}
		if attempt >= h.maxRetries || !res.shouldRetry(o.idempotent) {
			break
		}
		wait := h.backoff(attempt)
		if res.status == http.StatusTooManyRequests || res.status == http.StatusServiceUnavailable {
			if ra, ok := ParseRetryAfter(res.header.Get("Retry-After"), time.Now(), h.maxRetryAfter); ok {
				wait = max(wait, ra)
			}
		}
		if res.status == http.StatusTooManyRequests {
			// Everyone of this tenant×connector waits, not just us.
			h.cfg.Limiter.Block(time.Now().Add(wait))
		}
		if fitsDeadline(ctx, wait) != nil || h.sleep(ctx, wait) != nil {
			break
		}
		h.stats.Retries.Add(1)
	}
	return h.answer(res)
}

// attempt makes one request and reads the body, within the per-attempt
// timeout.
func (h *HTTP) attempt(ctx context.Context, o *outbound) attemptResult {
	actx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	var body io.Reader
	if len(o.body) > 0 {
		body = bytes.NewReader(o.body)
	}
	hreq, err := http.NewRequestWithContext(actx, o.method, o.url, body)
	if err != nil {
		return attemptResult{errType: ErrorTypeTransport, err: err.Error()}
	}
	hreq.Header = o.header.Clone()
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", "sluice")
	}
	if h.cfg.Correlation != "" {
		hreq.Header.Set("X-Correlation-Id", h.cfg.Correlation)
	}
	injectTraceparent(ctx, hreq.Header)
	start := time.Now()
	resp, err := h.cfg.Transport.RoundTrip(hreq)
	if err != nil {
		return h.classify(actx, err, "")
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		h.stats.RateLimited.Add(1)
		h.cfg.Limiter.Note429(time.Now())
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, h.maxBytes+1))
	h.stats.BytesIn.Add(int64(len(data)))
	h.stats.observe(time.Since(start))
	if int64(len(data)) > h.maxBytes {
		return attemptResult{errType: ErrorTypeTooLarge, err: fmt.Sprintf("response body exceeds %d bytes", h.maxBytes)}
	}
	if err != nil {
		return h.classify(actx, err, "response body truncated: ")
	}
	return attemptResult{status: resp.StatusCode, header: resp.Header, body: data}
}

// classify turns a transport error into an attempt result.
func (h *HTTP) classify(actx context.Context, err error, prefix string) attemptResult {
	switch {
	case isDeniedAddress(err):
		var ae *AddressError
		if errors.As(err, &ae) {
			return attemptResult{errType: ErrorTypeDeniedAddress, err: ae.Error()}
		}
		return attemptResult{errType: ErrorTypeDeniedAddress, err: err.Error()}
	case actx.Err() != nil || isTimeout(err):
		return attemptResult{errType: ErrorTypeTimeout, err: fmt.Sprintf("%sno answer within %s", prefix, h.timeout), retryable: true}
	}
	return attemptResult{errType: ErrorTypeTransport, err: prefix + err.Error(), retryable: true}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (r *attemptResult) shouldRetry(idempotent bool) bool {
	if r.errType != "" {
		return r.retryable && idempotent
	}
	return retryableStatus(r.status, idempotent)
}

// reauth drops a cached credential after a 401 and injects a fresh one;
// it reports whether a retry makes sense.
func (h *HTTP) reauth(ctx context.Context, o *outbound) bool {
	if o.authName == "" || !invalidate(h.cfg.Credentials, o.authName) {
		return false
	}
	return h.injectCredentials(ctx, o, o.authName) == nil
}

// backoff is the full-jitter wait before retry number attempt.
func (h *HTTP) backoff(attempt int) time.Duration {
	ceil := backoffCeiling(attempt)
	h.randMu.Lock()
	defer h.randMu.Unlock()
	return time.Duration(h.rnd.Int64N(int64(ceil) + 1))
}

// answer turns the last attempt into the guest's answer and counts it.
func (h *HTTP) answer(r attemptResult) protocol.HTTPResponse {
	switch {
	case r.errType == ErrorTypeDeniedAddress:
		h.stats.denied(r.errType)
		return protocol.HTTPResponse{Error: r.err, ErrorType: r.errType}
	case r.errType != "":
		return h.fail(r.errType, r.err)
	case r.status == http.StatusTooManyRequests:
		return h.fail(ErrorTypeRateLimited, "the remote kept answering 429 Too Many Requests; retries exhausted")
	case r.status >= 500:
		h.stats.Errors.Add(1)
	}
	resp := protocol.HTTPResponse{Status: r.status, Body: r.body}
	if len(r.header) > 0 {
		resp.Headers = make(map[string]string, len(r.header))
		for k, vs := range r.header {
			resp.Headers[k] = strings.Join(vs, ", ")
		}
	}
	return h.scrubResponse(resp)
}

func (h *HTTP) fail(errorType, msg string) protocol.HTTPResponse {
	h.stats.Errors.Add(1)
	return protocol.HTTPResponse{Error: h.cfg.Scrub.String(msg), ErrorType: errorType}
}

// scrubResponse scrubs a copy of r (a Player's answer may be the tape's).
func (h *HTTP) scrubResponse(r protocol.HTTPResponse) protocol.HTTPResponse {
	r.Body = h.cfg.Scrub.Bytes(r.Body)
	r.Error = h.cfg.Scrub.String(r.Error)
	if r.Headers != nil {
		hs := make(map[string]string, len(r.Headers))
		for k, v := range r.Headers {
			hs[k] = h.cfg.Scrub.String(v)
		}
		r.Headers = hs
	}
	return r
}
