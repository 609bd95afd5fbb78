package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

func correctnessChecks() []Check {
	return []Check{{
		ID: "correctness.discover-stable", Gate: GateCorrectness, Level: Bronze, Needs: []string{"static.imports"},
		Title:  "discover is stable and matches the manifest",
		Proves: "Two discover() calls return identical output, and it declares exactly what connector.json declares (id, version, types, scopes, streams, object and edge types, actions, checks).",
		Fix:    "Answer discover() from the same data as connector.json (embed it), and never from the clock, randomness or the network.",
		Run:    checkDiscover,
	}, {
		ID: "correctness.ingest", Gate: GateCorrectness, Level: Bronze, Needs: []string{"static.imports"}, Live: true,
		Title:  "A full sync of the sample tenant completes",
		Proves: "Two tenants each run a full sync of the sample tenant to completion with a signed receipt.",
		Fix:    "Run `sluice sync --full` against the sample tenant and fix the error the receipt names (its type names a runbook).",
		Run:    checkIngest,
	}, {
		ID: "correctness.records-schema", Gate: GateCorrectness, Level: Bronze, Needs: []string{"correctness.ingest"}, Live: true,
		Title:  "Records match their declared types and JSON Schemas",
		Proves: "The host rejected no record of the full syncs: every object and edge is of a declared type of its stream, valid against its JSON Schema, with RFC 3339 timestamps.",
		Fix:    "Make the emitted data match the object type's schema in connector.json (or fix the schema); the evidence quotes the host's rejection.",
		Run:    checkRecordsSchema,
	}, {
		ID: "correctness.stable-ids", Gate: GateCorrectness, Level: Bronze, Needs: []string{"correctness.ingest"}, Live: true,
		Title:  "The same input maps to the same entity ids",
		Proves: "Two full syncs of one tenant and a full sync of a second tenant see the same objects under the same source ids, and each tenant's entity id is derived from (tenant, connector, type, source id).",
		Fix:    "Emit the remote's own stable id as the object id; never a random, time-based or position-based one.",
		Run:    checkStableIDs,
	}, {
		ID: "correctness.incremental", Gate: GateCorrectness, Level: Bronze, Needs: []string{"correctness.stable-ids"}, Live: true,
		Title:  "An incremental sync from a saved cursor returns nothing already seen",
		Proves: "After a full sync, an incremental sync of an unchanged remote emits no object the store already holds.",
		Fix:    "Return a cursor that encodes how far the sync got (for example the largest updated_at seen) and ask the remote only for what changed since.",
		Run:    checkIncremental,
	}, {
		ID: "correctness.future-cursor", Gate: GateCorrectness, Level: Bronze, Needs: []string{"correctness.stable-ids"}, Live: true,
		Title:  "A cursor from the future returns nothing and does not fail",
		Proves: "A cursor saved against a remote whose clock is a year ahead, used against the present remote, completes with nothing created or changed.",
		Fix:    "Treat a cursor later than anything the remote holds as \"nothing new\": never fail, never restart from scratch.",
		Run:    checkFutureCursor,
	}}
}

func checkDiscover(ctx context.Context, env *Env) Verdict {
	a, err := env.Engine.Discover(ctx, env.Module)
	if err != nil {
		return fail("discover: "+err.Error(), nil)
	}
	b, err := env.Engine.Discover(ctx, env.Module)
	if err != nil {
		return fail("second discover: "+err.Error(), nil)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		return fail("two discover() calls differ", map[string]string{"first": string(ja), "second": string(jb)})
	}
	m := env.Manifest
	var diffs []string
	cmp := func(field string, manifest, discovered any) {
		if !sameJSON(manifest, discovered) {
			diffs = append(diffs, field)
		}
	}
	cmp("id", m.ID, a.ID)
	cmp("version", m.Version, a.Version)
	cmp("types", sortedCopy(m.Types), sortedCopy(a.Types))
	cmp("scopes", m.Scopes, a.Scopes)
	cmp("streams", m.Streams, a.Streams)
	cmp("object_types", m.ObjectTypes, a.ObjectTypes)
	cmp("edge_types", m.EdgeTypes, a.EdgeTypes)
	cmp("actions", m.Actions, a.Actions)
	cmp("checks", m.Checks, a.Checks)
	if len(diffs) > 0 {
		return fail("discover() disagrees with connector.json on "+strings.Join(diffs, ", "), diffs)
	}
	return pass("two identical discover() calls, agreeing with connector.json", map[string]int{"bytes": len(ja)})
}

