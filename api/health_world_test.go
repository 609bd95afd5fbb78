package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/sluicehq/sluice/api"
)

// TestConnectionHealthReal asks for the health of acme's crm over the
// real backends of the wired world: the directory connector's health()
// against its sandbox, the run scheduler's backlog and the host's
// statistics of the setup sync; a dead letter shows in the backlog; a
// connection that does not exist is 404.
func TestConnectionHealthReal(t *testing.T) {
	w := newWorld(t, true)
	health := func() api.HealthReport {
		t.Helper()
		st, b := w.call(t, api.PTenantOwn, "GET", crm+"/health", "")
		var rep api.HealthReport
		if err := json.Unmarshal(b, &rep); st != http.StatusOK || err != nil {
			t.Fatalf("health: %d %s (%v)", st, b, err)
		}
		return rep
	}
	rep := health()
	if !rep.Remote.Reachable || rep.Remote.Error != "" || rep.Connection != "crm" || rep.Connector != "directory" {
		t.Errorf("report %+v", rep)
	}
	run, err := w.svc.Run(context.Background(), w.tenant(t, "acme"), w.runID)
	if err != nil || !rep.LastSuccessAt.Equal(run.FinishedAt) {
		t.Errorf("last success %v, want the setup sync's end %v (%v)", rep.LastSuccessAt, run.FinishedAt, err)
	}
	if rep.Backlog.PendingRuns == nil || *rep.Backlog.PendingRuns != 0 || rep.Backlog.DLQItems == nil || *rep.Backlog.DLQItems != 0 {
		t.Errorf("backlog %+v, want empty", rep.Backlog)
	}
	if rep.Latency == nil || rep.Latency.P50Millis <= 0 || rep.Latency.P95Millis < rep.Latency.P50Millis {
		t.Errorf("latency %+v: the setup sync made requests", rep.Latency)
	}
	w.deadLetter(t) // a sync whose group pages fail
	if rep := health(); rep.Backlog.DLQItems == nil || *rep.Backlog.DLQItems != 1 {
		t.Errorf("backlog after a dead letter %+v, want 1 item", rep.Backlog)
	}
	if st, b := w.call(t, api.PTenantOwn, "GET", "/v1/tenants/acme/connections/nope/health", ""); st != http.StatusNotFound {
		t.Errorf("health of a missing connection: %d %s", st, b)
	}
}
