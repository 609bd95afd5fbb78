package api

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
)

func TestAssessHealth(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ok := RemoteHealth{Reachable: true}
	one, zero := 1, 0
	run := func(id, state, errType string) store.Run {
		r := store.Run{ID: id, State: state}
		if errType != "" {
			r.Errors = []store.RunError{{Type: errType, Count: 1}}
		}
		return r
	}
	failed := func(id string) store.Run { return run(id, store.RunFailed, "http_5xx") }
	succeeded := run("s", store.RunSucceeded, "")
	connectorRunbook := func(typ string) string {
		if typ == "http_5xx" {
			return "/v1/connectors/directory/versions/1.0.0/runbooks/http_5xx"
		}
		return ""
	}
	cases := []struct {
		name        string
		rep         HealthReport
		runs        []store.Run
		status      string
		codes       []string
		wantRunbook string
	}{
		{name: "all quiet", rep: HealthReport{Remote: ok, Backlog: Backlog{DLQItems: &zero}}, runs: []store.Run{succeeded}, status: HealthOK},
		{name: "no runs yet", rep: HealthReport{Remote: ok}, status: HealthOK},
		{name: "unreachable", rep: HealthReport{}, status: HealthFailing, codes: []string{"remote_unreachable"}, wantRunbook: runbookUnreachable},
		{name: "health call failed", rep: HealthReport{Remote: RemoteHealth{Error: "deadline exceeded"}}, status: HealthFailing, codes: []string{"health_call_failed"}},
		{name: "recent 429", rep: HealthReport{Remote: ok, RateLimit: &RateLimit{Last429: now.Add(-time.Minute)}}, status: HealthDegraded, codes: []string{"rate_limited"}, wantRunbook: runbookRateLimited},
		{name: "old 429", rep: HealthReport{Remote: ok, RateLimit: &RateLimit{Last429: now.Add(-time.Hour)}}, status: HealthOK},
		{name: "blocked by Retry-After", rep: HealthReport{Remote: ok, RateLimit: &RateLimit{Last429: now.Add(-time.Hour), BlockedUntil: now.Add(time.Second)}}, status: HealthDegraded, codes: []string{"rate_limited"}},
		{name: "one failed run", rep: HealthReport{Remote: ok}, runs: []store.Run{failed("f1"), succeeded}, status: HealthDegraded, codes: []string{"runs_failing"}, wantRunbook: "/v1/connectors/directory/versions/1.0.0/runbooks/http_5xx"},
		{name: "three failed runs", rep: HealthReport{Remote: ok}, runs: []store.Run{failed("f3"), run("r", store.RunRunning, ""), failed("f2"), failed("f1"), succeeded}, status: HealthFailing, codes: []string{"runs_failing"}},
		{name: "recovered", rep: HealthReport{Remote: ok}, runs: []store.Run{succeeded, failed("f3"), failed("f2"), failed("f1")}, status: HealthOK},
		{name: "auth failures point at token refresh", rep: HealthReport{Remote: ok}, runs: []store.Run{run("a", store.RunFailed, "auth")}, status: HealthDegraded, codes: []string{"runs_failing"}, wantRunbook: runbookTokenRefresh},
		{name: "dead letters", rep: HealthReport{Remote: ok, Backlog: Backlog{DLQItems: &one}}, status: HealthDegraded, codes: []string{"dead_letters"}, wantRunbook: runbookDLQ},
		{name: "slow remote", rep: HealthReport{Remote: ok, Latency: &Latency{P50Millis: 900, P95Millis: 2500}}, status: HealthDegraded, codes: []string{"slow_remote"}},
		{name: "worst wins", rep: HealthReport{RateLimit: &RateLimit{Last429: now}}, status: HealthFailing, codes: []string{"remote_unreachable", "rate_limited"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := c.rep
			assess(&rep, c.runs, now, HealthPolicy{}, connectorRunbook)
			if rep.Status != c.status {
				t.Errorf("status %q, want %q (reasons %+v)", rep.Status, c.status, rep.Reasons)
			}
			if len(rep.Reasons) != len(c.codes) {
				t.Fatalf("reasons %+v, want codes %v", rep.Reasons, c.codes)
			}
			for i, code := range c.codes {
				if rep.Reasons[i].Code != code || rep.Reasons[i].Message == "" {
					t.Errorf("reason %d: %+v, want code %s with a message", i, rep.Reasons[i], code)
				}
			}
			if c.wantRunbook != "" && rep.Reasons[0].Runbook != c.wantRunbook {
				t.Errorf("runbook %q, want %q", rep.Reasons[0].Runbook, c.wantRunbook)
			}
		})
	}
}