// sameJSON compares two values by their JSON, ignoring object key order.
func sameJSON(a, b any) bool {
	var x, y any
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil || json.Unmarshal(ja, &x) != nil || json.Unmarshal(jb, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func checkIngest(ctx context.Context, env *Env) Verdict {
	b := env.Baseline(ctx)
	ev := map[string]any{}
	for _, r := range []BaselineRun{b.A, b.B} {
		if r.Result != nil {
			ev[r.Tenant.ID()] = r.Result.Run.Counts
		}
		if r.Err == nil {
			continue
		}
		switch {
		case limitError(r.Err):
			return skip("the full sync was stopped at a sandbox limit (reported by security.sandbox-limits): "+r.Err.Error(), ev)
		case egressDenied(r.Result):
			return skip("the full sync was refused a request (reported by security.egress): "+r.Err.Error(), ev)
		}
		return fail("full sync: "+r.Err.Error(), ev)
	}
	if b.A.Result.Run.Counts.Created == 0 {
		return fail("the full sync stored nothing: the sample tenant must hold data", ev)
	}
	return pass(fmt.Sprintf("two tenants synced %d objects each", b.A.Result.Run.Counts.Created), ev)
}

// egressDenied reports whether a run's tape shows a request the host
// refused by policy.
func egressDenied(res *engine.Result) bool {
	return res != nil && len(deniedExchanges(res)) > 0
}

func checkRecordsSchema(ctx context.Context, env *Env) Verdict {
	b := env.Baseline(ctx)
	var rejected []store.RunError
	for _, r := range []BaselineRun{b.A, b.B} {
		for _, e := range r.Result.Run.Errors {
			if strings.HasPrefix(e.Type, "rejected_") {
				rejected = append(rejected, e)
			}
		}
	}
	if len(rejected) > 0 {
		n := int64(0)
		for _, e := range rejected {
			n += e.Count
		}
		return fail(fmt.Sprintf("the host rejected %d records, first: %s", n, rejected[0].Message), rejected)
	}
	return pass(fmt.Sprintf("%d records accepted, none rejected", b.A.Result.Run.Counts.Read), nil)
}

// Rerun is a fresh tenant synced in full twice; the object sets are
// taken after each run.
type Rerun struct {
	Tenant        *store.Tenant
	Conn          engine.Connection
	First, Second *engine.Result
	After1        map[string]string // source key → entity id
	After2        map[string]string
	Err           error
}

// Rerun runs (once) the rerun fixture.
func (e *Env) Rerun(ctx context.Context) *Rerun {
	e.rerunOnce.Do(func() {
		r := &Rerun{}
		e.rerun = r
		c, err := e.Conn("certify-rerun", nil)
		if err != nil {
			r.Err = err
			return
		}
		r.Tenant, r.Conn = c.Tenant, c
		if r.First, r.Err = e.Sync(ctx, "rerun-1", c, engine.RunOptions{Full: true}); r.Err != nil {
			return
		}
		objs, err := allObjects(ctx, c.Tenant)
		if err != nil {
			r.Err = err
			return
		}
		r.After1 = sourceSet(objs)
		if r.Second, r.Err = e.Sync(ctx, "rerun-2", c, engine.RunOptions{Full: true}); r.Err != nil {
			return
		}
		objs, r.Err = allObjects(ctx, c.Tenant)
		r.After2 = sourceSet(objs)
	})
	return e.rerun
}

func checkStableIDs(ctx context.Context, env *Env) Verdict {
	b := env.Baseline(ctx)
	objsA, err := allObjects(ctx, b.A.Tenant)
	if err != nil {
		return fail(err.Error(), nil)
	}
	objsB, err := allObjects(ctx, b.B.Tenant)
	if err != nil {
		return fail(err.Error(), nil)
	}
	rr := env.Rerun(ctx)
	if rr.Err != nil {
		return fail("rerun: "+rr.Err.Error(), nil)
	}
	setA, setB := sourceSet(objsA), sourceSet(objsB)
	type pair struct {
		name string
		x, y map[string]string
	}
	for _, p := range []pair{
		{"tenant " + TenantA + " vs tenant " + TenantB, setA, setB},
		{"tenant " + TenantA + " vs a fresh tenant", setA, rr.After1},
		{"first vs second full sync of one tenant", rr.After1, rr.After2},
	} {
		if missing := diffKeys(p.x, p.y, 5); len(missing) > 0 {
			return fail(fmt.Sprintf("%s: %d vs %d objects; ids of the first missing from the second: %v", p.name, len(p.x), len(p.y), missing),
				map[string]any{"compared": p.name, "missing": missing, "extra": diffKeys(p.y, p.x, 5)})
		}
		if missing := diffKeys(p.y, p.x, 5); len(missing) > 0 {
			return fail(fmt.Sprintf("%s: ids of the second missing from the first: %v", p.name, missing), missing)
		}
	}
	for id, objs := range map[string][]store.Object{TenantA: objsA, TenantB: objsB} {
		for _, o := range objs {
			if want := store.EntityID(id, o.Connector, o.Type, o.SourceID); o.EntityID != want {
				return failf("tenant %s: %s has entity id %s, want %s", id, sourceKey(o), o.EntityID, want)
			}
		}
	}
	return pass(fmt.Sprintf("%d objects with the same source ids in two runs and two tenants", len(setA)),
		map[string]int{"objects": len(setA)})
}

func checkIncremental(ctx context.Context, env *Env) Verdict {
	rr := env.Rerun(ctx)
	if rr.Err != nil {
		return fail("rerun: "+rr.Err.Error(), nil)
	}
	res, err := env.Sync(ctx, "incremental", rr.Conn, engine.RunOptions{})
	if err != nil {
		return fail("incremental sync: "+err.Error(), nil)
	}
	c := res.Run.Counts
	ev := map[string]any{"counts": c, "cursors_in": res.Run.CursorsIn, "cursors_out": res.Run.Cursors}
	if seen := c.Created + c.Updated + c.Skipped; seen > 0 {
		return fail(fmt.Sprintf("an incremental sync of an unchanged remote emitted %d objects the store already held (created %d, updated %d, unchanged %d)", seen, c.Created, c.Updated, c.Skipped), ev)
	}
	return pass("the incremental sync emitted no object already stored", ev)
}

func checkFutureCursor(ctx context.Context, env *Env) Verdict {
	present, err := env.NewSandbox(nil)
	if err != nil {
		return fail(err.Error(), nil)
	}
	ahead := time.Now().AddDate(1, 0, 0)
	future, err := env.NewSandbox(func(c *sandbox.Config) { c.Clock = func() time.Time { return ahead } })
	if err != nil {
		return fail(err.Error(), nil)
	}
	c, err := env.Conn("certify-future", present)
	if err != nil {
		return fail(err.Error(), nil)
	}
	if _, err := env.Sync(ctx, "future-full", c, engine.RunOptions{Full: true}); err != nil {
		return fail("full sync: "+err.Error(), nil)
	}
	// A change stamped a year ahead moves the saved cursor into the future.
	if _, err := future.Server().UpdateUser("u-0000001", map[string]any{"title": "From the future"}); err != nil {
		return fail("sandbox: "+err.Error(), nil)
	}
	if _, err := future.Server().UpdateTicket("t-000001", map[string]any{"status": "pending"}); err != nil {
		return fail("sandbox: "+err.Error(), nil)
	}
	// Same tenant and connection, so the same checkpoint; fresh
	// credentials, since each remote issues its own tokens.
	if c, err = env.Conn("certify-future", future); err != nil {
		return fail(err.Error(), nil)
	}
	if _, err := env.Sync(ctx, "future-ahead", c, engine.RunOptions{}); err != nil {
		return fail("incremental sync against the remote a year ahead: "+err.Error(), nil)
	}
	if c, err = env.Conn("certify-future", present); err != nil {
		return fail(err.Error(), nil)
	}
	res, err := env.Sync(ctx, "future-cursor", c, engine.RunOptions{})
	ev := map[string]any{}
	if res != nil {
		ev["cursors_in"], ev["counts"] = res.Run.CursorsIn, res.Run.Counts
	}
	if err != nil {
		return fail("a sync from a cursor ahead of the remote failed: "+err.Error(), ev)
	}
	if n := res.Run.Counts.Created + res.Run.Counts.Updated; n > 0 {
		return fail(fmt.Sprintf("a sync from a cursor ahead of the remote created or changed %d objects", n), ev)
	}
	return pass("a cursor from a year ahead returned nothing and the run succeeded", ev)
}

func replayCheck() Check {
	return Check{
		ID: "correctness.replay", Gate: GateCorrectness, Level: Bronze, Needs: []string{"static.imports"},
		Title:  "Recorded runs replay identically",
		Proves: "Replaying a recorded run offline (the full sync's tape live, every tape of the set in tape mode) gives the same requests, emits, logs, outputs and errors: the module takes time and randomness only from the host.",
		Fix:    "Read the clock and random numbers only through WASI (the host virtualises and records them); never depend on map order or goroutine timing.",
		Run:    checkReplay,
	}
}

func checkReplay(ctx context.Context, env *Env) Verdict {
	var tapes []*tape.Tape
	if env.Mode == "tape" {
		tapes = env.Tapes
	} else {
		b := env.Baseline(ctx)
		if b.A.Err != nil || b.A.Result == nil || b.A.Result.Tape == nil {
			return skip("the full sync did not complete (see correctness.ingest): no tape to replay", nil)
		}
		tapes = []*tape.Tape{b.A.Result.Tape}
	}
	calls := 0
	for _, tp := range tapes {
		rep, err := env.Engine.Replay(ctx, env.Module, tp)
		if err != nil {
			return fail(fmt.Sprintf("replay of run %s: %v", tp.RunID, err), nil)
		}
		if !rep.Identical() {
			return fail(fmt.Sprintf("the replay of run %s differs in %d places", tp.RunID, len(rep.Differences)), rep.Differences[:min(len(rep.Differences), 10)])
		}
		calls += len(rep.Calls)
	}
	return pass(fmt.Sprintf("%d tapes (%d calls) replayed identically", len(tapes), calls), nil)
}
