package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

// maxCursor caps a connector's cursor: it is stored with every page and
// echoed in receipts.
const maxCursor = 1024

// page makes one call of sync or backfill and commits what it emitted
// together with the cursor that follows, in one transaction. A call that
// fails (after the host's retries of each request) becomes a dead-letter
// item carrying the call's tape, and the page's error fails the run.
func (r *runner) page(ctx context.Context, s protocol.Stream, cursor string) (string, bool, error) {
	var (
		export string
		input  []byte
		err    error
	)
	pageSize := r.o.PageSize
	if pageSize <= 0 {
		pageSize = 500
	}
	if r.kind == KindBackfill {
		export = protocol.ExportBackfill
		input, err = json.Marshal(protocol.BackfillRequest{Stream: s.Name, Range: *r.run.Range, Cursor: cursor, Config: r.c.Config, PageSize: pageSize})
	} else {
		export = protocol.ExportSync
		input, err = json.Marshal(protocol.SyncRequest{Stream: s.Name, Cursor: cursor, Config: r.c.Config, PageSize: pageSize})
	}
	if err != nil {
		return "", false, err
	}
	pc, err := r.invoke(ctx, s.Name, export, input)
	if err != nil {
		return "", false, err
	}
	resp, err := r.pageOutput(export, pc)
	if err != nil {
		r.deadLetter(ctx, pc, err)
		return "", false, err
	}
	if err := r.commit(ctx, s.Name, pc, resp); err != nil {
		return "", false, err
	}
	return resp.NextCursor, resp.HasMore, nil
}

// pageCall is one export call of a run: what it returned, what it
// emitted, and its tape.Call, recorded whether or not the run keeps a
// tape, so a failing call can be dead-lettered with its own tape.
type pageCall struct {
	export  string
	out     []byte
	err     error
	emitted hostfns.Emitted
	tc      *tape.Call
}

// invoke makes one call of export on a pooled instance whose clock and
// random source are reset for this call alone (so its tape replays
// without the calls before it), and records it.
func (r *runner) invoke(ctx context.Context, stream, export string, input []byte) (*pageCall, error) {
	r.calls++
	clock := r.e.cfg.Now().UTC()
	seed := callSeed(r.run.ID, r.calls)
	sess, err := r.c.Module.guest.acquire(ctx, r.c.Tenant.ID(), clock, seed, false)
	if err != nil {
		return nil, err
	}
	defer sess.release(context.WithoutCancel(ctx))
	hc, sink, tc := r.doors(stream, export, input)
	tc.Clock, tc.Seed = clock, hex.EncodeToString(seed[:])
	began := time.Now()
	out, callErr := sess.call(ctx, hc, export, input)
	wasm := time.Since(began)
	pc := &pageCall{export: export, out: out, err: callErr, emitted: sink.Take(), tc: tc}
	// The tape keeps no value the store may not (see hostfns.Drops).
	sink.Drops().Call(tc)
	r.meter(ctx, int64(pc.emitted.Read), wasm, false)
	tc.Output = digestHex(out)
	if callErr != nil {
		tc.Error = r.c.scrubber().String(callErr.Error())
	}
	if r.tape != nil {
		r.tape.Calls = append(r.tape.Calls, *tc)
	}
	r.run.Counts.Read += int64(pc.emitted.Read)
	return pc, nil
}

// pageOutput checks a call's outcome and decodes its SyncResponse; every
// error it returns is the connector's (dead-letter material).
func (r *runner) pageOutput(export string, pc *pageCall) (protocol.SyncResponse, error) {
	var resp protocol.SyncResponse
	if pc.emitted.Overflowed {
		return resp, &CallError{Export: export, Kind: ErrTooManyRecords, Detail: fmt.Sprintf("more than %d records in one call", r.e.limits.MaxRecordsPerCall)}
	}
	if pc.err != nil {
		return resp, pc.err
	}
	if err := decodeOutput(export, pc.out, &resp); err != nil {
		return resp, err
	}
	if len(resp.NextCursor) > maxCursor {
		return resp, &CallError{Export: export, Kind: ErrBadOutput, Detail: fmt.Sprintf("next_cursor is %d bytes, the cap is %d", len(resp.NextCursor), maxCursor)}
	}
	return resp, nil
}

