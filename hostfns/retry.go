package hostfns

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff parameters: full jitter ("Exponential Backoff And Jitter", AWS
// Architecture Blog) over base·2^attempt, capped.
const (
	backoffBase = 100 * time.Millisecond
	backoffCap  = 10 * time.Second
)

// backoffCeiling is the upper bound of the jittered wait before retry
// number attempt (0-based).
func backoffCeiling(attempt int) time.Duration {
	if attempt >= 16 { // 100ms·2^16 is far past the cap; avoid overflow
		return backoffCap
	}
	return min(backoffCap, backoffBase<<attempt)
}

// ParseRetryAfter reads a Retry-After header value (RFC 9110 §10.2.3):
// delay-seconds or an HTTP-date, relative to now. The delay is clamped to
// [0, limit]; ok is false for an empty or malformed value.
func ParseRetryAfter(v string, now time.Time, limit time.Duration) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > int64(limit/time.Second) { // overflow or beyond the cap
			return limit, true
		}
		return min(limit, time.Duration(secs)*time.Second), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now)
	switch {
	case d < 0:
		return 0, true
	case d > limit:
		return limit, true
	}
	return d, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// idempotentMethod reports a method that may be retried after any
// failure: repeating it cannot do anything twice (RFC 9110 §9.2.2).
func idempotentMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

// retryableStatus reports whether a status may be retried. 429 and 503
// say the request was not processed, so any method may repeat it; other
// 5xx (but 501, which will not change) only for idempotent requests.
func retryableStatus(status int, idempotent bool) bool {
	switch {
	case status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
		return true
	case status >= 500 && status != http.StatusNotImplemented:
		return idempotent
	}
	return false
}
