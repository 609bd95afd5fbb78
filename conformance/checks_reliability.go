package conformance

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

// The 429 storm: one more 429 than the host's five attempts per request
// absorb, so the module is answered rate_limited once.
const (
	stormSize     = 6
	stormMaxRuns  = 3
	chaosMaxRuns  = 5
	chaosErrRate  = 0.1
	chaosSlowRate = 0.1
	chaosCutRate  = 0.05
)

func reliabilityChecks() []Check {
	return []Check{{
		ID: "reliability.resync-idempotent", Gate: GateReliability, Level: Bronze, Needs: []string{"correctness.stable-ids"}, Live: true,
		Title:  "A sync re-run creates nothing",
		Proves: "A second full sync of an unchanged remote creates, changes and deletes nothing.",
		Fix:    "Emit the same data for the same record every time: no fetch timestamps, random values or unstable field order inside data.",
		Run:    checkResync,
	}, {
		ID: "reliability.rate-limit", Gate: GateReliability, Level: Bronze, Needs: []string{"correctness.ingest"}, Live: true,
		Title:  "A 429 storm with Retry-After completes without hot-looping",
		Proves: fmt.Sprintf("Against a remote that answers %d consecutive 429s with Retry-After, the sync completes within %d runs, the remote never sees more than the declared rate (+ burst) in any second, and the module never re-sends a request the host answered rate_limited (the host already waited and retried; the run is retried later).", stormSize, stormMaxRuns),
		Fix:    "When the host answers rate_limited (or a 5xx after its retries), return the error: never retry in a loop inside the call. Declare the remote's real rate limit in rate_limit.",
		Run:    checkRateLimit,
	}, {
		ID: "reliability.backfill-range", Gate: GateReliability, Level: Bronze, Needs: []string{"correctness.records-schema", "correctness.stable-ids"}, Live: true,
		Title:  "Backfill stays in its range and reaches the throughput floor",
		Proves: "A backfill over the middle half of the sample data stores every object created in the range and emits none outside it (the host rejects those), at no less than the manifest's throughput.backfill_records_per_second.",
		Fix:    "Pass the range to the remote (created_from/created_to or equivalent) and filter on created_at before emitting; page efficiently.",
		Run:    checkBackfill,
	}, {
		ID: "reliability.chaos", Gate: GateReliability, Level: Gold, Needs: []string{"correctness.stable-ids"}, Live: true,
		Title:  "Chaos ends with nothing lost or duplicated",
		Proves: fmt.Sprintf("With %.0f%% 5xx answers, %.0f%% slow answers and %.0f%% truncated bodies injected, syncs resumed from their checkpoints (at most %d runs, then the dead-letter queue replayed) end with exactly the objects of a calm full sync, each once.", chaosErrRate*100, chaosSlowRate*100, chaosCutRate*100, chaosMaxRuns),
		Fix:    "Return errors instead of partial pages, keep cursors monotonic and idempotent, and never emit a page twice under different ids.",
		Run:    checkChaos,
	}, {
		ID: "reliability.webhook-dedup", Gate: GateReliability, Level: Silver, Needs: []string{"correctness.ingest"}, Live: true,
		Title:  "A webhook redelivered three times is processed once",
		Proves: "The sample tenant's own signed event, handed to the webhook export three times, is committed once: the connector returns the event's id and the host skips the repeats.",
		Fix:    "Return the remote's event id in event_ids from the webhook export, and emit the same object for the same event.",
		Run:    checkWebhook,
	}, {
		ID: "reliability.dlq-replay", Gate: GateReliability, Level: Silver, Needs: []string{"reliability.rate-limit"}, Live: true,
		Title:  "Dead-letter items replay deterministically",
		Proves: "A page that failed after the host's retries becomes a dead-letter item whose tape replays offline twice with identical results, and which replays live once the remote recovers.",
		Fix:    "Take time and randomness only from the host (they are recorded), and let a failing page fail instead of emitting part of it.",
		Run:    checkDLQReplay,
	}}
}

