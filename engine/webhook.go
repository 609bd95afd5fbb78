package engine

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

// KindWebhook is the run kind of a webhook event's processing.
const KindWebhook = "webhook"

// DefaultEventTTL is how long the event ids a connector returns are
// remembered for de-duplication when WebhookEvent.EventTTL is zero.
const DefaultEventTTL = 72 * time.Hour

// Bounds of a webhook export's answer.
const (
	maxWebhookEventIDs = 1000
	maxEventIDLen      = 1024
)

// WebhookEvent is one accepted delivery, already authenticated and
// de-duplicated by webhook-id (package webhooks).
type WebhookEvent struct {
	// ID is the inbox event id (a UUIDv7); it is also the run id, the
	// DLQ item id of a failure and the key whose inbox entry the
	// processing deletes.
	ID            string
	Headers       map[string]string
	Body          []byte
	CorrelationID string
	ReceivedAt    time.Time
	// EventTTL is how long the returned event ids are remembered; zero
	// means DefaultEventTTL.
	EventTTL time.Duration
}

// WebhookResult is a processed event.
type WebhookResult struct {
	// EventIDs are the event ids the connector handled.
	EventIDs []string
	Run      store.Run
	Envelope []byte
	// Duplicate reports that every event id had been processed before:
	// nothing was committed and no receipt was signed.
	Duplicate bool
}

// Webhook calls the connector's webhook export with the emit, network
// and log doors, then commits what it emitted, the processed event ids
// and the removal of the event from the inbox in one store transaction,
// and signs an ingest receipt (kind webhook). An event whose ids were all
// processed before commits nothing (WebhookResult.Duplicate).
//
// A failure after the host's retries is final for this event: it becomes
// a DLQ item (kind webhook, id ev.ID) with the call's tape, the event
// leaves the inbox and the error is a *RunError. A canceled ctx is not a
// failure: the event stays in the inbox for the next start.
func (e *Engine) Webhook(ctx context.Context, c Connection, ev WebhookEvent) (*WebhookResult, error) {
	if c.Tenant == nil || c.Module == nil {
		return nil, errors.New("engine: webhook: connection needs a tenant and a module")
	}
	if ev.ID == "" || !json.Valid(ev.Body) {
		return nil, fmt.Errorf("engine: webhook: event needs an id and a JSON body")
	}
	m := c.Module.Manifest
	now := e.cfg.Now().UTC()
	r := &runner{e: e, c: c, kind: KindWebhook, errs: map[string]*store.RunError{}}
	r.run = store.Run{
		ID: ev.ID, Connection: c.ID, Connector: m.ID, Version: m.Version, ModuleDigest: c.Module.Digest,
		Kind: KindWebhook, State: StateRunning, StartedAt: now, CorrelationID: ev.CorrelationID,
		Cursors: map[string]string{}, CursorsIn: map[string]string{},
	}
	if r.run.CorrelationID == "" {
		r.run.CorrelationID = ev.ID
	}
	r.log = e.log.With("tenant", c.Tenant.ID(), "connection", c.ID, "run", ev.ID,
		"correlation_id", r.run.CorrelationID, "kind", KindWebhook)
	// The policy decides before the call, over the streams a sync of the
	// granted scopes could write, so the emit door refuses what it refuses.
	streams, _ := permittedStreams(m, c.Scopes, nil, KindSync)
	if err := r.decideAtStart(ctx, streams); err != nil {
		return nil, fmt.Errorf("engine: webhook: %w", err)
	}
	input, err := json.Marshal(protocol.WebhookRequest{Headers: ev.Headers, Body: json.RawMessage(ev.Body), Config: c.Config})
	if err != nil {
		return nil, fmt.Errorf("engine: webhook input: %w", err)
	}
	tp := &tape.Tape{Version: tape.FormatVersion, RunID: ev.ID, Connector: m.ID, ConnectorVersion: m.Version,
		ModuleDigest: c.Module.Digest, Clock: now, Seed: fmt.Sprintf("%x", runSeed(ev.ID)), Fields: c.Fields}
	hc, sink, tc := r.webhookDoors(input)
	res, callErr := r.webhookCall(ctx, ev, input, tp, hc, sink, tc)
	if callErr == nil {
		return res, nil
	}
	if ctx.Err() != nil && errors.Is(callErr, ctx.Err()) {
		return nil, &RunError{RunID: ev.ID, Type: "interrupted", Err: callErr}
	}
	// The item keeps the event minimised as its tape does: replayed live,
	// the host drops the same fields again.
	kept, _ := sink.Drops().JSON(input)
	return nil, r.webhookDeadLetter(ctx, ev, kept, tp, callErr)
}

