package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Invoke runs one export of c the way the Wasm glue does: it decodes
// input as the export's request, calls the handler with a Host backed by
// t, flushes what the handler emitted, and returns the export's JSON
// output. The Wasm glue runs the same code (it only streams a sync
// response instead of returning it as one slice), so a native test of
// Invoke exercises what a module runs.
//
// Errors: ErrUnknownExport for a name outside the ABI, ErrNotSupported
// for a nil handler, ErrBadInput (an *InputError) for input that is not
// the export's JSON request, a *PanicError for a handler panic, and
// otherwise the handler's error wrapped with the export name. discover
// ignores its input; health accepts no input or a HealthRequest.
// Buffered records are flushed even when the handler returns an error
// (not when it panics), so the host sees every record the connector
// emitted; whether a failed call's records are kept is the host's
// decision.
func Invoke(ctx context.Context, c Connector, t Transport, export string, input []byte) ([]byte, error) {
	res, err := invoke(ctx, c, t, export, input)
	if err != nil {
		return nil, err
	}
	return res.bytes(), nil
}

// result is an export's output: encoded bytes, or a sync response left
// for the Wasm glue to stream (see syncResponseChunks).
type result struct {
	raw  []byte
	sync *protocol.SyncResponse
}

func (r result) bytes() []byte {
	if r.sync != nil {
		return appendSyncResponse(make([]byte, 0, len(r.sync.NextCursor)+40), r.sync)
	}
	return r.raw
}

func invoke(ctx context.Context, c Connector, t Transport, export string, input []byte) (res result, err error) {
	if t == nil {
		return result{}, ErrNilTransport
	}
	if ctx == nil {
		ctx = context.Background()
	}
	h := &Host{ctx: ctx, t: t}
	defer h.close()
	defer func() {
		if r := recover(); r != nil {
			res, err = result{}, &PanicError{Export: export, Value: r}
		}
	}()
	res, err = dispatch(c, h, export, input, true)
	if ferr := h.Flush(); err == nil && ferr != nil {
		return result{}, fmt.Errorf("sdk: %s: flushing emits: %w", export, ferr)
	}
	if err != nil {
		return result{}, err
	}
	return res, nil
}

// dispatch runs the handler of export. allowReplay is false while
// replaying, so a dead-letter item cannot name replay itself.
func dispatch(c Connector, h *Host, export string, input []byte, allowReplay bool) (result, error) {
	switch export {
	case protocol.ExportDiscover:
		return callNoInput(h, export, c.Discover)
	case protocol.ExportHealth:
		if c.Health == nil {
			return result{}, fmt.Errorf("%w: %s", ErrNotSupported, export)
		}
		// health's input (HealthRequest) was added after v1 shipped:
		// no input is fine, a document must decode.
		if len(input) > 0 {
			var req protocol.HealthRequest
			if err := decodeInput(export, input, &req); err != nil {
				return result{}, err
			}
			h.config = req.Config
		}
		return callNoInput(h, export, c.Health)
	case protocol.ExportAuthorize:
		return call(h, export, input, c.Authorize)
	case protocol.ExportSync:
		return call(h, export, input, c.Sync)
	case protocol.ExportBackfill:
		return call(h, export, input, c.Backfill)
	case protocol.ExportWebhook:
		return call(h, export, input, c.Webhook)
	case protocol.ExportExecute:
		return call(h, export, input, c.Execute)
	case protocol.ExportVerify:
		return call(h, export, input, c.Verify)
	case protocol.ExportReplay:
		if !allowReplay {
			return result{}, &InputError{Export: export, Err: errors.New("a replay item cannot replay a replay")}
		}
		var req protocol.ReplayRequest
		if err := decodeInput(export, input, &req); err != nil {
			return result{}, err
		}
		if c.Replay != nil {
			out, err := c.Replay(h, req)
			if err != nil {
				return result{}, fmt.Errorf("sdk: %s: %w", export, err)
			}
			return result{raw: out}, nil
		}
		return dispatch(c, h, req.Kind, req.Input, false)
	}
	return result{}, fmt.Errorf("%w: %q", ErrUnknownExport, export)
}

// call decodes the request, runs fn and encodes its response.
func call[Req, Resp any](h *Host, export string, input []byte, fn func(*Host, Req) (Resp, error)) (result, error) {
	if fn == nil {
		return result{}, fmt.Errorf("%w: %s", ErrNotSupported, export)
	}
	var req Req
	if err := decodeInput(export, input, &req); err != nil {
		return result{}, err
	}
	h.config = configOf(&req)
	resp, err := fn(h, req)
	if err != nil {
		return result{}, fmt.Errorf("sdk: %s: %w", export, err)
	}
	return encodeOutput(export, &resp)
}

// callNoInput runs an export that takes no input.
func callNoInput[Resp any](h *Host, export string, fn func(*Host) (Resp, error)) (result, error) {
	if fn == nil {
		return result{}, fmt.Errorf("%w: %s", ErrNotSupported, export)
	}
	resp, err := fn(h)
	if err != nil {
		return result{}, fmt.Errorf("sdk: %s: %w", export, err)
	}
	return encodeOutput(export, &resp)
}

// decodeInput decodes an export's JSON request. Unknown fields are
// accepted so that a newer host can add fields without breaking older
// modules; an empty input is refused because the host always sends one.
func decodeInput(export string, input []byte, v any) error {
	if len(input) == 0 {
		return &InputError{Export: export, Err: errors.New("empty input, want a JSON object")}
	}
	if err := json.Unmarshal(input, v); err != nil {
		return &InputError{Export: export, Err: err}
	}
	return nil
}

// encodeOutput encodes an export's response; a sync response stays a
// value for the glue to stream.
func encodeOutput(export string, v any) (result, error) {
	if r, ok := v.(*protocol.SyncResponse); ok {
		return result{sync: r}, nil
	}
	out, err := json.Marshal(v)
	if err != nil {
		return result{}, fmt.Errorf("sdk: %s: encoding output: %w", export, err)
	}
	return result{raw: out}, nil
}

// configOf returns the connection config carried by a request.
func configOf(req any) protocol.Config {
	switch r := req.(type) {
	case *protocol.AuthorizeRequest:
		return r.Config
	case *protocol.SyncRequest:
		return r.Config
	case *protocol.BackfillRequest:
		return r.Config
	case *protocol.WebhookRequest:
		return r.Config
	case *protocol.ExecuteRequest:
		return r.Config
	case *protocol.VerifyRequest:
		return r.Config
	}
	return nil
}
