package actions

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/internal/telemetry"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// RunCheck runs one declared check of a connection under the read-only
// sandbox and stores its result as control evidence with a signed
// receipt. A check that fails or errs is evidence too, not an error; the
// error return is for an undeclared check (ErrUnknownCheck), scopes not
// granted (ErrScopeNotGranted), a missing connection, or the store.
func (s *Service) RunCheck(ctx context.Context, t *store.Tenant, connection, check string, params json.RawMessage, requester string) (store.Evidence, error) {
	if requester == "" {
		return store.Evidence{}, &FieldError{Field: "requester", Message: "is required"}
	}
	return s.runCheck(ctx, t, connection, check, params, requester, false)
}

func (s *Service) runCheck(ctx context.Context, t *store.Tenant, connection, check string, params json.RawMessage, requester string, scheduled bool) (store.Evidence, error) {
	params, err := normParams(params)
	if err != nil {
		return store.Evidence{}, err
	}
	conn, err := s.conns.Connection(ctx, t, connection)
	if err != nil {
		return store.Evidence{}, err
	}
	chk, err := declaredCheck(conn.Module.Manifest, check)
	if err != nil {
		return store.Evidence{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return store.Evidence{}, err
	}
	ctx = context.WithoutCancel(ctx)
	started := s.now()
	corr := cmp.Or(telemetry.TraceID(ctx), id.String())
	res, err := s.eng.Verify(ctx, conn, chk.Name, params, corr)
	var se *engine.ScopeError
	switch {
	case errors.As(err, &se):
		return store.Evidence{}, &FieldError{Field: "check", Kind: ErrScopeNotGranted, Message: se.Error()}
	case err != nil:
		return store.Evidence{}, err
	}
	m := conn.Module.Manifest
	ev := store.Evidence{
		ID: id.String(), Connection: connection, Connector: m.ID, Version: m.Version, ModuleDigest: conn.Module.Digest,
		Control: chk.Control, Check: chk.Name, Status: res.Response.Status, ErrorType: res.ErrorType,
		Evidence: res.Response.Evidence, Digests: map[string]string{}, Refused: res.Refused,
		Requester: requester, Scheduled: scheduled, CorrelationID: corr, ReceiptID: "rcpt-ev-" + id.String(),
		StartedAt: started, FinishedAt: s.now(),
	}
	if ev.Evidence == nil {
		ev.Evidence = map[string]string{}
	}
	if reason := evidenceTooLarge(ev.Evidence); reason != "" {
		// The module's answer does not fit the record: that is the
		// module's failure, and a check that cannot show its evidence
		// proves nothing.
		ev.Status, ev.ErrorType = receipt.CheckError, "evidence_too_large"
		ev.Evidence = map[string]string{"error_type": ev.ErrorType, "error": reason}
	}
	for k, v := range ev.Evidence {
		ev.Digests[k] = receipt.ValueDigest([]byte(v))
	}
	env, err := s.signer.SignCheck(ctx, receipt.Check{
		ReceiptID: ev.ReceiptID, EvidenceID: ev.ID, TenantID: t.ID(), ConnectorID: m.ID,
		ConnectorVersion: m.Version, ModuleDigest: ev.ModuleDigest, Connection: connection,
		Control: ev.Control, CheckName: ev.Check, Status: ev.Status, ErrorType: ev.ErrorType,
		EvidenceDigests: ev.Digests, RefusedRequests: ev.Refused, ParamsDigest: paramsDigest(params),
		Requester: requester, CorrelationID: ev.CorrelationID,
		StartedAt: receipt.FormatTime(ev.StartedAt), FinishedAt: receipt.FormatTime(ev.FinishedAt),
	})
	if err != nil {
		return ev, fmt.Errorf("actions: sign check receipt: %w", err)
	}
	if err := t.PutReceipt(ctx, store.Receipt{ID: ev.ReceiptID, RunID: ev.ID, Kind: "check", Envelope: env, CreatedAt: ev.FinishedAt}); err != nil {
		return ev, err
	}
	if err := t.PutEvidence(ctx, ev); err != nil {
		return ev, err
	}
	s.m.checks.WithLabelValues(ev.Status).Inc()
	s.log.Info("check ran", "tenant", t.ID(), "connection", connection, "check", ev.Check, "control", ev.Control,
		"status", ev.Status, "refused_requests", ev.Refused, "scheduled", scheduled)
	return ev, nil
}

func declaredCheck(m *protocol.Manifest, name string) (protocol.Check, error) {
	i := slices.IndexFunc(m.Checks, func(c protocol.Check) bool { return c.Name == name })
	if i < 0 {
		return protocol.Check{}, &FieldError{Field: "check", Kind: ErrUnknownCheck, Message: fmt.Sprintf("%s declares no check %q", m.ID, name)}
	}
	return m.Checks[i], nil
}

// Evidence lists a connection's control evidence newest first, of one
// control if control is set; before is the next of the previous page.
func (s *Service) Evidence(ctx context.Context, t *store.Tenant, connection, control, before string, limit int) ([]store.Evidence, string, error) {
	if _, err := s.conns.Connection(ctx, t, connection); err != nil {
		return nil, "", err
	}
	return t.EvidenceList(ctx, connection, control, before, limit)
}

// SetCheckSchedule runs a declared check of the connection every every,
// the first time every from now.
func (s *Service) SetCheckSchedule(ctx context.Context, t *store.Tenant, connection, check string, every time.Duration, params json.RawMessage, by string) (store.CheckSchedule, error) {
	if every < s.cfg.MinCheckInterval {
		return store.CheckSchedule{}, &FieldError{Field: "interval", Message: "must be at least " + s.cfg.MinCheckInterval.String()}
	}
	params, err := normParams(params)
	if err != nil {
		return store.CheckSchedule{}, err
	}
	conn, err := s.conns.Connection(ctx, t, connection)
	if err != nil {
		return store.CheckSchedule{}, err
	}
	if _, err := declaredCheck(conn.Module.Manifest, check); err != nil {
		return store.CheckSchedule{}, err
	}
	now := s.now()
	sc := store.CheckSchedule{Connection: connection, Check: check, Every: every, Params: params, NextAt: now.Add(every), SetBy: by, UpdatedAt: now}
	return sc, t.PutCheckSchedule(ctx, sc)
}

// CheckSchedule returns a check's schedule (store.ErrNotFound if none).
func (s *Service) CheckSchedule(ctx context.Context, t *store.Tenant, connection, check string) (store.CheckSchedule, error) {
	return t.CheckSchedule(ctx, connection, check)
}

// DeleteCheckSchedule stops a check's scheduled runs.
func (s *Service) DeleteCheckSchedule(ctx context.Context, t *store.Tenant, connection, check string) error {
	return t.DeleteCheckSchedule(ctx, connection, check)
}

// Bounds of one check's evidence, as the store keeps it.
const (
	maxEvidenceEntries = 256
	maxEvidenceName    = 128
	maxEvidenceValue   = 8 << 10
)

// evidenceTooLarge says why evidence exceeds the bounds ("" if it fits).
func evidenceTooLarge(ev map[string]string) string {
	if len(ev) > maxEvidenceEntries {
		return fmt.Sprintf("%d evidence entries, the cap is %d", len(ev), maxEvidenceEntries)
	}
	for k, v := range ev {
		if len(k) > maxEvidenceName || len(v) > maxEvidenceValue {
			return fmt.Sprintf("evidence names are capped at %d bytes and values at %d", maxEvidenceName, maxEvidenceValue)
		}
	}
	return ""
}