// webhookCall makes the call and commits its outcome.
func (r *runner) webhookCall(ctx context.Context, ev WebhookEvent, input []byte, tp *tape.Tape, hc *hostfns.Call, sink *hostfns.Emitter, tc *tape.Call) (*WebhookResult, error) {
	e, c := r.e, r.c
	sess, err := c.Module.guest.acquire(ctx, c.Tenant.ID(), r.run.StartedAt, runSeed(ev.ID), false)
	if err != nil {
		return nil, err
	}
	defer sess.release(context.WithoutCancel(ctx))
	began := time.Now()
	out, callErr := sess.call(ctx, hc, protocol.ExportWebhook, input)
	emitted := sink.Take()
	r.meter(ctx, int64(emitted.Read), time.Since(began), true)
	tc.Output = digestHex(out)
	if callErr != nil {
		tc.Error = callErr.Error()
	}
	sink.Drops().Call(tc)
	tp.Calls = append(tp.Calls, *tc)
	r.run.Counts.Read += int64(emitted.Read)
	if emitted.Overflowed {
		return nil, &CallError{Export: protocol.ExportWebhook, Kind: ErrTooManyRecords, Detail: fmt.Sprintf("more than %d records in one call", e.limits.MaxRecordsPerCall)}
	}
	if callErr != nil {
		return nil, callErr
	}
	var resp protocol.WebhookResponse
	if err := decodeOutput(protocol.ExportWebhook, out, &resp); err != nil {
		return nil, err
	}
	if err := checkEventIDs(resp.EventIDs); err != nil {
		return nil, err
	}
	r.noteRejections(emitted.Rejections)
	r.run.Counts.Dropped += int64(emitted.Dropped)
	if n := len(emitted.Deletions); n > 0 {
		// Deletions are trusted only from a complete snapshot, as for an
		// incremental sync; the next full sync applies them.
		r.noteError("deletion_ignored", fmt.Sprintf("%d deletions ignored: not a full snapshot", n))
	}
	key, err := saltKey(ctx, c.Tenant)
	if err != nil {
		return nil, err
	}
	if r.digester == nil {
		if r.digester, err = receipt.NewDigester(key); err != nil {
			return nil, err
		}
	}
	objs := emitted.Objects
	for i := range objs {
		d, err := r.digester.ObjectDigest(objs[i].EntityID, objs[i].Data)
		if err != nil {
			return nil, fmt.Errorf("digest %s: %w", objs[i].EntityID, err)
		}
		objs[i].Digest = hex.EncodeToString(d[:])
		objs[i].RunID = r.run.ID
	}
	ttl := ev.EventTTL
	if ttl <= 0 {
		ttl = DefaultEventTTL
	}
	r.run.Errors = r.errorList()
	pg := store.Page{Connection: c.ID, Run: r.run, Objects: objs, Edges: emitted.Edges, Lineage: emitted.Lineage,
		Webhook: &store.WebhookCommit{InboxID: ev.ID, EventIDs: resp.EventIDs, TTL: ttl}}
	if c.NoIndex {
		if err := r.outbound(ctx, &pg); err != nil { // engine/noindex.go
			return nil, err
		}
	}
	var pr store.PageResult
	for attempt := 0; ; attempt++ {
		// Two events of one connection processed at once may touch the
		// same objects; the later commit conflicts and is retried.
		pr, err = r.commitPage(ctx, pg)
		if !errors.Is(err, store.ErrConflict) || attempt == 4 {
			break
		}
	}
	switch {
	case errors.Is(err, store.ErrDuplicateEvent):
		e.metrics.records.WithLabelValues("skipped").Add(float64(len(objs)))
		if err := c.Tenant.DeleteInboxEvent(context.WithoutCancel(ctx), ev.ID); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		r.log.Debug("webhook event already processed", "event_ids", len(resp.EventIDs))
		return &WebhookResult{EventIDs: resp.EventIDs, Run: r.run, Duplicate: true}, nil
	case err != nil:
		return nil, fmt.Errorf("commit webhook: %w", err)
	}
	r.run.Counts.Created += int64(pr.Created)
	r.run.Counts.Updated += int64(pr.Updated)
	r.run.Counts.Skipped += int64(pr.Skipped)
	if pr.Stale > 0 {
		r.noteError("stale_ignored", fmt.Sprintf("%d objects older than the stored version kept the stored version", pr.Stale))
	}
	e.metrics.records.WithLabelValues("created").Add(float64(pr.Created))
	e.metrics.records.WithLabelValues("updated").Add(float64(pr.Updated))
	e.metrics.records.WithLabelValues("skipped").Add(float64(pr.Skipped))
	e.metrics.records.WithLabelValues("rejected").Add(float64(len(emitted.Rejections)))
	r.run.State = StateSucceeded
	res, err := r.finish(context.WithoutCancel(ctx), nil)
	if err != nil {
		return nil, err
	}
	return &WebhookResult{EventIDs: resp.EventIDs, Run: res.Run, Envelope: res.Envelope}, nil
}

