package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// maxHookAnswer bounds how much of a receiver's answer is read.
const maxHookAnswer = 64 << 10

// message is one signed webhook message: what every attempt of one
// event sends, re-signed per attempt, duplicated byte for byte.
type message struct {
	id        string
	body      []byte
	timestamp string
	signature string // "" when unsigned
}

// sign stamps the message at t and signs it with the reference library.
func (m *message) sign(wh *standardwebhooks.Webhook, t time.Time) {
	m.timestamp = strconv.FormatInt(t.Unix(), 10)
	m.signature = ""
	if wh != nil {
		// Sign cannot fail: it only hashes.
		m.signature, _ = wh.Sign(m.id, time.Unix(t.Unix(), 0), m.body)
	}
}

// checkHookURL accepts http(s) URLs whose host is a loopback IP or
// localhost, without user info.
func checkHookURL(raw string) error {
	bad := func(reason string) error {
		return &FieldError{Err: ErrInvalidSubscription, Field: "url", Reason: reason}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad(fmt.Sprintf("%q is not an absolute http(s) URL", raw))
	}
	if u.User != nil {
		return bad("user info in the URL is refused")
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return bad(fmt.Sprintf("host %q is not loopback; the sandbox delivers to 127.0.0.1 only", host))
	}
	return nil
}

// hookClient posts messages. Its dialer refuses any address that is not
// loopback, whatever "localhost" resolves to; it uses no proxy and
// follows no redirect.
type hookClient struct {
	tr *http.Transport
	c  *http.Client
}

func newHookClient() *hookClient {
	d := &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !ap.Addr().Unmap().IsLoopback() {
				return fmt.Errorf("sandbox: refusing to deliver to non-loopback %s", address)
			}
			return nil
		},
	}
	tr := &http.Transport{Proxy: nil, DialContext: d.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
	return &hookClient{tr: tr, c: &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c *hookClient) close() { c.tr.CloseIdleConnections() }

// post sends msg and returns the status and the Retry-After wait of the
// answer (0 when absent or unparsable).
func (c *hookClient) post(ctx context.Context, target string, msg *message, timeout time.Duration) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(string(msg.body)))
	if err != nil {
		return 0, 0, err
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "sluice-sandbox-webhooks/1")
	h.Set(standardwebhooks.HeaderWebhookID, msg.id)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, msg.timestamp)
	if msg.signature != "" {
		h.Set(standardwebhooks.HeaderWebhookSignature, msg.signature)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the attempt already
		}
		return 0, 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHookAnswer)) // lets the connection be reused
	return resp.StatusCode, retryAfter(resp.Header.Get("Retry-After"), time.Now()), nil
}

// retryAfter parses Retry-After as delay-seconds or an HTTP date,
// capped at MaxRetryAfter.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return min(time.Duration(min(n, int64(MaxRetryAfter/time.Second)))*time.Second, MaxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}
