package conformance

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/report"
)

// Run certifies target from a partner's test: every check is reported as
// a subtest, which fails for each check the requested level requires
// that did not pass (a required check that skipped fails too), and passes
// or skips otherwise. An environment that cannot be set up fails t at
// once. It returns the report.
func Run(t *testing.T, target Target, opts ...Option) *Report {
	t.Helper()
	rep, err := Certify(t.Context(), target, opts...)
	if err != nil {
		t.Fatalf("conformance: %v", err)
		return nil
	}
	for _, res := range rep.Results {
		t.Run(res.ID, func(t *testing.T) {
			required := res.Level <= rep.Requested
			switch {
			case res.Status == Pass:
				t.Logf("pass: %s", res.Reason)
			case required:
				t.Errorf("%s (%s, required by %s): %s\nfix: %s\nevidence: %s", res.Status, res.Title, res.Level, res.Reason, res.Fix, res.Evidence)
			default:
				t.Skipf("%s, not required at %s: %s", res.Status, rep.Requested, res.Reason)
			}
		})
	}
	return rep
}

// Certify runs the checks against target and returns the report. The
// error is for a run that could not take place (bad target, no temporary
// folder); a module that fails checks is a report with Passed false.
func Certify(ctx context.Context, target Target, opts ...Option) (*Report, error) {
	o := options{parallel: 4, config: target.Config}
	for _, fn := range opts {
		fn(&o)
	}
	if o.clock == nil {
		o.clock = time.Now
	}
	checks, err := selectChecks(o)
	if err != nil {
		return nil, err
	}
	started := o.clock()
	env, err := newEnv(ctx, target, o)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	rep := &Report{Version: report.FormatVersion, Mode: env.Mode, StartedAt: started.UTC(),
		ModuleDigest: digestOf(target.Module)}
	if m := env.Manifest; m != nil {
		rep.Connector, rep.ConnectorVersion = m.ID, m.Version
		rep.Claimed, _ = report.ParseLevel(m.Level)
	}
	rep.Requested = o.level
	if rep.Requested == report.None {
		rep.Requested = max(rep.Claimed, Bronze)
	}
	s := &scheduler{env: env, o: o, checks: checks}
	rep.Results, rep.Groups, rep.SetupMS = s.run(ctx)
	rep.WallMS = o.clock().Sub(started).Milliseconds()
	rep.Evaluate()
	return rep, nil
}

// selectChecks is the registry (a copy, plus extras), narrowed to
// WithOnly's checks and everything they need.
func selectChecks(o options) ([]Check, error) {
	base := o.registry
	if base == nil {
		base = Default()
	}
	reg := NewRegistry()
	for _, c := range append(base.Checks(), o.extra...) {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	all := reg.Checks()
	if len(o.only) == 0 {
		return all, nil
	}
	want := map[string]bool{}
	var add func(id string) error
	add = func(id string) error {
		c, ok := reg.Check(id)
		if !ok {
			return &CheckError{ID: id, Reason: "no such check", Err: ErrInvalidCheck}
		}
		want[id] = true
		for _, n := range c.Needs {
			if err := add(n); err != nil {
				return err
			}
		}
		return nil
	}
	for _, id := range o.only {
		if err := add(id); err != nil {
			return nil, err
		}
	}
	return slices.DeleteFunc(all, func(c Check) bool { return !want[c.ID] }), nil
}

// scheduler runs checks in parallel as their needs allow; checks marked
// final (they look at everything the suite did) run after all others.
type scheduler struct {
	env    *Env
	o      options
	checks []Check
}

type outcome struct {
	res        Result
	start, end time.Time
	done       chan struct{}
}

func (s *scheduler) run(ctx context.Context) ([]Result, []report.GroupTiming, int64) {
	out := make(map[string]*outcome, len(s.checks))
	for _, c := range s.checks {
		out[c.ID] = &outcome{done: make(chan struct{})}
	}
	setupStart := s.o.clock()
	s.env.load(ctx)
	if s.env.Module != nil && s.env.Mode == "live" && slices.ContainsFunc(s.checks, func(c Check) bool { return c.Live }) {
		s.env.Baseline(ctx)
	}
	setup := s.o.clock().Sub(setupStart).Milliseconds()
	sem := make(chan struct{}, max(1, s.o.parallel))
	var nonFinal, all sync.WaitGroup
	for _, c := range s.checks {
		if !isFinal(c) {
			nonFinal.Add(1)
		}
	}
	for _, c := range s.checks {
		all.Add(1)
		go func(c Check) {
			defer all.Done()
			oc := out[c.ID]
			defer close(oc.done)
			if !isFinal(c) {
				defer nonFinal.Done()
			} else {
				nonFinal.Wait()
			}
			var blocked []string
			for _, n := range c.Needs {
				dep := out[n]
				<-dep.done
				if dep.res.Status != Pass {
					blocked = append(blocked, fmt.Sprintf("%s (%s)", n, dep.res.Status))
				}
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			if s.o.progress != nil {
				s.o.progress.Start(c)
			}
			oc.start = s.o.clock()
			v := s.verdict(ctx, c, blocked)
			oc.end = s.o.clock()
			oc.res = report.NewResult(c.ID, c.Gate, c.Level, c.Title, c.Fix, v, oc.end.Sub(oc.start))
			if s.o.progress != nil {
				s.o.progress.Done(c, oc.res)
			}
		}(c)
	}
	all.Wait()
	results := make([]Result, 0, len(s.checks))
	for _, c := range s.checks {
		results = append(results, out[c.ID].res)
	}
	return results, s.timings(out), setup
}

// verdict runs one check, turning a panic into a failure.
func (s *scheduler) verdict(ctx context.Context, c Check, blocked []string) (v Verdict) {
	switch {
	case len(blocked) > 0:
		return skip("needs "+strings.Join(blocked, ", ")+" to pass first", nil)
	case c.Live && s.env.Mode != "live":
		return skip("needs a live sample tenant (give a sandbox URL, not tapes)", nil)
	}
	defer func() {
		if p := recover(); p != nil {
			v = fail(fmt.Sprintf("check panicked: %v", p), string(debug.Stack()))
		}
	}()
	return c.Run(ctx, s.env)
}

// timings is each gate's wall time: first start to last end.
func (s *scheduler) timings(out map[string]*outcome) []report.GroupTiming {
	var groups []report.GroupTiming
	for _, g := range report.Gates {
		var first, last time.Time
		n := 0
		for _, c := range s.checks {
			if c.Gate != g {
				continue
			}
			oc := out[c.ID]
			if n == 0 || oc.start.Before(first) {
				first = oc.start
			}
			if oc.end.After(last) {
				last = oc.end
			}
			n++
		}
		if n > 0 {
			groups = append(groups, report.GroupTiming{Gate: g, Checks: n, WallMS: last.Sub(first).Milliseconds()})
		}
	}
	return groups
}