// webhookDeadLetter records a final failure: the run (failed, with a receipt),
// a DLQ item with the call's tape, and the event's removal from the inbox.
func (r *runner) webhookDeadLetter(ctx context.Context, ev WebhookEvent, input []byte, tp *tape.Tape, cause error) error {
	wctx := context.WithoutCancel(ctx)
	scrub := r.c.scrubber()
	typ := r.errorType(cause)
	msg := scrub.String(cause.Error())
	r.noteError(typ, msg)
	r.run.Counts.Errors++
	r.run.State = StateFailed
	_, ferr := r.finish(wctx, cause)
	tb, err := json.Marshal(tp)
	if err != nil {
		return errors.Join(cause, err)
	}
	now := r.e.cfg.Now().UTC()
	item := store.DLQItem{
		ID: ev.ID, Connection: r.c.ID, Kind: store.DLQWebhook, Input: json.RawMessage(scrub.Bytes(input)),
		ErrorType: typ, Error: truncate(msg, 4096), Attempts: 1, FirstFailure: now, LastFailure: now,
		RunID: ev.ID, CorrelationID: r.run.CorrelationID,
	}
	if strings.HasPrefix(r.c.Module.Digest, "sha256:") {
		item.ModuleDigest = r.c.Module.Digest // a native module's digest is not a store name
	}
	if old, err := r.c.Tenant.DLQItem(wctx, ev.ID); err == nil {
		item.Attempts, item.FirstFailure = old.Attempts+1, old.FirstFailure
	}
	if err := r.c.Tenant.PutDLQItem(wctx, item, scrub.Bytes(tb)); err != nil {
		// The event stays in the inbox: it is processed again after a
		// restart rather than lost.
		return errors.Join(&RunError{RunID: ev.ID, Type: typ, Err: cause}, ferr, fmt.Errorf("engine: dlq: %w", err))
	}
	if err := r.c.Tenant.DeleteInboxEvent(wctx, ev.ID); err != nil {
		return errors.Join(&RunError{RunID: ev.ID, Type: typ, Err: cause}, ferr, fmt.Errorf("engine: %w", err))
	}
	r.log.Warn("webhook event dead-lettered", "error_type", typ)
	return errors.Join(&RunError{RunID: ev.ID, Type: typ, Err: cause}, ferr)
}

// checkEventIDs bounds what a connector may ask the host to remember.
func checkEventIDs(ids []string) error {
	if len(ids) > maxWebhookEventIDs {
		return &CallError{Export: protocol.ExportWebhook, Kind: ErrBadOutput, Detail: fmt.Sprintf("%d event ids, at most %d", len(ids), maxWebhookEventIDs)}
	}
	for i, id := range ids {
		if id == "" || len(id) > maxEventIDLen {
			return &CallError{Export: protocol.ExportWebhook, Kind: ErrBadOutput, Detail: fmt.Sprintf("event_ids[%d] must be 1-%d bytes", i, maxEventIDLen)}
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// webhookStream names the synthetic stream of a webhook call: the object
// and edge types of every stream whose scopes the connection was granted.
const webhookStream = "webhook"

// webhookDoors are a sync page's doors (see doors) with the emit door
// narrowed by least privilege: a pushed event may only write the types a
// sync of the granted scopes could. The tape call is always recorded; it
// is kept only by a DLQ item.
func (r *runner) webhookDoors(input []byte) (*hostfns.Call, *hostfns.Emitter, *tape.Call) {
	hc, _, tc := r.doors("", protocol.ExportWebhook, input)
	m := *r.c.Module.Manifest
	st := protocol.Stream{Name: webhookStream}
	if streams, err := permittedStreams(r.c.Module.Manifest, r.c.Scopes, nil, KindSync); err == nil {
		for _, s := range streams {
			st.ObjectTypes = appendNew(st.ObjectTypes, s.ObjectTypes...)
			st.EdgeTypes = appendNew(st.EdgeTypes, s.EdgeTypes...)
		}
	}
	m.Streams = []protocol.Stream{st}
	sink := hostfns.NewEmitter(hostfns.EmitConfig{
		Tenant: r.c.Tenant.ID(), Connector: m.ID, Connection: r.c.ID, RunID: r.run.ID,
		Schemas: r.c.Module.schemas, Manifest: &m, Stream: webhookStream,
		MaxRecords: r.e.limits.MaxRecordsPerCall, Scrub: r.c.scrubber(), Clock: r.e.cfg.Now,
		Recorder: func(d string) { tc.Emits = append(tc.Emits, d) },
		Narrow:   r.c.Fields,
		Refused:  tc.Refused,
	})
	hc.Sink = sink
	return hc, sink, tc
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}
