package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
	"github.com/sluicehq/sluice/tape"
)

// ActionRequest is one call of a connector's execute export.
type ActionRequest struct {
	// Action names an action the manifest declares.
	Action string
	// Params is the action's JSON parameters (nil means none).
	Params json.RawMessage
	// CorrelationID goes to the connector in its input and to the remote
	// as the X-Correlation-Id header of every request; empty means RunID.
	CorrelationID string
	DryRun        bool
	// RunID names the call on its tape and seeds its randomness; empty
	// means a fresh UUIDv7.
	RunID string
}

// ActionResult is a finished execute call: the connector's answer and
// the call's tape (secrets redacted), kept for a dead-letter item.
type ActionResult struct {
	Response protocol.ExecuteResponse
	Tape     *tape.Tape
}

// VerifyResult is a finished verify call. Response.Status is always one
// of pass, fail and error: the host turns a refused request, a failed
// call or a malformed answer into error, whatever the module said.
type VerifyResult struct {
	Response protocol.VerifyResponse
	Tape     *tape.Tape
	// Refused counts the requests the host refused (any method other
	// than GET or HEAD, an undeclared host…); one is enough for error.
	Refused int64
	// ErrorType names the runbook of an error result ("" otherwise).
	ErrorType string
}

// Execute calls the connector's execute export for one declared action
// whose scopes the connection was granted. The network door sends the
// correlation id as X-Correlation-Id; there is no emit door (an action
// changes the remote, it does not ingest). A failed call returns a
// *RunError (its Type names the runbook) together with the result, whose
// tape holds the failing call.
func (e *Engine) Execute(ctx context.Context, c Connection, req ActionRequest) (*ActionResult, error) {
	if c.Tenant == nil || c.Module == nil {
		return nil, errors.New("engine: execute: connection needs a tenant and a module")
	}
	m := c.Module.Manifest
	i := slices.IndexFunc(m.Actions, func(a protocol.Action) bool { return a.Name == req.Action })
	if i < 0 {
		return nil, &DeclarationError{Kind: "action", Name: req.Action, Connector: m.ID}
	}
	if err := scopesGranted("action", req.Action, m.Actions[i].Scopes, c.Scopes); err != nil {
		return nil, err
	}
	runID, err := orNewID(req.RunID)
	if err != nil {
		return nil, err
	}
	corr := req.CorrelationID
	if corr == "" {
		corr = runID
	}
	in, err := json.Marshal(protocol.ExecuteRequest{Action: req.Action, CorrelationID: corr, Params: req.Params, DryRun: req.DryRun, Config: c.Config})
	if err != nil {
		return nil, fmt.Errorf("engine: execute input: %w", err)
	}
	oc := e.oneCall(c, runID, corr, false, protocol.ExportExecute, in)
	res := &ActionResult{Tape: oc.tape}
	out, err := oc.run(ctx, e)
	oc.minimise(req.Params)
	if err == nil {
		err = decodeOutput(protocol.ExportExecute, out, &res.Response)
	}
	if err != nil {
		return res, &RunError{RunID: runID, Type: oc.errorType(err), Err: err}
	}
	return res, nil
}

// Verify calls the connector's verify export for one declared check
// whose scopes the connection was granted, with a read-only network door
// (the host refuses every method but GET and HEAD). A refused request,
// a failed call or a malformed answer makes the result error, never pass.
// The error return is for what is not a check outcome: an undeclared
// check, scopes not granted, a bad connection.
func (e *Engine) Verify(ctx context.Context, c Connection, check string, params json.RawMessage, correlationID string) (*VerifyResult, error) {
	if c.Tenant == nil || c.Module == nil {
		return nil, errors.New("engine: verify: connection needs a tenant and a module")
	}
	m := c.Module.Manifest
	i := slices.IndexFunc(m.Checks, func(ch protocol.Check) bool { return ch.Name == check })
	if i < 0 {
		return nil, &DeclarationError{Kind: "check", Name: check, Connector: m.ID}
	}
	if err := scopesGranted("check", check, m.Checks[i].Scopes, c.Scopes); err != nil {
		return nil, err
	}
	runID, err := orNewID("")
	if err != nil {
		return nil, err
	}
	corr := correlationID
	if corr == "" {
		corr = runID
	}
	in, err := json.Marshal(protocol.VerifyRequest{Check: check, Params: params, Config: c.Config})
	if err != nil {
		return nil, fmt.Errorf("engine: verify input: %w", err)
	}
	oc := e.oneCall(c, runID, corr, true, protocol.ExportVerify, in)
	res := &VerifyResult{Tape: oc.tape}
	out, callErr := oc.run(ctx, e)
	if callErr == nil {
		callErr = decodeOutput(protocol.ExportVerify, out, &res.Response)
	}
	if callErr == nil {
		switch res.Response.Status {
		case protocol.VerifyPass, protocol.VerifyFail, protocol.VerifyError:
		default:
			callErr = &CallError{Export: protocol.ExportVerify, Kind: ErrBadOutput, Detail: fmt.Sprintf("status %q is not pass, fail or error", clipStatus(res.Response.Status))}
		}
	}
	res.Refused = oc.stats.Denied.Load()
	scrub := c.scrubber()
	switch {
	case callErr != nil:
		// Whatever the module said, a call that failed proves nothing.
		res.ErrorType = oc.errorType(callErr)
		res.Response = protocol.VerifyResponse{Status: protocol.VerifyError, Evidence: map[string]string{
			"error_type": res.ErrorType, "error": scrub.String(callErr.Error()),
		}}
	case res.Refused > 0:
		// The module was refused a request (a write, an undeclared host)
		// and answered anyway: the host knows better than its answer.
		res.ErrorType = "egress_" + oc.stats.LastDenial()
		ev := map[string]string{}
		for k, v := range res.Response.Evidence {
			ev["module."+k] = v
		}
		ev["error_type"] = res.ErrorType
		ev["refused_requests"] = fmt.Sprint(res.Refused)
		ev["module_status"] = res.Response.Status
		res.Response = protocol.VerifyResponse{Status: protocol.VerifyError, Evidence: ev}
	case res.Response.Status == protocol.VerifyError:
		res.ErrorType = "check_error"
	}
	for k, v := range res.Response.Evidence {
		res.Response.Evidence[k] = scrub.String(v)
	}
	return res, nil
}

