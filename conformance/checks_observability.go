package conformance

import (
	"context"
	"fmt"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/receipt"
)

// platformErrorTypes have platform runbooks (docs/runbooks) or are the
// host's own classifications, documented once for every connector; any
// other error type a connector reports needs a runbook of its own
// (manifest runbooks).
var platformErrorTypes = []string{
	"rate_limited", "auth", "unauthorized", "remote_unavailable", "remote_error", "timeout", "transport", "too_large",
	"deadline", "trap", "output_too_large", "too_many_records", "bad_output", "not_supported", "canceled",
	"interrupted", "internal", "cursor_stuck", "superseded", "metering", "deletion_ignored", "stale_ignored",
	"connector_error", "check_error", "preflight_denied",
}

var platformPrefixes = []string{"egress_", "rejected_", "dlq_", "denied_"}

func observabilityChecks() []Check {
	return []Check{{
		ID: "observability.metrics", Gate: GateObservability, Level: Bronze, Needs: []string{"correctness.ingest"}, Live: true,
		Title:  "Runs produce the required metrics",
		Proves: "The full syncs show up in sluice_runs_total (kind sync, result succeeded), sluice_records_total (created) and sluice_wasm_call_duration_seconds.",
		Fix:    "Metrics are the host's; a failure here is a host defect: report it with the evidence.",
		Run:    checkMetrics,
	}, {
		ID: "observability.correlation", Gate: GateObservability, Level: Silver, Needs: []string{"correctness.ingest"}, Live: true,
		Title:  "Correlation ids link API call, run and receipt",
		Proves: "A run started with a correlation id (as the API passes the request's) records it, its receipt carries it, and an action's remote change carries it as X-Correlation-Id.",
		Fix:    "Send X-Correlation-Id through the SDK (the host adds it); never replace it with your own id.",
		Run:    checkCorrelation,
	}, {
		ID: "observability.runbooks", Gate: GateObservability, Level: Silver, Needs: []string{"correctness.ingest"}, Final: true, Live: true,
		Title:  "A runbook exists for every error type",
		Proves: "Every error type the connector reported during the suite (runs, dead-letter items of every connection, including a webhook event about a type it does not declare) has a runbook: a platform one for the host's and the SDK's types, the connector's own (manifest runbooks) for the rest.",
		Fix:    "Ship a runbook per error type your connector reports and list it in connector.json runbooks (error_type, path).",
		Run:    checkRunbooks,
	}}
}

func checkMetrics(_ context.Context, env *Env) Verdict {
	mfs, err := env.Metrics.Gather()
	if err != nil {
		return fail(err.Error(), nil)
	}
	found := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "sluice_runs_total":
				if labels["kind"] == engine.KindSync && labels["result"] == engine.StateSucceeded {
					found["sluice_runs_total{kind=sync,result=succeeded}"] += value(m)
				}
			case "sluice_records_total":
				if labels["outcome"] == "created" {
					found["sluice_records_total{created}"] += value(m)
				}
			case "sluice_wasm_call_duration_seconds":
				found["sluice_wasm_call_duration_seconds_count"] += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	var missing []string
	for _, k := range []string{"sluice_runs_total{kind=sync,result=succeeded}", "sluice_records_total{created}", "sluice_wasm_call_duration_seconds_count"} {
		if found[k] <= 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fail("metrics not produced by the runs: "+strings.Join(missing, ", "), found)
	}
	return pass("runs, records and call durations are measured", found)
}

func value(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

func checkCorrelation(ctx context.Context, env *Env) Verdict {
	corr := "certify-corr-" + randomHex(8)
	c, err := env.Conn("certify-corr", nil)
	if err != nil {
		return fail(err.Error(), nil)
	}
	res, err := env.Sync(ctx, "correlation", c, engine.RunOptions{Full: true, CorrelationID: corr})
	if err != nil {
		return fail("sync: "+err.Error(), nil)
	}
	ev := map[string]any{"correlation_id": corr, "run": res.Run.ID}
	if res.Run.CorrelationID != corr {
		return fail("the run record does not carry the correlation id", ev)
	}
	v, err := receipt.Verify(res.Envelope, env.Keys)
	if err != nil {
		return fail(err.Error(), ev)
	}
	p, err := v.Ingest()
	if err != nil || p.CorrelationID != corr {
		return fail("the receipt does not carry the correlation id", ev)
	}
	ev["receipt"] = p.ReceiptID
	if act := firstSafeAction(env); act != "" {
		remote, err := env.NewSandbox(nil)
		if err != nil {
			return fail(err.Error(), ev)
		}
		ac, err := env.Conn("certify-corr-action", remote)
		if err != nil {
			return fail(err.Error(), ev)
		}
		params, err := sampleParams(ctx, env, act)
		if err != nil {
			return fail(err.Error(), ev)
		}
		ar, err := env.Engine.Execute(ctx, ac, engine.ActionRequest{Action: act, Params: params, CorrelationID: corr})
		if ar != nil {
			env.ObserveCall("correlation-action", ac.Tenant.ID(), ar.Tape, err)
		}
		if err != nil {
			return fail(fmt.Sprintf("action %s: %v", act, err), ev)
		}
		changes := remote.Server().Changes()
		if len(changes) == 0 || changes[len(changes)-1].CorrelationID != corr {
			ev["changes"] = changes
			return fail(fmt.Sprintf("the remote change of action %s does not carry the correlation id", act), ev)
		}
		ev["remote_change"] = changes[len(changes)-1].ID
	}
	return pass("the correlation id links the run, its receipt and the remote change", ev)
}

func checkRunbooks(ctx context.Context, env *Env) Verdict {
	seen := map[string]string{}
	for _, o := range env.Runs() {
		if o.Result != nil {
			for _, e := range o.Result.Run.Errors {
				seen[e.Type] = o.Name
			}
		}
	}
	for _, id := range env.TenantIDs() {
		t, err := env.Store.Tenant(id)
		if err != nil {
			return fail(err.Error(), nil)
		}
		items, _, err := t.DLQItems(ctx, "", "", 1000) // every connection: the webhook check's too
		if err != nil {
			return fail(err.Error(), nil)
		}
		for _, it := range items {
			seen[it.ErrorType] = "dead-letter item " + it.ID
		}
	}
	own := map[string]bool{}
	for _, rb := range env.Manifest.Runbooks {
		own[rb.ErrorType] = true
	}
	var missing []string
	for _, typ := range sortedKeys(seen) {
		if own[typ] || slices.Contains(platformErrorTypes, typ) || slices.ContainsFunc(platformPrefixes, func(p string) bool { return strings.HasPrefix(typ, p) }) {
			continue
		}
		missing = append(missing, fmt.Sprintf("%s (seen in %s)", typ, seen[typ]))
	}
	if len(missing) > 0 {
		return fail("error types without a runbook: "+strings.Join(missing, ", "), missing)
	}
	return pass(fmt.Sprintf("%d error types seen, each with a runbook", len(seen)), sortedKeys(seen))
}
