package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

// recordCalls keeps every page call's tape.Call. Only
// BenchmarkCallTapes turns it off, to measure what always-on tapes cost;
// without it a failing page would be dead-lettered with an empty tape.
var recordCalls = true

// callSeed derives the random seed of a run's n-th export call. Every
// call starts from its own seed (and clock) so its tape replays alone.
func callSeed(runID string, n int) [32]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	return sha256.Sum256(append([]byte("sluice/seed/v1/call\x00"+runID+"\x00"), b[:]...))
}

// manifestJSON is the module's manifest as a tape carries it; nil if it
// does not encode (it always does: it was parsed from JSON).
func (r *runner) manifestJSON() json.RawMessage {
	b, err := json.Marshal(r.c.Module.Manifest)
	if err != nil {
		return nil
	}
	return b
}

// dlqScanLimit bounds the search for an existing item of the same page:
// past it a repeat failure becomes a new item rather than a long scan.
const dlqScanLimit = 5000

// deadLetter turns a page whose call failed into a dead-letter item of
// kind sync or backfill, carrying the scrubbed input, the error and a
// tape of just that call. The same page failing again (same kind, same
// scrubbed input: same stream, cursor, config and page size) updates
// the existing item instead of adding one: Attempts counts the runs that
// failed on it. An interrupted call (the run's context ended) is not a
// failure and is not dead-lettered. Writing the item is best effort: its
// failure is noted on the run and logged, never masks the page's error.
func (r *runner) deadLetter(ctx context.Context, pc *pageCall, cause error) {
	if ctx.Err() != nil && errors.Is(cause, ctx.Err()) {
		return
	}
	wctx := context.WithoutCancel(ctx)
	scrub := r.c.scrubber()
	now := r.e.cfg.Now().UTC()
	m := r.c.Module.Manifest
	tc := *pc.tc
	if tc.Error == "" {
		tc.Error = scrub.String(cause.Error())
	}
	tp := tape.Tape{Version: tape.FormatVersion, RunID: r.run.ID, Connector: m.ID, ConnectorVersion: m.Version,
		ModuleDigest: r.c.Module.Digest, Clock: tc.Clock, Seed: tc.Seed, Manifest: r.manifestJSON(), Fields: r.c.Fields,
		Calls: []tape.Call{tc}}
	tb, err := json.Marshal(&tp)
	if err != nil {
		r.dlqFailed(fmt.Errorf("encode tape: %w", err))
		return
	}
	if len(tb) > store.MaxDLQTape {
		// The item is still worth keeping (live replay needs only the
		// input); its tape is not.
		r.noteError("dlq_tape_too_large", fmt.Sprintf("tape of %d bytes dropped", len(tb)))
		tb = nil
	}
	if r.c.NoIndex {
		tb = nil // its exchanges hold the remote's objects verbatim: engine/noindex.go
	}
	msg := scrub.String(cause.Error())
	if len(msg) > store.MaxDLQError {
		msg = truncateUTF8(msg, store.MaxDLQError)
	}
	item := store.DLQItem{
		Connection: r.c.ID, Kind: r.kind, Input: tc.Input, ErrorType: r.errorType(cause), Error: msg,
		Attempts: 1, FirstFailure: now, LastFailure: now, RunID: r.run.ID,
		CorrelationID: r.run.CorrelationID, ModuleDigest: r.c.Module.Digest,
	}
	if len(item.Input) > store.MaxDLQInput {
		item.Input = nil // a config this large is not replayable anyway; the tape keeps it
	}
	prev, found, err := r.samePage(wctx, item)
	if err != nil {
		r.dlqFailed(err)
		return
	}
	if found {
		item.ID, item.FirstFailure, item.Attempts = prev.ID, prev.FirstFailure, prev.Attempts+1
	} else {
		id, err := uuid.NewV7()
		if err != nil {
			r.dlqFailed(err)
			return
		}
		item.ID = id.String()
	}
	if err := r.c.Tenant.PutDLQItem(wctx, item, tb); err != nil {
		r.dlqFailed(err)
		return
	}
	r.dlqItem = item.ID
	r.e.metrics.deadLetters.WithLabelValues(r.kind).Inc()
	r.log.Warn("page dead-lettered", "dlq_item", item.ID, "error_type", item.ErrorType, "attempts", item.Attempts)
}

// samePage finds the queued item of the same kind and input, if any.
func (r *runner) samePage(ctx context.Context, it store.DLQItem) (store.DLQItem, bool, error) {
	after := ""
	for seen := 0; seen < dlqScanLimit; {
		items, next, err := r.c.Tenant.DLQItems(ctx, r.c.ID, after, 1000)
		if err != nil {
			return store.DLQItem{}, false, err
		}
		for _, x := range items {
			if x.Kind == it.Kind && bytes.Equal(x.Input, it.Input) {
				return x, true, nil
			}
		}
		seen += len(items)
		if next == "" {
			break
		}
		after = next
	}
	return store.DLQItem{}, false, nil
}

func (r *runner) dlqFailed(err error) {
	r.noteError("dlq_write", r.c.scrubber().String(err.Error()))
	r.log.Error("dead-letter item not written", "err", err)
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