// clipStatus keeps a module's bad status short in an error message.
func clipStatus(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

func orNewID(id string) (string, error) {
	if id != "" {
		return id, nil
	}
	u, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("engine: run id: %w", err)
	}
	return u.String(), nil
}

// scopesGranted applies least privilege to an action or check: every
// scope it declares must be granted to the connection.
func scopesGranted(kind, name string, need, granted []string) error {
	var missing []string
	for _, s := range need {
		if !slices.Contains(granted, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return &ScopeError{Kind: kind, Name: name, Missing: missing}
	}
	return nil
}

// singleCall is one invocation outside a sync run: its doors, its stats
// and its tape.
type singleCall struct {
	c      Connection
	runID  string
	export string
	input  []byte
	start  time.Time
	stats  *hostfns.NetStats
	tape   *tape.Tape
	hc     *hostfns.Call
}

// oneCall builds the doors of an execute or verify call: network to the
// manifest's hosts (read-only for verify) with the correlation id, and
// scrubbed logs; every exchange goes to the call's tape.
func (e *Engine) oneCall(c Connection, runID, corr string, readOnly bool, export string, input []byte) *singleCall {
	m := c.Module.Manifest
	scrub := c.scrubber()
	start := e.cfg.Now().UTC()
	oc := &singleCall{c: c, runID: runID, export: export, input: input, start: start,
		stats: &hostfns.NetStats{Latency: e.remoteObserver(c)}}
	oc.tape = &tape.Tape{Version: tape.FormatVersion, RunID: runID, Connector: m.ID,
		ConnectorVersion: m.Version, ModuleDigest: c.Module.Digest,
		Clock: start, Seed: fmt.Sprintf("%x", runSeed(runID))}
	tc := tape.Call{Export: export, Input: json.RawMessage(scrub.Bytes(input))}
	oc.tape.Calls = []tape.Call{tc}
	rec := &oc.tape.Calls[0]
	oc.hc = &hostfns.Call{
		Net: hostfns.NewHTTP(hostfns.HTTPConfig{
			Hosts:            m.Hosts,
			ReadOnly:         readOnly,
			Transport:        e.transport,
			Credentials:      c.Credentials,
			Scrub:            scrub,
			Limiter:          e.limiters.Get(c.Tenant.ID(), m.ID, m.RateLimit),
			MaxResponseBytes: e.limits.MaxResponseBytes,
			Sleep:            e.cfg.Sleep,
			Stats:            oc.stats,
			Correlation:      corr,
			Recorder:         func(ex tape.Exchange) { rec.Exchanges = append(rec.Exchanges, ex) },
		}),
		Logs: hostfns.NewLog(e.log.With("tenant", c.Tenant.ID(), "connection", c.ID, "run", runID,
			"correlation_id", corr, "kind", export), scrub),
	}
	return oc
}

// run makes the call on a pooled instance reset for this run, and
// records its output digest or error on the tape.
func (oc *singleCall) run(ctx context.Context, e *Engine) ([]byte, error) {
	sess, err := oc.c.Module.guest.acquire(ctx, oc.c.Tenant.ID(), oc.start, runSeed(oc.runID), false)
	if err != nil {
		return nil, err
	}
	defer sess.release(context.WithoutCancel(ctx))
	out, err := sess.call(ctx, oc.hc, oc.export, oc.input)
	tc := &oc.tape.Calls[0]
	tc.Output = digestHex(out)
	if err != nil {
		tc.Error = oc.c.scrubber().String(err.Error())
	}
	e.metrics.runs.WithLabelValues(oc.export, resultOf(err)).Inc()
	return out, err
}

// minimise takes from an action's tape what the store may not keep: the
// remote answers a change with the object (a user with its phone), so
// the names the manifest's types drop are minimised as an ingest call's
// would be, sparing the caller's own parameters.
func (oc *singleCall) minimise(params json.RawMessage) {
	var in map[string]any
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.UseNumber()
	if len(params) > 0 && dec.Decode(&in) != nil {
		in = nil
	}
	hostfns.ManifestDrops(oc.c.Module.Manifest, oc.c.Module.schemas, oc.c.Fields, in).Call(&oc.tape.Calls[0])
	oc.tape.Fields = oc.c.Fields
}

func resultOf(err error) string {
	if err != nil {
		return StateFailed
	}
	return StateSucceeded
}

// errorType names the runbook of a failed call the way a sync run does.
func (oc *singleCall) errorType(err error) string {
	return (&runner{stats: oc.stats}).errorType(err)
}
