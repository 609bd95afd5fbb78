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
// together with the cursor that follows, in one transaction.
func (r *runner) page(ctx context.Context, sess session, s protocol.Stream, cursor string) (string, bool, error) {
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
	hc, sink, tc := r.doors(s.Name, export, input)
	began := time.Now()
	out, callErr := sess.call(ctx, hc, export, input)
	wasm := time.Since(began)
	emitted := sink.Take()
	r.meter(ctx, int64(emitted.Read), wasm, false)
	if tc != nil {
		tc.Output = digestHex(out)
		if callErr != nil {
			tc.Error = callErr.Error()
		}
		r.tape.Calls = append(r.tape.Calls, *tc)
	}
	r.run.Counts.Read += int64(emitted.Read)
	if emitted.Overflowed {
		return "", false, &CallError{Export: export, Kind: ErrTooManyRecords, Detail: fmt.Sprintf("more than %d records in one call", r.e.limits.MaxRecordsPerCall)}
	}
	if callErr != nil {
		return "", false, callErr
	}
	var resp protocol.SyncResponse
	if err := decodeOutput(export, out, &resp); err != nil {
		return "", false, err
	}
	if len(resp.NextCursor) > maxCursor {
		return "", false, &CallError{Export: export, Kind: ErrBadOutput, Detail: fmt.Sprintf("next_cursor is %d bytes, the cap is %d", len(resp.NextCursor), maxCursor)}
	}
	for _, rej := range emitted.Rejections {
		r.noteError(rejectionType(rej), rej.Reason)
	}
	r.run.Counts.Errors += int64(len(emitted.Rejections))
	objs := emitted.Objects
	for i := range objs {
		d, err := r.digester.ObjectDigest(objs[i].EntityID, objs[i].Data)
		if err != nil {
			return "", false, fmt.Errorf("digest %s: %w", objs[i].EntityID, err)
		}
		objs[i].Digest = hex.EncodeToString(d[:])
		objs[i].RunID = r.run.ID
	}
	r.run.Cursors[s.Name] = resp.NextCursor
	r.run.Errors = r.errorList()
	pg := store.Page{
		Connection: r.c.ID,
		Objects:    objs,
		Edges:      emitted.Edges,
		Lineage:    emitted.Lineage,
		Deletions:  emitted.Deletions,
		Checkpoint: store.Checkpoint{
			Connection: r.c.ID, Stream: s.Name, Kind: r.kind, RunID: r.run.ID,
			Cursor: resp.NextCursor, Done: !resp.HasMore, Full: r.run.Full,
			UpdatedAt: r.e.cfg.Now().UTC(),
		},
	}
	// The store adds the page's outcomes to the run's counts inside the
	// same transaction, so a resumed run never loses or double-counts.
	pg.Run = r.run
	res, err := r.c.Tenant.CommitPage(ctx, pg)
	if err != nil {
		return "", false, fmt.Errorf("commit page: %w", err)
	}
	r.run.Counts.Created += int64(res.Created)
	r.run.Counts.Updated += int64(res.Updated)
	r.run.Counts.Skipped += int64(res.Skipped)
	r.e.metrics.records.WithLabelValues("created").Add(float64(res.Created))
	r.e.metrics.records.WithLabelValues("updated").Add(float64(res.Updated))
	r.e.metrics.records.WithLabelValues("skipped").Add(float64(res.Skipped))
	r.e.metrics.records.WithLabelValues("rejected").Add(float64(len(emitted.Rejections)))
	return resp.NextCursor, resp.HasMore, nil
}

// doors builds the capabilities of one call: egress to the manifest's
// hosts with the connection's credentials, emit into this stream, and
// scrubbed logs.
func (r *runner) doors(stream, export string, input []byte) (*hostfns.Call, *hostfns.Emitter, *tape.Call) {
	m := r.c.Module.Manifest
	scrub := r.c.scrubber()
	var tc *tape.Call
	if r.tape != nil {
		// A secret pasted into config must not reach the tape.
		tc = &tape.Call{Export: export, Input: json.RawMessage(scrub.Bytes(input))}
	}
	if r.stats == nil {
		r.stats = &hostfns.NetStats{Latency: r.e.latency.observe(connKey{r.c.Tenant.ID(), r.c.ID})}
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
	}
	ecfg := hostfns.EmitConfig{
		Tenant: r.c.Tenant.ID(), Connector: m.ID, Connection: r.c.ID, RunID: r.run.ID,
		Schemas: r.c.Module.schemas, Manifest: m, Stream: stream, Range: r.run.Range,
		MaxRecords: r.e.limits.MaxRecordsPerCall, Scrub: scrub, Clock: r.e.cfg.Now,
	}
	if tc != nil {
		hcfg.Recorder = func(ex tape.Exchange) { tc.Exchanges = append(tc.Exchanges, ex) }
		ecfg.Recorder = func(d string) { tc.Emits = append(tc.Emits, d) }
	}
	sink := hostfns.NewEmitter(ecfg)
	call := &hostfns.Call{
		Net:  hostfns.NewHTTP(hcfg),
		Sink: sink,
		Logs: hostfns.NewLog(r.log, scrub),
	}
	return call, sink, tc
}

func (r *runner) noteError(typ, msg string) {
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
	day := r.e.cfg.Now().UTC().Format(store.DayLayout)
	if err := r.c.Tenant.AddUsage(context.WithoutCancel(ctx), day, r.c.Module.Manifest.ID, u); err != nil {
		r.noteError("metering", err.Error())
	}
}
