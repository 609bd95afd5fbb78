package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/store"
)

// Status is the body of /healthz and /readyz.
type Status struct {
	Status string `json:"status"`
}

// healthz is liveness: the process serves HTTP.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, Status{Status: "ok"})
}

// readyz is readiness: not draining, and the store answers a read.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeProblem(w, r, http.StatusServiceUnavailable, "the server is shutting down")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	// Any answer but "closed" shows the store reads: the probe id names
	// no key.
	if _, err := s.db.Platform().APIKey(ctx, "readyz-probe"); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.writeError(w, r, &StatusError{Status: http.StatusServiceUnavailable, Detail: "the store is not available", Err: err})
		return
	}
	writeJSON(w, http.StatusOK, Status{Status: "ready"})
}

// HealthReport is the answer to GET …/connections/{connection}/health:
// the connector's own health() and what the host knows.
type HealthReport struct {
	Connection string    `json:"connection"`
	Connector  string    `json:"connector"`
	CheckedAt  time.Time `json:"checked_at"`
	// Remote is the connector's health() answer; Error is set (and
	// Reachable false) when the call itself failed.
	Remote RemoteHealth `json:"remote"`
	// Latency, RateLimit and DLQ figures come from Config.HostStats and
	// are absent without it.
	Latency   *Latency   `json:"latency,omitempty"`
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
	// LastSuccessAt is when the latest successful run finished.
	LastSuccessAt time.Time `json:"last_success_at,omitzero"`
	Backlog       Backlog   `json:"backlog"`
	// Status is ok, degraded or failing; Reasons say why it is not ok,
	// each naming its runbook.
	Status  string         `json:"status"`
	Reasons []HealthReason `json:"reasons,omitempty"`
}

// RemoteHealth is the connector's health() answer.
type RemoteHealth struct {
	Reachable bool              `json:"reachable"`
	Details   map[string]string `json:"details,omitempty"`
	Error     string            `json:"error,omitempty"`
}

// Latency is the remote's latency through sluice_http.
type Latency struct {
	P50Millis float64 `json:"p50_ms"`
	P95Millis float64 `json:"p95_ms"`
}

// RateLimit is the state of the tenant × connector rate limiter.
type RateLimit struct {
	TokensLeft   float64   `json:"tokens_left"`
	Last429      time.Time `json:"last_429,omitzero"`
	BlockedUntil time.Time `json:"blocked_until,omitzero"`
}

// Backlog is the work waiting for the connection. A nil count is
// unknown (its backend is not wired).
type Backlog struct {
	PendingRuns *int `json:"pending_runs,omitempty"`
	DLQItems    *int `json:"dlq_items,omitempty"`
}

// healthCallTimeout bounds the connector's health() call.
const healthCallTimeout = 15 * time.Second

// lastSuccessScan is how many recent runs are searched for the last
// successful one.
const lastSuccessScan = 100

func (s *Server) connectionHealth(w http.ResponseWriter, r *http.Request) {
	cs, err := s.connectionsOrErr()
	if err == nil && s.engine == nil {
		err = notWired("engine")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, t, id := r.Context(), tenantFrom(r.Context()), param(r, "connection")
	conn, err := cs.Connection(ctx, t, id)
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.connection"))
		return
	}
	// Isolation holds by construction; check it anyway before a call
	// that carries credentials.
	if conn.Tenant == nil || conn.Tenant.ID() != t.ID() || conn.Module == nil || conn.Module.Manifest == nil {
		s.writeError(w, r, errors.New("api: connections backend resolved a connection of another tenant or without a module"))
		return
	}
	rep := HealthReport{Connection: id, Connector: conn.Module.Manifest.ID, CheckedAt: s.now().UTC()}
	hctx, cancel := context.WithTimeout(ctx, healthCallTimeout)
	resp, err := s.engine.Health(hctx, conn)
	cancel()
	if err != nil {
		rep.Remote = RemoteHealth{Error: err.Error()} // CallError details are scrubbed by the engine
	} else {
		rep.Remote = RemoteHealth{Reachable: resp.Reachable, Details: resp.Details}
	}
	recent, err := s.addHostFacts(ctx, t, conn.Module.Manifest.ID, id, &rep)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m := conn.Module.Manifest
	assess(&rep, recent, rep.CheckedAt, s.healthPolicy, func(errorType string) string {
		for _, rb := range m.Runbooks {
			if rb.ErrorType == errorType {
				return "/v1/connectors/" + m.ID + "/versions/" + m.Version + "/runbooks/" + errorType
			}
		}
		return ""
	})
	writeJSON(w, http.StatusOK, rep)
}

// addHostFacts fills in the last success, backlog and host statistics,
// and returns the recent runs it read (newest first).
func (s *Server) addHostFacts(ctx context.Context, t *store.Tenant, connector, id string, rep *HealthReport) ([]store.Run, error) {
	runs, err := t.Runs(ctx, id, lastSuccessScan)
	if err != nil {
		return nil, err
	}
	for _, run := range runs {
		if run.State == store.RunSucceeded {
			rep.LastSuccessAt = run.FinishedAt
			break
		}
	}
	if s.scheduler != nil {
		n, err := s.scheduler.Pending(ctx, t, id)
		if err != nil {
			return nil, err
		}
		rep.Backlog.PendingRuns = &n
	}
	if s.hostStats != nil {
		st, err := s.hostStats.ConnectionStats(ctx, t, connector, id)
		if err != nil {
			return nil, err
		}
		rep.Latency = &Latency{P50Millis: millis(st.LatencyP50), P95Millis: millis(st.LatencyP95)}
		rep.RateLimit = &RateLimit{TokensLeft: st.TokensLeft, Last429: st.Last429, BlockedUntil: st.BlockedUntil}
		dlq := st.DLQItems
		rep.Backlog.DLQItems = &dlq
	}
	return runs, nil
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
