package api

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/store"
)

// Connection health statuses.
const (
	HealthOK       = "ok"
	HealthDegraded = "degraded"
	HealthFailing  = "failing"
)

// HealthReason is one fact that moved a connection away from ok. Code is
// stable; Runbook is where an operator reads what to do: a connector's
// runbook (…/versions/{v}/runbooks/{error_type}) when the connector
// ships one for the error type, else a platform runbook in
// docs/runbooks/.
type HealthReason struct {
	Code    string `json:"code"`
	Status  string `json:"status"` // the status this reason alone implies
	Message string `json:"message"`
	Runbook string `json:"runbook,omitempty"`
}

// HealthPolicy holds the thresholds of health statuses. The zero value
// uses the defaults documented on each field.
type HealthPolicy struct {
	// RateLimitWindow: a 429 this recent makes the connection degraded
	// (default 5 minutes).
	RateLimitWindow time.Duration
	// SlowP95: a remote p95 latency above it is degraded (default 2 s).
	SlowP95 time.Duration
	// FailingRuns: this many failed runs in a row, newest first, with no
	// success between, make the connection failing (default 3); fewer
	// failures in a row make it degraded.
	FailingRuns int
	// Backlog: more pending runs than this is degraded (default 10).
	Backlog int
}

func (p HealthPolicy) withDefaults() HealthPolicy {
	if p.RateLimitWindow <= 0 {
		p.RateLimitWindow = 5 * time.Minute
	}
	if p.SlowP95 <= 0 {
		p.SlowP95 = 2 * time.Second
	}
	if p.FailingRuns <= 0 {
		p.FailingRuns = 3
	}
	if p.Backlog <= 0 {
		p.Backlog = 10
	}
	return p
}

// runbookFor names the runbook of an error type: the connector's own if
// its version ships one, else nothing (the caller falls back to a
// platform runbook).
type runbookFor func(errorType string) string

// Platform runbooks, in docs/runbooks/.
const (
	runbookRateLimited  = "docs/runbooks/rate-limited.md"
	runbookDLQ          = "docs/runbooks/dlq-growing.md"
	runbookTokenRefresh = "docs/runbooks/token-refresh-failing.md"
	runbookUnreachable  = "docs/runbooks/remote-unreachable.md"
)

// platformRunbook names the platform runbook of the host's error types
// that have one of their own; any other type a connector does not
// document falls back to the dead-letter runbook.
func platformRunbook(errorType string) string {
	switch errorType {
	case "rate_limited":
		return runbookRateLimited
	case "remote_unavailable", "transport", "timeout":
		return runbookUnreachable
	case "auth", "unauthorized", "token_refresh":
		return runbookTokenRefresh
	}
	return runbookDLQ
}

// assess sets rep.Status and rep.Reasons from what the report holds and
// the connection's recent runs (newest first). The worst reason wins:
// failing over degraded over ok.
func assess(rep *HealthReport, recent []store.Run, now time.Time, p HealthPolicy, runbook runbookFor) {
	p = p.withDefaults()
	var reasons []HealthReason
	add := func(code, status, runbookPath, format string, args ...any) {
		reasons = append(reasons, HealthReason{Code: code, Status: status, Message: fmt.Sprintf(format, args...), Runbook: runbookPath})
	}
	switch {
	case rep.Remote.Error != "":
		add("health_call_failed", HealthFailing, runbookUnreachable, "the connector's health() failed: %s", rep.Remote.Error)
	case !rep.Remote.Reachable:
		add("remote_unreachable", HealthFailing, runbookUnreachable, "the connector reports the remote unreachable")
	}
	if failed, last := failedInARow(recent); failed > 0 {
		status := HealthDegraded
		if failed >= p.FailingRuns {
			status = HealthFailing
		}
		typ := "run_failed"
		if len(last.Errors) > 0 {
			typ = last.Errors[len(last.Errors)-1].Type
		}
		rb := runbook(typ)
		if rb == "" && (typ == "auth" || typ == "token_refresh" || typ == "unauthorized") {
			rb = runbookTokenRefresh
		}
		add("runs_failing", status, rb, "the last %d run(s) failed (latest error type %q, run %s)", failed, typ, last.ID)
	}
	if rl := rep.RateLimit; rl != nil {
		switch {
		case rl.BlockedUntil.After(now):
			add("rate_limited", HealthDegraded, runbookRateLimited, "waiting out the remote's Retry-After until %s", rl.BlockedUntil.Format(time.RFC3339))
		case !rl.Last429.IsZero() && now.Sub(rl.Last429) < p.RateLimitWindow:
			add("rate_limited", HealthDegraded, runbookRateLimited, "the remote answered 429 at %s", rl.Last429.Format(time.RFC3339))
		}
	}
	if l := rep.Latency; l != nil && l.P95Millis > millis(p.SlowP95) {
		add("slow_remote", HealthDegraded, "", "remote p95 latency %.0f ms is above %.0f ms", l.P95Millis, millis(p.SlowP95))
	}
	if n := rep.Backlog.DLQItems; n != nil && *n > 0 {
		add("dead_letters", HealthDegraded, runbookDLQ, "%d item(s) in the dead-letter queue", *n)
	}
	if n := rep.Backlog.PendingRuns; n != nil && *n > p.Backlog {
		add("backlog", HealthDegraded, "", "%d runs waiting", *n)
	}
	rep.Status, rep.Reasons = HealthOK, reasons
	for _, r := range reasons {
		if r.Status == HealthFailing {
			rep.Status = HealthFailing
			break
		}
		rep.Status = HealthDegraded
	}
}

// failedInARow counts the finished runs that failed before the newest
// success (runs newest first, running ones skipped) and returns the
// newest failure.
func failedInARow(runs []store.Run) (int, store.Run) {
	n, last := 0, store.Run{}
	for _, r := range runs {
		switch r.State {
		case store.RunFailed:
			if n == 0 {
				last = r
			}
			n++
		case store.RunSucceeded:
			return n, last
		}
	}
	return n, last
}
