package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/store"
)

// Start runs the due-scan loop until ctx ends or Shutdown: every
// Config.ScanEvery it calls RunDue. It returns at once.
func (s *Service) Start(ctx context.Context) error {
	s.loopMu.Lock()
	defer s.loopMu.Unlock()
	if s.stop != nil {
		return errors.New("actions: already started")
	}
	ctx, cancel := context.WithCancel(ctx)
	s.stop, s.stopped = cancel, make(chan struct{})
	go func() {
		defer close(s.stopped)
		tick := time.NewTicker(s.cfg.ScanEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if _, err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("actions: due scan", "err", err)
				}
			}
		}
	}()
	return nil
}

// Shutdown stops the loop and waits for a scan in progress, up to ctx.
func (s *Service) Shutdown(ctx context.Context) error {
	s.loopMu.Lock()
	stop, stopped := s.stop, s.stopped
	s.loopMu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RunDue does everything due by Config.Now, for every tenant: the
// inverse of each expired grant, the expiry of each pending approval
// past its timeout, and each scheduled check. It returns how many items
// it handled. One item's failure is logged and does not stop the others;
// the error joins the failures.
func (s *Service) RunDue(ctx context.Context) (int, error) {
	s.scanMu.Lock()
	defer s.scanMu.Unlock()
	n := 0
	var errs []error
	err := s.eachTenant(ctx, func(id string, t *store.Tenant) {
		now := s.now()
		due, err := t.DueActions(ctx, now, 0)
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, d := range due {
			var err error
			switch d.Kind {
			case store.DueInverse:
				err = s.revoke(ctx, t, d.Run)
			case store.DueExpire:
				err = s.expire(ctx, t, d.Run)
			default:
				err = fmt.Errorf("unknown due kind %q", d.Kind)
			}
			n++
			if err != nil {
				s.log.Error("actions: due item failed", "tenant", id, "run", d.Run, "kind", d.Kind, "err", err)
				errs = append(errs, fmt.Errorf("tenant %s run %s (%s): %w", id, d.Run, d.Kind, err))
			}
		}
		checks, err := t.DueChecks(ctx, now, 0)
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, sc := range checks {
			n++
			if err := s.runScheduled(ctx, t, sc, now); err != nil {
				s.log.Error("actions: scheduled check failed", "tenant", id, "connection", sc.Connection, "check", sc.Check, "err", err)
				errs = append(errs, fmt.Errorf("tenant %s check %s/%s: %w", id, sc.Connection, sc.Check, err))
			}
		}
	})
	return n, errors.Join(append(errs, err)...)
}

// eachTenant calls fn with every tenant of the store; a tenant id the
// store refuses is skipped.
func (s *Service) eachTenant(ctx context.Context, fn func(id string, t *store.Tenant)) error {
	tenants, err := s.db.Tenants(ctx)
	if err != nil {
		return err
	}
	for _, id := range tenants {
		if t, err := s.db.Tenant(id); err == nil {
			fn(id, t)
		}
	}
	return nil
}

// revoke runs the inverse of an expired grant. The inverse run is
// created before the grant points at it: after a crash between the two
// the grant is still due and a second revoke runs, which is better than
// a grant that is never revoked.
func (s *Service) revoke(ctx context.Context, t *store.Tenant, grantID string) error {
	g, err := t.ActionRun(ctx, grantID)
	if err != nil {
		return err
	}
	if g.State != store.ActionSucceeded || g.InverseRun != "" || g.ExpiresAt.IsZero() {
		return nil // stale index entry; the update that changed it moved it
	}
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	now := s.now()
	inv := store.ActionRun{
		ID: id.String(), Connection: g.Connection, Connector: g.Connector, Version: g.Version, ModuleDigest: g.ModuleDigest,
		Params: g.Params, Requester: SystemTTL, InverseOf: g.ID, CorrelationID: id.String(),
		State: store.ActionRunning, CreatedAt: now, UpdatedAt: now,
		Preflight: store.Preflight{RequiredScopes: []string{}, GrantedScopes: []string{}},
	}
	created, err := connectionCreated(ctx, t, g.Connection)
	if err != nil {
		return err
	}
	// A grant of a connection deleted since is not revoked through the
	// connection now under its id: that may be another remote account.
	fail := outlived(g.CreatedAt, created, inverseNotRunMessage)
	var conn engine.Connection
	if fail == nil {
		var cerr error
		if conn, cerr = s.conns.Connection(ctx, t, g.Connection); cerr != nil {
			fail = unavailable(cerr.Error())
		}
	}
	if fail == nil {
		m := conn.Module.Manifest
		grant, _ := action(m, g.Action)
		act, ok := action(m, grant.Inverse)
		if ok {
			pol, err := t.ActionPolicy(ctx)
			if err != nil {
				return err
			}
			inv.Action, inv.Destructive = act.Name, act.Destructive
			inv.Connector, inv.Version, inv.ModuleDigest = m.ID, m.Version, conn.Module.Digest
			inv.Preflight = preflight(conn, act, pol, 0, true)
			if err := s.policyPreflight(ctx, t, conn, act, &inv); err != nil {
				return err
			}
		} else {
			fail = unavailable(fmt.Sprintf("the connector no longer declares the inverse of %q", g.Action))
		}
	}
	if inv.Action == "" {
		inv.Action = "inverse-of-" + g.Action
	}
	switch {
	case fail != nil:
		inv.State, inv.Error = store.ActionFailed, fail
	case !inv.Preflight.Allowed:
		inv.State = store.ActionRejected
		inv.Error = &store.RunError{Type: "preflight_denied", Message: joinReasons(inv.Preflight.Reasons), Count: 1}
	}
	if _, _, err := t.CreateActionRun(ctx, inv, ""); err != nil {
		return err
	}
	if _, err := t.UpdateActionRun(ctx, g.ID, func(r *store.ActionRun) error {
		r.InverseRun, r.UpdatedAt = inv.ID, now
		return nil
	}); err != nil {
		return err
	}
	s.log.Info("grant expired: running its inverse", "tenant", t.ID(), "grant", g.ID, "inverse", inv.ID, "action", inv.Action)
	if inv.State != store.ActionRunning {
		inv, err = s.finish(ctx, t, inv)
		s.m.outcome(inv, inv.State)
		if err != nil {
			return err
		}
		return fmt.Errorf("inverse of %s not run: %s", g.ID, inv.Error.Message)
	}
	_, err = s.execute(ctx, t, conn, inv)
	return err
}

// unavailable is the error of an inverse whose connection cannot run it.
func unavailable(msg string) *store.RunError {
	return &store.RunError{Type: "connection_unavailable", Message: msg, Count: 1}
}

// expire ends a run whose approval did not come in time.
func (s *Service) expire(ctx context.Context, t *store.Tenant, id string) error {
	pending := func(r *store.ActionRun) bool { return r.State == store.ActionPendingApproval }
	_, err := s.end(ctx, t, id, pending, store.ActionExpired,
		&store.RunError{Type: "approval_expired", Message: "no decision before the approval timeout", Count: 1}, "expired")
	return err
}

var errStale = errors.New("stale due entry")

// runScheduled runs a due check and moves its schedule to the first due
// time after now (missed intervals are not made up).
func (s *Service) runScheduled(ctx context.Context, t *store.Tenant, sc store.CheckSchedule, now time.Time) error {
	next := sc.NextAt
	for !next.After(now) {
		next = next.Add(sc.Every)
	}
	sc.NextAt = next
	if err := t.PutCheckSchedule(ctx, sc); err != nil {
		return err
	}
	_, err := s.runCheck(ctx, t, sc.Connection, sc.Check, sc.Params, SystemSchedule, true)
	return err
}

func joinReasons(r []string) string {
	out := ""
	for i, x := range r {
		if i > 0 {
			out += "; "
		}
		out += x
	}
	return out
}
