package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
	"github.com/sluicehq/sluice/tape"
)

// replayTenant keys nothing (replay instances are never pooled) but
// names the replay in logs and entity ids of records it throws away.
// Tenant ids cannot start with an underscore.
const replayTenant = "_replay"

// ReplayReport is what Engine.Replay found: each recorded call as it
// replayed, and every difference from the recording.
type ReplayReport struct {
	RunID            string `json:"run_id"`
	Connector        string `json:"connector"`
	ConnectorVersion string `json:"connector_version"`
	// TapeModule is the module digest the tape was recorded with, Module
	// the one replayed; a difference is reported (field module_digest).
	TapeModule  string       `json:"tape_module_digest"`
	Module      string       `json:"module_digest"`
	Calls       []CallReplay `json:"calls"`
	Differences []Difference `json:"differences"`
}

// CallReplay is one call of the tape, replayed: Replayed is the call as
// the replay recorded it (same input; the replayed digests, error and
// exchanges).
type CallReplay struct {
	Index    int       `json:"index"`
	Export   string    `json:"export"`
	Replayed tape.Call `json:"replayed"`
}

// Difference is one way a replay differs from its tape. Call is the
// call's index, -1 for the tape as a whole; Field names what differs
// ("emits[2]", "output", "error", "exchanges[0].request", …); Want is the
// recorded value and Got the replayed one ("" for absent).
type Difference struct {
	Call  int    `json:"call"`
	Field string `json:"field"`
	Want  string `json:"want"`
	Got   string `json:"got"`
}

// Identical reports whether the replay matched the tape in every digest,
// error and exchange.
func (r *ReplayReport) Identical() bool { return len(r.Differences) == 0 }

// Failed reports whether any replayed call ended in an error.
func (r *ReplayReport) Failed() bool {
	for _, c := range r.Calls {
		if c.Replayed.Error != "" {
			return true
		}
	}
	return false
}

