package actions

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/store"
)

// metrics are the service's counters. Labels are bounded: the kind of
// action (standard, destructive or inverse, never the connector's own
// action names) and a fixed set of outcomes and check statuses.
type metrics struct {
	actions *prometheus.CounterVec
	checks  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_action_runs_total",
			Help: "Action run outcomes by kind (standard, destructive, inverse) and outcome (executed, failed, rejected, preflight_denied, expired, pending_approval).",
		}, []string{"kind", "outcome"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_checks_total",
			Help: "Verify check results by status (pass, fail, error).",
		}, []string{"status"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.actions, m.checks} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

var outcomes = map[string]bool{
	"executed": true, "failed": true, "rejected": true, "preflight_denied": true, "expired": true, "pending_approval": true,
}

func (m *metrics) outcome(r store.ActionRun, outcome string) {
	if !outcomes[outcome] {
		outcome = "failed"
		if r.State == store.ActionRejected {
			outcome = "rejected"
		}
	}
	kind := "standard"
	switch {
	case r.InverseOf != "":
		kind = "inverse"
	case r.Destructive:
		kind = "destructive"
	}
	m.actions.WithLabelValues(kind, outcome).Inc()
}