func checkResync(ctx context.Context, env *Env) Verdict {
	rr := env.Rerun(ctx)
	if rr.Err != nil {
		return fail("rerun: "+rr.Err.Error(), nil)
	}
	c := rr.Second.Run.Counts
	if c.Created+c.Updated+c.Deleted > 0 {
		return fail(fmt.Sprintf("a second full sync created %d, changed %d and deleted %d objects", c.Created, c.Updated, c.Deleted), c)
	}
	return pass(fmt.Sprintf("a second full sync found %d objects unchanged", c.Skipped), c)
}

// untilDone syncs incrementally (resuming from checkpoints) until a run
// succeeds or maxRuns ran.
func untilDone(ctx context.Context, env *Env, name string, c engine.Connection, maxRuns int) ([]*engine.Result, error) {
	var out []*engine.Result
	var err error
	for i := 0; i < maxRuns; i++ {
		var res *engine.Result
		res, err = env.Sync(ctx, fmt.Sprintf("%s-%d", name, i+1), c, engine.RunOptions{})
		if res != nil {
			out = append(out, res)
		}
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	return out, err
}

func checkRateLimit(ctx context.Context, env *Env) Verdict {
	m := env.Manifest
	rps, burst := m.RateLimit.RequestsPerSecond, m.RateLimit.Burst
	if rps <= 0 {
		rps, burst = hostfns.DefaultRequestsPerSecond, hostfns.DefaultBurst
	}
	remote, err := env.NewSandbox(nil)
	if err != nil {
		return fail(err.Error(), nil)
	}
	if err := remote.SetFaults(ctx, sandbox.Faults{RateLimitStorm: stormSize, RetryAfter: time.Second}); err != nil {
		return fail(err.Error(), nil)
	}
	c, err := env.Conn("certify-storm", remote)
	if err != nil {
		return fail(err.Error(), nil)
	}
	results, runErr := untilDone(ctx, env, "storm", c, stormMaxRuns)
	st, err := remote.Stats(ctx)
	if err != nil {
		return fail(err.Error(), nil)
	}
	repeats := hotLoops(results)
	ev := map[string]any{"runs": len(results), "too_many_requests": st.TooManyRequests,
		"max_requests_per_second": st.MaxRequestsPerSecond, "declared_rps": rps, "declared_burst": burst}
	switch {
	case len(repeats) > 0:
		// A hot loop may end at the call deadline: this check reports it.
		var names []string
		for i := range results {
			names = append(names, fmt.Sprintf("storm-%d", i+1))
		}
		env.Attribute("reliability.rate-limit", names...)
		ev["repeated_after_rate_limited"] = repeats[:min(len(repeats), 10)]
		return fail(fmt.Sprintf("the module re-sent %d requests the host had answered rate_limited, first: %s", len(repeats), repeats[0]), ev)
	case runErr != nil:
		return fail(fmt.Sprintf("the sync did not complete within %d runs: %v", stormMaxRuns, runErr), ev)
	case float64(st.MaxRequestsPerSecond) > rps+float64(burst):
		return fail(fmt.Sprintf("the remote saw %d requests in one second; the declared limit is %g (+%d burst)", st.MaxRequestsPerSecond, rps, burst), ev)
	case st.TooManyRequests < stormSize:
		return fail(fmt.Sprintf("the storm was not consumed: %d of %d 429s sent", st.TooManyRequests, stormSize), ev)
	}
	return pass(fmt.Sprintf("completed in %d runs through %d 429s, at most %d requests per second", len(results), st.TooManyRequests, st.MaxRequestsPerSecond), ev)
}

// hotLoops lists requests a module sent again, in the same call, right
// after the host answered that request rate_limited or with a 5xx.
func hotLoops(results []*engine.Result) []string {
	var out []string
	for _, res := range results {
		if res.Tape == nil {
			continue
		}
		for _, c := range res.Tape.Calls {
			for i := 1; i < len(c.Exchanges); i++ {
				prev, cur := c.Exchanges[i-1], c.Exchanges[i]
				failed := prev.Response.ErrorType == hostfns.ErrorTypeRateLimited || prev.Response.Status == http.StatusTooManyRequests || prev.Response.Status >= 500
				if failed && prev.Request.Method == cur.Request.Method && prev.Request.URL == cur.Request.URL {
					out = append(out, cur.Request.Method+" "+cur.Request.URL)
				}
			}
		}
	}
	return out
}

func checkBackfill(ctx context.Context, env *Env) Verdict {
	m := env.Manifest
	var types []string
	for _, s := range m.Streams {
		if s.Backfill {
			types = append(types, s.ObjectTypes...)
		}
	}
	if len(types) == 0 {
		return pass("no stream declares backfill: nothing to check", nil)
	}
	b := env.Baseline(ctx)
	objs, err := allObjects(ctx, b.A.Tenant)
	if err != nil {
		return fail(err.Error(), nil)
	}
	var created []string
	for _, o := range objs {
		if slices.Contains(types, o.Type) && o.CreatedAt != "" {
			created = append(created, o.CreatedAt)
		}
	}
	if len(created) < 4 {
		return fail("the sample tenant has too few objects with created_at to pick a backfill range", len(created))
	}
	sort.Strings(created) // RFC 3339 UTC strings sort in time order
	from, to := created[len(created)/4], created[len(created)*3/4]
	want := map[string]bool{}
	for _, o := range objs {
		if slices.Contains(types, o.Type) && inRange(o.CreatedAt, from, to) {
			want[sourceKey(o)] = true
		}
	}
	c, err := env.Conn("certify-backfill", nil)
	if err != nil {
		return fail(err.Error(), nil)
	}
	rng := protocol.Range{From: from, To: to}
	res, err := env.Backfill(ctx, "backfill", c, rng, engine.RunOptions{})
	ev := map[string]any{"range": rng}
	if res != nil {
		ev["counts"] = res.Run.Counts
	}
	if err != nil {
		return fail("backfill: "+err.Error(), ev)
	}
	for _, e := range res.Run.Errors {
		if strings.HasPrefix(e.Type, "rejected_") {
			ev["errors"] = res.Run.Errors
			return fail(fmt.Sprintf("the host rejected %d records of the backfill, first: %s", res.Run.Counts.Errors, e.Message), ev)
		}
	}
	got, err := allObjects(ctx, c.Tenant)
	if err != nil {
		return fail(err.Error(), ev)
	}
	gotSet := map[string]bool{}
	for _, o := range got {
		if !inRange(o.CreatedAt, from, to) {
			return fail(fmt.Sprintf("%s was created at %s, outside the range", sourceKey(o), o.CreatedAt), ev)
		}
		gotSet[sourceKey(o)] = true
	}
	if missing := diffKeys(want, gotSet, 5); len(missing) > 0 {
		return fail(fmt.Sprintf("the backfill missed %d objects created in the range, e.g. %v", len(want)-len(gotSet), missing), ev)
	}
	secs := res.Run.FinishedAt.Sub(res.Run.StartedAt).Seconds()
	rate := float64(len(got)) / max(secs, 1e-3)
	ev["records_per_second"] = int(rate)
	if m.Throughput != nil && m.Throughput.BackfillRecordsPerSecond > 0 {
		ev["floor"] = m.Throughput.BackfillRecordsPerSecond
		if rate < m.Throughput.BackfillRecordsPerSecond {
			return fail(fmt.Sprintf("backfill ran at %.0f records/s, under the declared floor of %g", rate, m.Throughput.BackfillRecordsPerSecond), ev)
		}
	}
	return pass(fmt.Sprintf("%d objects, all in range, none missed, %.0f records/s", len(got), rate), ev)
}

func inRange(created, from, to string) bool {
	t, err := time.Parse(time.RFC3339Nano, created)
	f, err1 := time.Parse(time.RFC3339Nano, from)
	u, err2 := time.Parse(time.RFC3339Nano, to)
	return err == nil && err1 == nil && err2 == nil && !t.Before(f) && t.Before(u)
}

func checkChaos(ctx context.Context, env *Env) Verdict {
	b := env.Baseline(ctx)
	calm, err := allObjects(ctx, b.A.Tenant)
	if err != nil {
		return fail(err.Error(), nil)
	}
	remote, err := env.NewSandbox(nil)
	if err != nil {
		return fail(err.Error(), nil)
	}
	f := sandbox.Faults{ErrorRate: chaosErrRate, LatencyRate: chaosSlowRate, Latency: 200 * time.Millisecond, TruncateRate: chaosCutRate}
	if err := remote.SetFaults(ctx, f); err != nil {
		return fail(err.Error(), nil)
	}
	c, err := env.Conn("certify-chaos", remote)
	if err != nil {
		return fail(err.Error(), nil)
	}
	results, runErr := untilDone(ctx, env, "chaos", c, chaosMaxRuns)
	st, _ := remote.Stats(ctx)
	ev := map[string]any{"runs": len(results), "faults_injected": st.Faults}
	// What still failed is in the dead-letter queue: replay it live
	// against the recovered remote.
	if err := remote.SetFaults(ctx, sandbox.Faults{}); err != nil {
		return fail(err.Error(), ev)
	}
	items, _, err := c.Tenant.DLQItems(ctx, ConnID, "", 1000)
	if err != nil {
		return fail(err.Error(), ev)
	}
	ev["dlq_items"] = len(items)
	for _, it := range items {
		if _, err := env.Engine.ReplayPage(ctx, c, it); err != nil {
			return fail(fmt.Sprintf("dead-letter item %s did not replay against the recovered remote: %v", it.ID, err), ev)
		}
	}
	if runErr != nil && len(items) == 0 {
		return fail(fmt.Sprintf("the sync failed %d times and left nothing in the dead-letter queue: %v", len(results), runErr), ev)
	}
	got, err := allObjects(ctx, c.Tenant)
	if err != nil {
		return fail(err.Error(), ev)
	}
	calmSet, gotSet := sourceSet(calm), sourceSet(got)
	if len(got) != len(gotSet) {
		return fail("an object was stored twice", ev)
	}
	if missing := diffKeys(calmSet, gotSet, 5); len(missing) > 0 {
		return fail(fmt.Sprintf("lost %d objects under chaos, e.g. %v", len(calmSet)-len(gotSet), missing), ev)
	}
	if extra := diffKeys(gotSet, calmSet, 5); len(extra) > 0 {
		return fail(fmt.Sprintf("chaos produced objects a calm sync does not, e.g. %v", extra), ev)
	}
	return pass(fmt.Sprintf("%d objects, none lost or duplicated, through %d injected faults", len(got), st.FaultsInjected), ev)
}

// capturedHook is one webhook delivery as the sandbox sent it.
type capturedHook struct {
	headers map[string]string
	body    []byte
}

func checkWebhook(ctx context.Context, env *Env) Verdict {
	if !slices.Contains(env.Manifest.Types, "ingest_push") {
		return pass("the connector declares no ingest_push: nothing to check", nil)
	}
	remote, err := env.NewSandbox(nil)
	if err != nil {
		return fail(err.Error(), nil)
	}
	c, err := env.Conn("certify-webhook", remote)
	if err != nil {
		return fail(err.Error(), nil)
	}
	if _, err := env.Sync(ctx, "webhook-full", c, engine.RunOptions{Full: true}); err != nil {
		return fail("full sync: "+err.Error(), nil)
	}
	got := make(chan capturedHook, 16)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err.Error(), nil)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		h := map[string]string{}
		for k := range r.Header {
			h[strings.ToLower(k)] = r.Header.Get(k)
		}
		select {
		case got <- capturedHook{headers: h, body: body}:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	if err := remote.Server().Subscribe("http://"+ln.Addr().String()+"/hook", "", sandbox.Delivery{}); err != nil {
		return fail("sandbox subscribe: "+err.Error(), nil)
	}
	if _, err := remote.Server().UpdateUser("u-0000001", map[string]any{"title": "Webhook check"}); err != nil {
		return fail("sandbox: "+err.Error(), nil)
	}
	// The sandbox serves a directory and a help desk: change a record of
	// each and hand the connector the event about a type it declares.
	if _, err := remote.Server().UpdateTicket("t-000001", map[string]any{"priority": "urgent"}); err != nil {
		return fail("sandbox: "+err.Error(), nil)
	}
	hook, foreign, err := sampleHooks(ctx, got, 2, env.Manifest)
	if err != nil {
		return fail(err.Error(), nil)
	}
	var results []map[string]any
	processed := 0
	for i := 0; i < 3; i++ {
		id, _ := uuid.NewV7()
		res, err := env.Engine.Webhook(ctx, c, engine.WebhookEvent{ID: id.String(), Headers: hook.headers, Body: hook.body, ReceivedAt: time.Now()})
		if err != nil {
			return fail(fmt.Sprintf("delivery %d: %v", i+1, err), results)
		}
		results = append(results, map[string]any{"event_ids": res.EventIDs, "duplicate": res.Duplicate, "counts": res.Run.Counts})
		if !res.Duplicate {
			processed++
			env.Observe(fmt.Sprintf("webhook-%d", i+1), c.Tenant.ID(), &engine.Result{Run: res.Run, Envelope: res.Envelope}, nil)
		}
	}
	if processed != 1 {
		return fail(fmt.Sprintf("the same event delivered three times was processed %d times", processed), results)
	}
	// The remote also sends events about types the connector does not
	// ingest. Ignoring one is fine; failing on it is too, if the error is
	// typed: its dead-letter item must then name a runbook, which
	// observability.runbooks checks. Either way nothing may be stored.
	for i, h := range foreign[:min(len(foreign), 1)] {
		id, _ := uuid.NewV7()
		res, err := env.Engine.Webhook(ctx, c, engine.WebhookEvent{ID: id.String(), Headers: h.headers, Body: h.body, ReceivedAt: time.Now()})
		outcome := map[string]any{"foreign_event": i + 1}
		if err != nil {
			outcome["error"] = err.Error()
		} else {
			outcome["counts"] = res.Run.Counts
			if res.Run.Counts.Created+res.Run.Counts.Updated > 0 {
				return fail("an event about a type the connector does not declare stored objects", append(results, outcome))
			}
		}
		results = append(results, outcome)
	}
	return pass("three deliveries of one event, processed once", results)
}

func checkDLQReplay(ctx context.Context, env *Env) Verdict {
	remote, err := env.NewSandbox(nil)
	if err != nil {
		return fail(err.Error(), nil)
	}
	// Far more failures than the host's five attempts per request: the
	// first page fails, whatever else the module asks first.
	if err := remote.SetFaults(ctx, sandbox.Faults{FailNext: 20, FailStatus: http.StatusServiceUnavailable}); err != nil {
		return fail(err.Error(), nil)
	}
	c, err := env.Conn("certify-dlq", remote)
	if err != nil {
		return fail(err.Error(), nil)
	}
	res, err := env.Sync(ctx, "dlq", c, engine.RunOptions{})
	if err == nil {
		return fail("a page whose requests were all answered 503 did not fail", nil)
	}
	if res == nil || res.DLQItem == "" {
		return fail("the failing page left no dead-letter item: "+err.Error(), nil)
	}
	ev := map[string]any{"item": res.DLQItem}
	tb, err := c.Tenant.DLQTape(ctx, res.DLQItem)
	if err != nil {
		return fail("dead-letter tape: "+err.Error(), ev)
	}
	tp, err := tape.Parse(tb)
	if err != nil {
		return fail("dead-letter tape: "+err.Error(), ev)
	}
	var digests []string
	for i := 0; i < 2; i++ {
		rep, err := env.Engine.Replay(ctx, env.Module, tp)
		if err != nil {
			return fail("replay: "+err.Error(), ev)
		}
		if !rep.Identical() {
			ev["diff"] = rep.Diff()
			return fail(fmt.Sprintf("replay %d of the dead-letter tape differs from the recording", i+1), ev)
		}
		digests = append(digests, rep.Digest())
	}
	ev["replay_digests"] = digests
	if digests[0] != digests[1] {
		return fail("two replays of one tape differ", ev)
	}
	if err := remote.SetFaults(ctx, sandbox.Faults{}); err != nil {
		return fail(err.Error(), ev)
	}
	item, err := c.Tenant.DLQItem(ctx, res.DLQItem)
	if err != nil {
		return fail(err.Error(), ev)
	}
	live, err := env.Engine.ReplayPage(ctx, c, item)
	if err != nil {
		return fail("live replay against the recovered remote: "+err.Error(), ev)
	}
	ev["live_counts"] = live.Run.Counts
	env.Observe("dlq-live-replay", c.Tenant.ID(), &engine.Result{Run: live.Run, Envelope: live.Envelope}, nil)
	if live.Run.Counts.Created == 0 {
		return fail("the live replay stored nothing", ev)
	}
	return pass("the dead-letter tape replayed identically twice and the page replayed live", ev)
}

var _ = store.ErrNotFound