// commit stores what a successful call emitted, with the checkpoint of
// stream (none if stream is ""), in one transaction.
func (r *runner) commit(ctx context.Context, stream string, pc *pageCall, resp protocol.SyncResponse) error {
	emitted := pc.emitted
	r.noteRejections(emitted.Rejections)
	r.run.Counts.Dropped += int64(emitted.Dropped)
	objs := emitted.Objects
	for i := range objs {
		d, err := r.digester.ObjectDigest(objs[i].EntityID, objs[i].Data)
		if err != nil {
			return fmt.Errorf("digest %s: %w", objs[i].EntityID, err)
		}
		objs[i].Digest = hex.EncodeToString(d[:])
		objs[i].RunID = r.run.ID
	}
	if stream != "" {
		r.run.Cursors[stream] = resp.NextCursor
	}
	r.run.Errors = r.errorList()
	pg := store.Page{
		Connection: r.c.ID,
		Objects:    objs,
		Edges:      emitted.Edges,
		Lineage:    emitted.Lineage,
		Deletions:  emitted.Deletions,
		Retention:  r.c.Retention,
	}
	if stream != "" {
		pg.Checkpoint = store.Checkpoint{
			Connection: r.c.ID, Stream: stream, Kind: r.kind, RunID: r.run.ID,
			Cursor: resp.NextCursor, Done: !resp.HasMore, Full: r.run.Full,
			UpdatedAt: r.e.cfg.Now().UTC(),
		}
	}
	if r.c.NoIndex {
		if err := r.outbound(ctx, &pg); err != nil { // engine/noindex.go
			return err
		}
	}
	// The store adds the page's outcomes to the run's counts inside the
	// same transaction, so a resumed run never loses or double-counts.
	pg.Run = r.run
	res, err := r.commitPage(ctx, pg) // traced: engine/trace.go
	if err != nil {
		return fmt.Errorf("commit page: %w", err)
	}
	r.run.Counts.Created += int64(res.Created)
	r.run.Counts.Updated += int64(res.Updated)
	r.run.Counts.Skipped += int64(res.Skipped)
	r.e.metrics.records.WithLabelValues("created").Add(float64(res.Created))
	r.e.metrics.records.WithLabelValues("updated").Add(float64(res.Updated))
	r.e.metrics.records.WithLabelValues("skipped").Add(float64(res.Skipped))
	r.e.metrics.records.WithLabelValues("rejected").Add(float64(len(emitted.Rejections)))
	return nil
}