// Digest is the SHA-256 (hex) of what the replay produced (each call's
// export, emit and log digests, output digest, error and requests): two
// replays of one tape by one module have the same Digest.
func (r *ReplayReport) Digest() string {
	h := sha256.New()
	for _, c := range r.Calls {
		rc := c.Replayed
		fmt.Fprintf(h, "call %d %s\noutput %s\nerror %q\n", c.Index, rc.Export, rc.Output, rc.Error)
		for _, d := range rc.Emits {
			fmt.Fprintf(h, "emit %s\n", d)
		}
		for _, d := range rc.Logs {
			fmt.Fprintf(h, "log %s\n", d)
		}
		for _, ex := range rc.Exchanges {
			fmt.Fprintf(h, "request %s %s %s\n", ex.Request.Method, ex.Request.URL, digestHex(ex.Request.Body))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Diff renders the report for people: a header, then each difference
// grouped by call. An identical replay says so in one line.
func (r *ReplayReport) Diff() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tape of run %s, connector %s@%s: %d calls replayed\n", r.RunID, r.Connector, r.ConnectorVersion, len(r.Calls))
	if r.Identical() {
		fmt.Fprintf(&b, "identical: every emit, log, output, error and exchange matches (replay digest %s)\n", r.Digest())
		return b.String()
	}
	fmt.Fprintf(&b, "%d differences (- recorded, + replayed):\n", len(r.Differences))
	last := -2
	for _, d := range r.Differences {
		if d.Call != last {
			if d.Call < 0 {
				b.WriteString("tape:\n")
			} else {
				fmt.Fprintf(&b, "call %d (%s):\n", d.Call, r.Calls[d.Call].Export)
			}
			last = d.Call
		}
		fmt.Fprintf(&b, "  %s\n    - %s\n    + %s\n", d.Field, show(d.Want), show(d.Got))
	}
	return b.String()
}

func show(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Replay re-runs every call of tp on m, offline: each call gets its
// recorded input, clock and random seed on a fresh instance, its
// sluice_http requests are answered from the tape (hostfns.TapePlayer;
// requests the manifest refuses are refused again by the host), what it
// emits is checked and thrown away, and nothing is written to the store
// or sent to the network. The report lists every difference; a replay
// that differs is not an error. Errors are a bad tape, a canceled ctx,
// or an instance that cannot be created.
func (e *Engine) Replay(ctx context.Context, m *Module, tp *tape.Tape) (*ReplayReport, error) {
	if m == nil || tp == nil {
		return nil, errors.New("engine: replay: a module and a tape are required")
	}
	if err := tp.Validate(); err != nil {
		return nil, fmt.Errorf("engine: replay: %w", err)
	}
	rep := &ReplayReport{RunID: tp.RunID, Connector: tp.Connector, ConnectorVersion: tp.ConnectorVersion,
		TapeModule: tp.ModuleDigest, Module: m.Digest, Calls: []CallReplay{}, Differences: []Difference{}}
	if tp.ModuleDigest != "" && tp.ModuleDigest != m.Digest {
		rep.Differences = append(rep.Differences, Difference{Call: -1, Field: "module_digest", Want: tp.ModuleDigest, Got: m.Digest})
	}
	// Calls without their own clock continue one session started at the
	// tape's clock and seed, as the run that recorded them did.
	var shared session
	defer func() {
		if shared != nil {
			shared.release(context.WithoutCancel(ctx))
		}
	}()
	for i := range tp.Calls {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rc := &tp.Calls[i]
		sess := shared
		if !rc.Clock.IsZero() || sess == nil {
			clock, seed, err := replayStart(tp, rc)
			if err != nil {
				return nil, fmt.Errorf("engine: replay: %w", err)
			}
			if sess, err = m.guest.acquire(ctx, replayTenant, clock, seed, true); err != nil {
				return nil, err
			}
			if rc.Clock.IsZero() {
				shared = sess
			}
		}
		got, err := e.replayCall(ctx, m, sess, tp, rc)
		if sess != shared {
			sess.release(context.WithoutCancel(ctx))
		}
		if err != nil {
			return nil, err
		}
		rep.Calls = append(rep.Calls, CallReplay{Index: i, Export: rc.Export, Replayed: got})
		rep.Differences = append(rep.Differences, compareCall(i, rc, &got)...)
	}
	return rep, nil
}

// replayStart is the clock and seed a recorded call began with.
func replayStart(tp *tape.Tape, rc *tape.Call) (time.Time, [32]byte, error) {
	clock, seedHex := tp.Clock, tp.Seed
	if !rc.Clock.IsZero() {
		clock, seedHex = rc.Clock, rc.Seed
	}
	var seed [32]byte
	if seedHex != "" {
		var err error
		if seed, err = tape.DecodeSeed(seedHex); err != nil {
			return clock, seed, err
		}
	}
	return clock, seed, nil
}

// replayCall makes one recorded call again with the doors the live call
// had, each answering from or recording into the replay.
func (e *Engine) replayCall(ctx context.Context, m *Module, sess session, tp *tape.Tape, rc *tape.Call) (tape.Call, error) {
	got := tape.Call{Export: rc.Export, Input: rc.Input, Clock: rc.Clock, Seed: rc.Seed}
	clock, _, _ := replayStart(tp, rc)
	player := hostfns.NewTapePlayer(rc.Exchanges)
	scrub := hostfns.NewScrubber()
	net, readOnly, emit := replayDoors(rc.Export)
	hc := &hostfns.Call{}
	if net {
		hc.Net = hostfns.NewHTTP(hostfns.HTTPConfig{
			Hosts: m.Manifest.Hosts, ReadOnly: readOnly, Scrub: scrub,
			MaxResponseBytes: e.limits.MaxResponseBytes,
			Player:           player.Play,
			Sleep:            func(context.Context, time.Duration) error { return nil },
			Recorder:         func(ex tape.Exchange) { got.Exchanges = append(got.Exchanges, ex) },
		})
	}
	if emit {
		stream, rng := streamOf(rc.Export, rc.Input)
		hc.Sink = hostfns.NewEmitter(hostfns.EmitConfig{
			Tenant: replayTenant[1:], Connector: m.Manifest.ID, Connection: "replay", RunID: "replay",
			Schemas: m.schemas, Manifest: m.Manifest, Stream: stream, Range: rng,
			MaxRecords: e.limits.MaxRecordsPerCall, Scrub: scrub,
			Clock:    func() time.Time { return clock },
			Recorder: func(d string) { got.Emits = append(got.Emits, d) },
			// Format 1 digested the raw batches; format 2 what the host
			// kept of them, under the connection's narrowing.
			RecordBatches: tp.Version < 2,
			Narrow:        tp.Fields,
			Refused:       rc.Refused,
		})
	}
	if rc.Export != protocol.ExportDiscover {
		hc.Logs = hostfns.NewLog(nil, scrub)
		hc.Logs.Recorder = func(d string) { got.Logs = append(got.Logs, d) }
	}
	out, err := sess.call(ctx, hc, rc.Export, rc.Input)
	if err != nil && ctx.Err() != nil {
		return got, ctx.Err()
	}
	got.Output = digestHex(out)
	if err != nil {
		got.Error = err.Error()
	}
	// Recorded requests the replay never made show up in compareCall as
	// missing exchanges.
	return got, nil
}

// replayDoors are the doors the engine opens for each export live.
func replayDoors(export string) (net, readOnly, emit bool) {
	switch export {
	case protocol.ExportDiscover:
		return false, false, false
	case protocol.ExportHealth, protocol.ExportVerify:
		return true, true, false
	case protocol.ExportExecute, protocol.ExportAuthorize:
		return true, false, false
	}
	return true, false, true
}

// streamOf reads the stream and backfill range of a page's input (or of
// the page a replay request carries), to scope the emit door as the live
// call's was; anything else emits into every declared type.
func streamOf(export string, input json.RawMessage) (string, *protocol.Range) {
	if export == protocol.ExportReplay {
		var rr protocol.ReplayRequest
		if json.Unmarshal(input, &rr) != nil {
			return "", nil
		}
		export, input = rr.Kind, rr.Input
	}
	if export != protocol.ExportSync && export != protocol.ExportBackfill {
		return "", nil
	}
	var in struct {
		Stream string          `json:"stream"`
		Range  *protocol.Range `json:"range"`
	}
	if json.Unmarshal(input, &in) != nil {
		return "", nil
	}
	if export == protocol.ExportSync {
		in.Range = nil
	}
	return in.Stream, in.Range
}

// compareCall lists how a replayed call differs from its recording.
func compareCall(i int, want, got *tape.Call) []Difference {
	var out []Difference
	add := func(field, w, g string) {
		if w != g {
			out = append(out, Difference{Call: i, Field: field, Want: w, Got: g})
		}
	}
	add("error", want.Error, got.Error)
	add("output", want.Output, got.Output)
	out = append(out, compareDigests(i, "emits", want.Emits, got.Emits)...)
	out = append(out, compareDigests(i, "logs", want.Logs, got.Logs)...)
	for j := 0; j < max(len(want.Exchanges), len(got.Exchanges)); j++ {
		field := fmt.Sprintf("exchanges[%d]", j)
		switch {
		case j >= len(got.Exchanges):
			add(field, exchangeLine(want.Exchanges[j]), "")
		case j >= len(want.Exchanges):
			add(field, "", exchangeLine(got.Exchanges[j]))
		default:
			w, g := want.Exchanges[j], got.Exchanges[j]
			add(field+".request", requestLine(w.Request), requestLine(g.Request))
			add(field+".response", responseLine(w.Response), responseLine(g.Response))
		}
	}
	return out
}

func compareDigests(i int, name string, want, got []string) []Difference {
	var out []Difference
	for j := 0; j < max(len(want), len(got)); j++ {
		var w, g string
		if j < len(want) {
			w = want[j]
		}
		if j < len(got) {
			g = got[j]
		}
		if w != g {
			out = append(out, Difference{Call: i, Field: fmt.Sprintf("%s[%d]", name, j), Want: w, Got: g})
		}
	}
	return out
}

func requestLine(r protocol.HTTPRequest) string {
	s := r.Method + " " + r.URL
	if len(r.Body) > 0 {
		s += " body sha256:" + digestHex(r.Body)
	}
	return s
}

// responseLine shows what the module was answered; a replayed answer
// differs from the tape's only when the host decided differently (a
// policy refusal, a diverged request).
func responseLine(r protocol.HTTPResponse) string {
	if r.Status == 0 {
		return "refused (" + r.ErrorType + ")"
	}
	return fmt.Sprintf("%d body sha256:%s", r.Status, digestHex(r.Body))
}

func exchangeLine(ex tape.Exchange) string {
	return requestLine(ex.Request) + " → " + responseLine(ex.Response)
}
