package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

// ErrNotReplayable means a dead-letter item cannot be replayed the way
// asked (see ReplayPage).
var ErrNotReplayable = errors.New("dead-letter item not replayable")

// LiveReplay is a dead-lettered page re-run against the live remote: its
// own run record (kind sync or backfill, no checkpoint), its signed
// ingest receipt and the call as recorded.
type LiveReplay struct {
	Run      store.Run
	Envelope []byte
	Call     tape.Call
}

// pageInput is what a page's input says about where it was.
type pageInput struct {
	Stream   string          `json:"stream"`
	Cursor   string          `json:"cursor"`
	Range    *protocol.Range `json:"range"`
	PageSize int             `json:"page_size"`
}

// ReplayPage re-runs a dead-lettered sync or backfill page against the
// live remote, through the connector's replay export (a module without
// one gets the original export). The page's input is rebuilt with the
// connection's current config: the stored input is scrubbed. What the
// call emits is committed under a new run of the item's kind, with no
// checkpoint (the stream's cursor belongs to its regular runs, which
// resume from their own checkpoint), and the run signs its ingest
// receipt. On failure the run is recorded as failed and the error is a
// *RunError; the item is left to the caller.
func (e *Engine) ReplayPage(ctx context.Context, c Connection, item store.DLQItem) (*LiveReplay, error) {
	if c.Tenant == nil || c.Module == nil {
		return nil, errors.New("engine: replay: connection needs a tenant and a module")
	}
	if item.Kind != KindSync && item.Kind != KindBackfill {
		return nil, fmt.Errorf("engine: replay %s item %s: %w: not a page", item.Kind, item.ID, ErrNotReplayable)
	}
	var in pageInput
	if err := json.Unmarshal(item.Input, &in); err != nil || in.Stream == "" {
		return nil, fmt.Errorf("engine: replay item %s: %w: its input names no stream", item.ID, ErrNotReplayable)
	}
	if item.Kind == KindBackfill && in.Range == nil {
		return nil, fmt.Errorf("engine: replay item %s: %w: a backfill input without a range", item.ID, ErrNotReplayable)
	}
	streams, err := permittedStreams(c.Module.Manifest, c.Scopes, []string{in.Stream}, item.Kind)
	if err != nil {
		return nil, fmt.Errorf("engine: replay item %s: %w", item.ID, err)
	}
	var input []byte
	if item.Kind == KindBackfill {
		input, err = json.Marshal(protocol.BackfillRequest{Stream: in.Stream, Range: *in.Range, Cursor: in.Cursor, Config: c.Config, PageSize: in.PageSize})
	} else {
		input, err = json.Marshal(protocol.SyncRequest{Stream: in.Stream, Cursor: in.Cursor, Config: c.Config, PageSize: in.PageSize})
	}
	if err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("engine: run id: %w", err)
	}
	m := c.Module.Manifest
	r := &runner{e: e, c: c, kind: item.Kind, streams: streams}
	r.run = store.Run{
		ID: id.String(), Connection: c.ID, Connector: m.ID, Version: m.Version, ModuleDigest: c.Module.Digest,
		Kind: item.Kind, State: StateRunning, Streams: []string{in.Stream}, Range: in.Range,
		Cursors: map[string]string{}, CursorsIn: map[string]string{in.Stream: in.Cursor},
		StartedAt: e.cfg.Now().UTC(), CorrelationID: item.CorrelationID,
	}
	if r.run.CorrelationID == "" {
		r.run.CorrelationID = r.run.ID
	}
	if err := c.Tenant.PutRun(ctx, r.run); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	if err := r.decideAtStart(ctx, streams); err != nil {
		res, ferr := r.fail(ctx, err)
		return liveResult(res, nil), ferr
	}
	r.log = r.log.With("dlq_item", item.ID)
	r.meter(ctx, 0, 0, true)
	req, err := json.Marshal(protocol.ReplayRequest{ItemID: item.ID, Kind: item.Kind, Input: input})
	if err != nil {
		return nil, err
	}
	pc, err := r.invoke(ctx, in.Stream, protocol.ExportReplay, req)
	if err == nil && errors.Is(pc.err, ErrNotSupported) {
		pc, err = r.invoke(ctx, in.Stream, item.Kind, input)
	}
	if err != nil {
		res, ferr := r.fail(ctx, err)
		return liveResult(res, nil), ferr
	}
	resp, err := r.pageOutput(pc.export, pc)
	if err == nil {
		err = r.commit(ctx, "", pc, resp)
	}
	if err != nil {
		res, ferr := r.fail(ctx, err)
		return liveResult(res, pc.tc), ferr
	}
	res, err := r.succeed(ctx)
	return liveResult(res, pc.tc), err
}

func liveResult(res *Result, tc *tape.Call) *LiveReplay {
	if res == nil {
		return nil
	}
	lr := &LiveReplay{Run: res.Run, Envelope: res.Envelope}
	if tc != nil {
		lr.Call = *tc
	}
	return lr
}
