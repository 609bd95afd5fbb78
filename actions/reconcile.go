package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/store"
)

// InterruptedMessage is the error of a run the host stopped during its
// execute. Nobody knows whether the remote change was applied, so the
// run is never retried on its own: a person checks the remote first.
const InterruptedMessage = "interrupted: the host stopped during execute; the remote may or may not have applied the change — verify before retrying"

// Reconcile fails the action runs left in state running by a host that
// stopped during their execute, each with a signed receipt, and returns
// how many it failed. Only runs last updated more than olderThan ago (by
// Config.Now) are taken; olderThan <= 0 takes every running run. Serve
// calls it once at start with 0, before Start and before the API takes
// requests: the store belongs to one process, so nothing can be
// executing then. Called while the service runs, olderThan must exceed
// the longest execute (the engine's call timeout). One run's failure is
// logged and does not stop the others; the error joins the failures.
func (s *Service) Reconcile(ctx context.Context, olderThan time.Duration) (int, error) {
	s.scanMu.Lock() // no due scan creates an inverse run meanwhile
	defer s.scanMu.Unlock()
	var cutoff time.Time
	if olderThan > 0 {
		cutoff = s.now().Add(-olderThan)
	}
	stuck := func(r *store.ActionRun) bool {
		return r.State == store.ActionRunning && (cutoff.IsZero() || !r.UpdatedAt.After(cutoff))
	}
	n := 0
	var errs []error
	err := s.eachTenant(ctx, func(id string, t *store.Tenant) {
		runs, err := t.RunningActionRuns(ctx, cutoff)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", id, err))
			return
		}
		for _, r := range runs {
			ended, err := s.end(ctx, t, r.ID, stuck, store.ActionFailed,
				&store.RunError{Type: "interrupted", Message: InterruptedMessage, Count: 1}, "failed")
			if err != nil {
				s.log.Error("actions: interrupted run not reconciled", "tenant", id, "run", r.ID, "err", err)
				errs = append(errs, fmt.Errorf("tenant %s run %s: %w", id, r.ID, err))
				continue
			}
			if ended {
				n++
				s.log.Warn("action interrupted during execute: failed, verify the remote", "tenant", id,
					"connection", r.Connection, "run", r.ID, "action", r.Action, "correlation_id", r.CorrelationID)
			}
		}
	})
	return n, errors.Join(append(errs, err)...)
}

// end moves a run to state with runErr if cond still holds in the
// update's transaction, then signs and stores its receipt; ended is
// false if cond no longer held (another writer got there first).
func (s *Service) end(ctx context.Context, t *store.Tenant, id string, cond func(*store.ActionRun) bool, state string, runErr *store.RunError, outcome string) (ended bool, err error) {
	run, err := t.UpdateActionRun(ctx, id, func(r *store.ActionRun) error {
		if !cond(r) {
			return errStale
		}
		r.State, r.ExpiresAt, r.UpdatedAt, r.Error = state, time.Time{}, s.now(), runErr
		return nil
	})
	if errors.Is(err, errStale) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	run, err = s.finish(ctx, t, run)
	s.m.outcome(run, outcome)
	return true, err
}
