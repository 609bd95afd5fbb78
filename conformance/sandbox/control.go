package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-chi/chi/v5"
)

const maxControlBody = 64 << 10

// loopbackOnly keeps the unauthenticated control plane to local clients,
// even when Handler is mounted on a server that listens elsewhere.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip, perr := netip.ParseAddr(host)
		if err != nil || perr != nil || !ip.Unmap().IsLoopback() {
			writeProblem(w, http.StatusForbidden, "forbidden", "the control plane answers loopback clients only")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// SetFaults replaces the faults in force and reseeds their RNG. It
// returns a *FieldError wrapping ErrInvalidFaults and changes nothing when
// f is out of range.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.faults.set(f)
	return nil
}

// Faults returns the faults in force, with the storm and fail-next
// counters as far as they have run down.
func (s *Server) Faults() Faults { return s.faults.current() }

// decodeBody reads one JSON value from a bounded body.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxControlBody))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func (s *Server) handleGetStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) handleGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

func (s *Server) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	if err := decodeBody(r, &f); err != nil {
		writeProblem(w, http.StatusBadRequest, "invalid_faults", err.Error())
		return
	}
	if err := s.SetFaults(f); err != nil {
		writeProblem(w, http.StatusBadRequest, "invalid_faults", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) handleReset(w http.ResponseWriter, _ *http.Request) {
	s.Reset()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handlePatchUser(w http.ResponseWriter, r *http.Request) {
	var patch map[string]any
	if err := decodeBody(r, &patch); err != nil || patch == nil {
		writeProblem(w, http.StatusBadRequest, "invalid_patch", "the body must be one JSON object")
		return
	}
	u, err := s.UpdateUser(chi.URLParam(r, "id"), patch)
	if err != nil {
		writeUserError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) handleDeleteUser(w http.ResponseWriter, r *http.Request) {
	if err := s.DeleteUser(chi.URLParam(r, "id")); err != nil {
		writeUserError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeUserError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrUnknownUser):
		writeProblem(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrUserDeleted):
		writeProblem(w, http.StatusGone, "gone", err.Error())
	default:
		writeProblem(w, http.StatusBadRequest, "invalid_patch", err.Error())
	}
}

// SubscribeRequest is the body of POST /_sandbox/webhooks. Sign defaults
// to true; Backoff and Timeout are Go durations ("250ms"), empty for the
// defaults.
type SubscribeRequest struct {
	URL         string `json:"url"`
	Secret      string `json:"secret"`
	Sign        *bool  `json:"sign,omitempty"`
	Duplicates  int    `json:"duplicates,omitempty"`
	Retries     int    `json:"retries,omitempty"`
	MaxAttempts int    `json:"max_attempts,omitempty"`
	Backoff     string `json:"backoff,omitempty"`
	Timeout     string `json:"timeout,omitempty"`
}

// Delivery returns the options of the request.
func (r SubscribeRequest) Delivery() (Delivery, error) {
	d := Delivery{Sign: r.Sign == nil || *r.Sign, Duplicates: r.Duplicates, Retries: r.Retries, MaxAttempts: r.MaxAttempts}
	for _, f := range []struct {
		name string
		raw  string
		dst  *time.Duration
	}{{"backoff", r.Backoff, &d.Backoff}, {"timeout", r.Timeout, &d.Timeout}} {
		if f.raw == "" {
			continue
		}
		v, err := time.ParseDuration(f.raw)
		if err != nil {
			return Delivery{}, &FieldError{Err: ErrInvalidSubscription, Field: f.name, Reason: fmt.Sprintf("%q is not a duration like 250ms", f.raw)}
		}
		*f.dst = v
	}
	return d, nil
}

func (s *Server) handleSubscribe(w http.ResponseWriter, r *http.Request) {
	var req SubscribeRequest
	if err := decodeStrict(r, &req); err != nil {
		writeProblem(w, http.StatusBadRequest, "invalid_subscription", err.Error())
		return
	}
	d, err := req.Delivery()
	if err == nil {
		err = s.Subscribe(req.URL, req.Secret, d)
	}
	switch {
	case errors.Is(err, ErrClosed):
		writeProblem(w, http.StatusServiceUnavailable, "closed", err.Error())
		return
	case err != nil:
		writeProblem(w, http.StatusBadRequest, "invalid_subscription", err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"url": req.URL, "subscriptions": s.Deliveries().Subscriptions})
}

func (s *Server) handleGetWebhooks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Deliveries())
}
