package conformance_test

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/conformance"
)

// defects maps each module of the defect corpus to the one check that
// must fail because of its defect.
var defects = map[string]string{
	"secret-log":         "security.secrets",
	"undeclared-host":    "security.egress",
	"random-id":          "correctness.stable-ids",
	"ignore-retry-after": "reliability.rate-limit",
	"out-of-range":       "reliability.backfill-range",
	"endless-loop":       "security.sandbox-limits",
	"memory-bomb":        "security.sandbox-limits",
	"stack-bomb":         "security.sandbox-limits",
	"huge-output":        "security.sandbox-limits",
	"forbidden-import":   "static.imports",
	"schema-break":       "correctness.records-schema",
	"verify-post":        "security.verify-read-only",
	"webhook-twice":      "reliability.webhook-dedup",
}

// baseFailures are the checks the defect corpus's base connector
// (conformance/testdata/internal/defectbase) fails by design: it declares
// the directory manifest's actions and checks but implements neither,
// and every sync is a snapshot (no incremental cursor). Its webhook
// export is correct, so reliability.webhook-dedup is webhook-twice's own.
// Each defect adds exactly its own check to these.
var baseFailures = []string{
	"correctness.incremental",   // snapshot-only: an incremental sync re-emits everything
	"security.scopes-used",      // the write and compliance scopes are never exercised
	"security.action-approval",  // no execute export
	"correctness.verify-checks", // no verify export
	"observability.correlation", // its action cannot run
	"observability.runbooks",    // "unsupported" has no runbook
}

// suite runs the whole suite once per module, all modules at once, and
// shares the reports among the tests of this file.
var suite struct {
	once    sync.Once
	reports map[string]*conformance.Report
	errs    map[string]error
}

func reports(t *testing.T) map[string]*conformance.Report {
	t.Helper()
	if testing.Short() {
		t.Skip("the whole suite over every module takes a minute")
	}
	suite.once.Do(func() {
		names := []string{"directory"}
		for d := range defects {
			names = append(names, d)
		}
		targets := map[string]conformance.Target{}
		for _, n := range names {
			targets[n] = target(t, n)
		}
		suite.reports, suite.errs = map[string]*conformance.Report{}, map[string]error{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		// A few suites at a time: each already runs its checks in
		// parallel, and two cores are all there is.
		sem := make(chan struct{}, 6)
		for _, n := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				rep, err := conformance.Certify(t.Context(), targets[n], testOptions(t, n)...)
				mu.Lock()
				suite.reports[n], suite.errs[n] = rep, err
				mu.Unlock()
			}()
		}
		wg.Wait()
	})
	if suite.reports == nil {
		t.Fatal("the suite did not run (see the first test that started it)")
	}
	for n, err := range suite.errs {
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	return suite.reports
}

func failedIDs(rep *conformance.Report) []string {
	var out []string
	for _, r := range rep.Results {
		if r.Status == conformance.Fail {
			out = append(out, r.ID)
		}
	}
	return out
}

// The directory example passes every check this host implements and,
// with privacy.retention real, reaches and passes its Gold claim; a check
// skipped as not yet implemented would (correctly) keep it from Gold.
func TestDirectoryPassesEveryImplementedCheck(t *testing.T) {
	t.Parallel()
	rep := reports(t)["directory"]
	for _, r := range rep.Results {
		switch {
		case r.Status == conformance.Pass:
		case r.Status == conformance.Skip && strings.HasPrefix(r.Reason, conformance.ReasonNotImplemented):
			t.Logf("%s skipped: %s", r.ID, r.Reason)
		default:
			t.Errorf("%s: %s: %s\nevidence: %s", r.ID, r.Status, r.Reason, r.Evidence)
		}
	}
	if rep.Reached != conformance.Gold {
		t.Errorf("reached %s, want gold", rep.Reached)
	}
	if rep.Claimed != conformance.Gold || rep.Requested != conformance.Gold || !rep.Passed {
		t.Errorf("claimed %s requested %s passed %v: want a passing Gold claim", rep.Claimed, rep.Requested, rep.Passed)
	}
}

// The runbooks check is not vacuous for the directory: the webhook check
// hands it an event about a type it does not ingest (the sandbox's help
// desk), the connector fails it typed, and the check sees that type and
// finds the connector's own runbook for it.
func TestRunbooksCheckSeesConnectorErrorTypes(t *testing.T) {
	t.Parallel()
	for _, r := range reports(t)["directory"].Results {
		if r.ID != "observability.runbooks" {
			continue
		}
		ev, err := json.Marshal(r.Evidence)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != conformance.Pass || !strings.Contains(string(ev), `"unsupported_event"`) {
			t.Fatalf("observability.runbooks %s: %s, evidence %s: want unsupported_event seen and covered", r.Status, r.Reason, ev)
		}
		return
	}
	t.Fatal("no observability.runbooks result")
}

// Each defect fails exactly its own check, on top of the base
// connector's failures, and never passes its claimed level.
func TestEachDefectFailsExactlyItsCheck(t *testing.T) {
	t.Parallel()
	all := reports(t)
	for name, want := range defects {
		t.Run(name, func(t *testing.T) {
			rep := all[name]
			failed := failedIDs(rep)
			if !slices.Contains(failed, want) {
				r, _ := rep.Result(want)
				t.Fatalf("%s did not fail %s (status %s: %s); failed: %v", name, want, r.Status, r.Reason, failed)
			}
			for _, id := range failed {
				if id != want && !slices.Contains(baseFailures, id) {
					r, _ := rep.Result(id)
					t.Errorf("%s also failed %s: %s", name, id, r.Reason)
				}
			}
			if rep.Passed || rep.Reached != conformance.None {
				t.Errorf("%s reached %s (passed %v)", name, rep.Reached, rep.Passed)
			}
		})
	}
}

// The base connector's own shortcomings are caught by the checks that
// own them: shown on a defect whose defect lies elsewhere.
func TestBaseConnectorFailuresAreCaught(t *testing.T) {
	t.Parallel()
	rep := reports(t)["out-of-range"]
	failed := failedIDs(rep)
	for _, id := range baseFailures {
		if !slices.Contains(failed, id) {
			r, _ := rep.Result(id)
			t.Errorf("%s: %s (%s), want fail for the base connector", id, r.Status, r.Reason)
		}
	}
}