// doors builds the capabilities of one call: egress to the manifest's
// hosts with the connection's credentials, emit into this stream, and
// scrubbed logs, each recording into the call's tape.Call.
func (r *runner) doors(stream, export string, input []byte) (*hostfns.Call, *hostfns.Emitter, *tape.Call) {
	m := r.c.Module.Manifest
	scrub := r.c.scrubber()
	// A secret pasted into config must not reach the tape.
	tc := &tape.Call{Export: export, Input: json.RawMessage(scrub.Bytes(input)), Refused: r.refusedTypes(stream)}
	if r.stats == nil {
		r.stats = &hostfns.NetStats{Latency: r.e.remoteObserver(r.c)}
	}
	hcfg := hostfns.HTTPConfig{
		Hosts:            m.Hosts,
		Transport:        r.e.transport,
		Credentials:      r.c.Credentials,
		Scrub:            scrub,
		Limiter:          r.e.limiters.Get(r.c.Tenant.ID(), m.ID, m.RateLimit),
		MaxResponseBytes: r.e.limits.MaxResponseBytes,
		Sleep:            r.e.cfg.Sleep,
		Stats:            r.stats,
		Correlation:      r.run.CorrelationID,
		Recorder:         func(ex tape.Exchange) { tc.Exchanges = append(tc.Exchanges, ex) },
	}
	ecfg := hostfns.EmitConfig{
		Tenant: r.c.Tenant.ID(), Connector: m.ID, Connection: r.c.ID, RunID: r.run.ID,
		Schemas: r.c.Module.schemas, Manifest: m, Stream: stream, Range: r.run.Range,
		MaxRecords: r.e.limits.MaxRecordsPerCall, Scrub: scrub, Clock: r.e.cfg.Now,
		Recorder: func(d string) { tc.Emits = append(tc.Emits, d) },
		Narrow:   r.c.Fields,
		Refused:  tc.Refused,
	}
	if !recordCalls {
		hcfg.Recorder, ecfg.Recorder = nil, nil
	}
	sink := hostfns.NewEmitter(ecfg)
	logs := hostfns.NewLog(r.log, scrub)
	if recordCalls {
		logs.Recorder = func(d string) { tc.Logs = append(tc.Logs, d) }
	}
	call := &hostfns.Call{
		Net:  hostfns.NewHTTP(hcfg),
		Sink: sink,
		Logs: logs,
	}
	return call, sink, tc
}

func (r *runner) noteError(typ, msg string) {
	r.e.metrics.noteError(r.kind, typ)
	if re, ok := r.errs[typ]; ok {
		re.Count++
		return
	}
	r.errs[typ] = &store.RunError{Type: typ, Message: msg, Count: 1}
}

func (r *runner) errorList() []store.RunError {
	out := make([]store.RunError, 0, len(r.errs))
	for _, re := range r.errs {
		out = append(out, *re)
	}
	sortErrors(out)
	return out
}

func rejectionType(rej protocol.Rejection) string {
	if rej.Kind == "" {
		return "rejected"
	}
	return "rejected_" + rej.Kind
}

func digestHex(b []byte) string {
	if b == nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// saltKey returns the tenant's payload-manifest salt key, creating it on
// first use. It never leaves the store: redacted fields stay unguessable.
func saltKey(ctx context.Context, t *store.Tenant) ([]byte, error) {
	k, err := t.Key(ctx, "payload-salt")
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	k = make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := t.PutKey(ctx, "payload-salt", k); err != nil {
		return nil, err
	}
	return k, nil
}

// scrubber is the connection's scrubber with its listed secrets.
func (c Connection) scrubber() *hostfns.Scrubber {
	if c.Scrub == nil {
		return hostfns.NewScrubber(c.Secrets...)
	}
	c.Scrub.Add(c.Secrets...)
	return c.Scrub
}

// meter adds a page's (or a run start's) usage to the tenant's metering:
// records emitted, remote calls and bytes since the last page, Wasm time.
// A metering write that fails is noted on the run, not fatal to it: the
// page is already committed.
func (r *runner) meter(ctx context.Context, records int64, wasm time.Duration, runStart bool) {
	u := store.Usage{Records: records, WasmMillis: wasm.Milliseconds()}
	if runStart {
		u.Runs = 1
	}
	if r.stats != nil {
		calls, bytes := r.stats.Requests.Load(), r.stats.BytesIn.Load()
		u.RemoteCalls, u.Bytes = calls-r.metered.calls, bytes-r.metered.bytes
		r.metered.calls, r.metered.bytes = calls, bytes
	}
	r.e.metrics.meter(r.c.Tenant.ID(), u)
	day := r.e.cfg.Now().UTC().Format(store.DayLayout)
	if err := r.c.Tenant.AddUsage(context.WithoutCancel(ctx), day, r.c.Module.Manifest.ID, u); err != nil {
		r.noteError("metering", err.Error())
	}
}
