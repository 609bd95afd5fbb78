package conformance

import (
	"context"
	"fmt"
	"regexp"
	"slices"

	"github.com/sluicehq/sluice/conformance/report"
)

// The vocabulary is report's, re-exported so partners import one package.
type (
	Level   = report.Level
	Gate    = report.Gate
	Status  = report.Status
	Verdict = report.Verdict
	Report  = report.Report
	Result  = report.Result
)

// Levels.
const (
	None   = report.None
	Bronze = report.Bronze
	Silver = report.Silver
	Gold   = report.Gold
)

// Gates.
const (
	GateStatic        = report.GateStatic
	GateCorrectness   = report.GateCorrectness
	GateSecurity      = report.GateSecurity
	GatePrivacy       = report.GatePrivacy
	GateReliability   = report.GateReliability
	GateObservability = report.GateObservability
	GateProvenance    = report.GateProvenance
)

// Statuses.
const (
	Pass = report.Pass
	Fail = report.Fail
	Skip = report.Skip
)

// ReasonNotImplemented is the reason of a check whose host feature does
// not exist yet; it skips, and so fails the level that requires it.
const ReasonNotImplemented = "not yet implemented by this host"

// Check is one conformance check.
type Check struct {
	// ID is stable: reports, docs and partners' tests refer to it.
	// Lower-case "gate.name" words joined by dots and dashes.
	ID    string
	Gate  Gate
	Level Level // the lowest level that requires the check
	Title string
	// Proves says what a pass proves; Fix how a partner fixes a failure.
	Proves, Fix string
	// Needs are checks that must pass first; if one does not, this one
	// is skipped naming it, so a defect is reported under one id.
	Needs []string
	// Live marks a check that needs a live sample tenant; in tape mode
	// it is skipped.
	Live bool
	// Final marks a check that inspects everything the suite did (every
	// run, log and tape): it runs after all other checks.
	Final bool
	// Run decides the verdict. It must not fail t or panic; an error of
	// the environment is a Fail verdict with the error as reason.
	Run func(ctx context.Context, env *Env) Verdict
}

var idPattern = regexp.MustCompile(`^[a-z]+(\.[a-z0-9]+(-[a-z0-9]+)*)+$`)

// Registry is an ordered set of checks. It is a value: make one with
// NewRegistry or Default; it is not safe for concurrent Register.
type Registry struct {
	checks []Check
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Register adds c. A duplicate id is ErrDuplicateCheck; a check without
// a well-formed id, a known gate and level, a title, docs or Run, or
// that needs a check not registered before it, is ErrInvalidCheck.
func (r *Registry) Register(c Check) error {
	bad := func(format string, args ...any) error {
		return &CheckError{ID: c.ID, Reason: fmt.Sprintf(format, args...), Err: ErrInvalidCheck}
	}
	switch {
	case !idPattern.MatchString(c.ID):
		return bad("id must be lower-case words joined by dots, like correctness.discover-stable")
	case !slices.Contains(report.Gates, c.Gate):
		return bad("unknown gate %q", c.Gate)
	case c.Level < Bronze || c.Level > Gold:
		return bad("level must be bronze, silver or gold")
	case c.Title == "" || c.Proves == "" || c.Fix == "":
		return bad("title, proves and fix are required")
	case c.Run == nil:
		return bad("run is required")
	}
	if _, ok := r.Check(c.ID); ok {
		return &CheckError{ID: c.ID, Reason: "already registered", Err: ErrDuplicateCheck}
	}
	for _, n := range c.Needs {
		need, ok := r.Check(n)
		if !ok {
			return bad("needs %q, which is not registered before it", n)
		}
		if need.Final && !c.Final {
			// Final checks run after every other: waiting for one would never end.
			return bad("needs final check %q but is not final itself", n)
		}
	}
	r.checks = append(r.checks, c)
	return nil
}

// Check returns the check with id.
func (r *Registry) Check(id string) (Check, bool) {
	i := slices.IndexFunc(r.checks, func(c Check) bool { return c.ID == id })
	if i < 0 {
		return Check{}, false
	}
	return r.checks[i], true
}

// Checks returns the checks in registration order (a copy).
func (r *Registry) Checks() []Check { return slices.Clone(r.checks) }

// Default returns a new registry holding every built-in check.
func Default() *Registry {
	r := NewRegistry()
	for _, c := range builtin() {
		if err := r.Register(c); err != nil {
			panic(err) // a programming error in this package, caught by its tests
		}
	}
	return r
}

func pass(reason string, ev any) Verdict { return Verdict{Status: Pass, Reason: reason, Evidence: ev} }
func fail(reason string, ev any) Verdict { return Verdict{Status: Fail, Reason: reason, Evidence: ev} }
func skip(reason string, ev any) Verdict { return Verdict{Status: Skip, Reason: reason, Evidence: ev} }

func failf(format string, args ...any) Verdict {
	return Verdict{Status: Fail, Reason: fmt.Sprintf(format, args...)}
}
