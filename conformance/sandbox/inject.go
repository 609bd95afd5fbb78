package sandbox

import (
	"bytes"
	"cmp"
	"net/http"
	"strconv"
	"time"
)

// injectFaults carries out the faultInjector's plan for each request.
func (s *Server) injectFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := s.faults.plan(r.URL.Path)
		if p.latency > 0 {
			s.stats.fault(func(c *FaultCounts) { c.Latency++ })
			t := time.NewTimer(p.latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return // the client gave up; nobody reads an answer
			}
		}
		if p.truncate {
			tw := &truncatingWriter{ResponseWriter: w}
			defer func() {
				if tw.finish() {
					s.stats.fault(func(c *FaultCounts) { c.Truncated++ })
				}
			}()
			w = tw
		}
		switch p.kind {
		case faultStorm:
			s.stats.fault(func(c *FaultCounts) { c.RateLimitStorm++ })
			tooManyRequests(w, cmp.Or(p.retryAfter, time.Second), "injected fault: rate limit storm")
		case faultFailNext:
			s.stats.fault(func(c *FaultCounts) { c.FailNext++ })
			writeProblem(w, p.status, "injected_fault", "injected fault: fail next")
		case faultError:
			s.stats.fault(func(c *FaultCounts) { c.Errors++ })
			writeProblem(w, p.status, "injected_fault", "injected fault: random error")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// truncatingWriter holds the whole response back, then sends its headers
// with the full Content-Length but only the first half of the body. The
// net/http server closes a connection whose body fell short of its
// Content-Length, so the client reads an unexpected EOF, as it would from
// a proxy that died mid-response.
type truncatingWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (t *truncatingWriter) WriteHeader(status int) {
	if t.status == 0 {
		t.status = status
	}
}

func (t *truncatingWriter) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	return t.buf.Write(b)
}

// finish sends the held response and reports whether it was cut; a body
// shorter than two bytes cannot be.
func (t *truncatingWriter) finish() bool {
	w := t.ResponseWriter
	body := t.buf.Bytes()
	cut := len(body) >= 2
	if cut {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		body = body[:len(body)/2]
	}
	w.WriteHeader(cmp.Or(t.status, http.StatusOK))
	_, _ = w.Write(body) // the client hung up; nothing left to tell it
	if cut {
		_ = http.NewResponseController(w).Flush() // not every writer flushes; the short body is sent either way
	}
	return cut
}
