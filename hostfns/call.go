package hostfns

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	extism "github.com/extism/go-sdk"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Call holds one invocation's capabilities. A nil field means that door
// is shut: its host function answers "denied" (sluice_log drops the line).
// The zero Call, or no Call at all, shuts every door.
type Call struct {
	Net  *HTTP
	Sink *Emitter
	Logs *Log
}

type callKey struct{}

// WithCall attaches c to the context of one plug-in call; the host
// functions find it there.
func WithCall(ctx context.Context, c *Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

func callFrom(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

// Caps on what a host function reads from guest memory. Larger blocks are
// refused before they are copied.
const (
	maxHTTPRequestBytes = 16 << 20 // JSON, so a body up to ~12 MiB after base64
	maxEmitBatchBytes   = 64 << 20
)

// HTTP handles one sluice_http call: JSON [protocol.HTTPRequest] in, JSON
// [protocol.HTTPResponse] out. c may be nil.
func (c *Call) HTTP(ctx context.Context, req []byte) []byte {
	if c == nil || c.Net == nil {
		return httpError(ErrorTypeDenied, "sluice_http is not available in this invocation")
	}
	var r protocol.HTTPRequest
	if err := json.Unmarshal(req, &r); err != nil {
		c.Net.stats.Requests.Add(1)
		c.Net.stats.denied(ErrorTypeBadRequest)
		return httpError(ErrorTypeBadRequest, "request is not a valid HTTPRequest: "+c.Net.cfg.Scrub.String(err.Error()))
	}
	return mustJSON(c.Net.Do(ctx, r))
}

// Emit handles one sluice_emit call: JSON [protocol.EmitBatch] in, JSON
// [protocol.EmitResult] out. c may be nil.
func (c *Call) Emit(ctx context.Context, batch []byte) []byte {
	if c == nil || c.Sink == nil {
		return mustJSON(protocol.EmitResult{Error: "sluice_emit is not available in this invocation"})
	}
	return mustJSON(c.Sink.Emit(ctx, batch))
}

// Log handles one sluice_log call. c may be nil (the line is dropped).
func (c *Call) Log(ctx context.Context, level protocol.LogLevel, msg string) {
	if c == nil || c.Logs == nil {
		return
	}
	c.Logs.Write(ctx, level, msg)
}

func httpError(errorType, msg string) []byte {
	return mustJSON(protocol.HTTPResponse{Error: msg, ErrorType: errorType})
}

// mustJSON marshals the package's own answer types, whose encoding
// cannot fail (strings, ints, byte slices and maps of strings).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"error":"internal: answer not encodable"}`)
	}
	return b
}

// Functions returns the host functions to link into every plug-in, in
// namespace [protocol.HostNamespace]. They carry no state: each call finds
// its capabilities with the context's [Call] (see [WithCall]), so one
// compiled module serves every tenant.
func Functions() []extism.HostFunction {
	fns := []extism.HostFunction{
		extism.NewHostFunctionWithStack(protocol.FuncHTTP, hostHTTP,
			[]extism.ValueType{extism.ValueTypePTR}, []extism.ValueType{extism.ValueTypePTR}),
		extism.NewHostFunctionWithStack(protocol.FuncEmit, hostEmit,
			[]extism.ValueType{extism.ValueTypePTR}, []extism.ValueType{extism.ValueTypePTR}),
		extism.NewHostFunctionWithStack(protocol.FuncLog, hostLog,
			[]extism.ValueType{extism.ValueTypeI32, extism.ValueTypePTR}, nil),
	}
	for i := range fns {
		fns[i].SetNamespace(protocol.HostNamespace)
	}
	return fns
}

func hostHTTP(ctx context.Context, p *extism.CurrentPlugin, stack []uint64) {
	c := callFrom(ctx)
	var out []byte
	if c == nil || c.Net == nil {
		out = c.HTTP(ctx, nil) // denied, without reading guest memory
	} else if in, err := readGuest(ctx, p, stack[0], maxHTTPRequestBytes); err != nil {
		out = httpError(ErrorTypeBadRequest, "sluice_http: "+err.Error())
	} else {
		out = c.HTTP(ctx, in)
	}
	stack[0] = writeGuest(ctx, p, out)
}

func hostEmit(ctx context.Context, p *extism.CurrentPlugin, stack []uint64) {
	c := callFrom(ctx)
	var out []byte
	if c == nil || c.Sink == nil {
		out = c.Emit(ctx, nil)
	} else if in, err := readGuest(ctx, p, stack[0], maxEmitBatchBytes); err != nil {
		out = mustJSON(protocol.EmitResult{Error: "sluice_emit: " + err.Error()})
	} else {
		out = c.Emit(ctx, in)
	}
	stack[0] = writeGuest(ctx, p, out)
}

func hostLog(ctx context.Context, p *extism.CurrentPlugin, stack []uint64) {
	c := callFrom(ctx)
	if c == nil || c.Logs == nil {
		return
	}
	// Read a little past the cap so Log.Write knows the line was longer
	// and cuts it without leaving half a secret behind.
	msg, err := readGuestPrefix(ctx, p, stack[1], maxLogRead+1)
	if err != nil {
		msg = []byte("sluice_log: " + err.Error())
	}
	c.Log(ctx, protocol.LogLevel(extism.DecodeI32(stack[0])), string(msg))
}

// readGuest copies the Extism memory block at offset, refusing blocks
// larger than limit. An offset that is not a block reads as empty (the
// kernel reports length 0), which the handlers answer as bad input.
func readGuest(ctx context.Context, p *extism.CurrentPlugin, offset uint64, limit uint64) ([]byte, error) {
	n, err := guestLength(ctx, p, offset)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("input of %d bytes exceeds the %d-byte limit", n, limit)
	}
	return guestBytes(p, offset, n)
}

// readGuestPrefix copies at most limit bytes of the block at offset.
func readGuestPrefix(ctx context.Context, p *extism.CurrentPlugin, offset uint64, limit uint64) ([]byte, error) {
	n, err := guestLength(ctx, p, offset)
	if err != nil {
		return nil, err
	}
	return guestBytes(p, offset, min(n, limit))
}

func guestLength(ctx context.Context, p *extism.CurrentPlugin, offset uint64) (uint64, error) {
	if offset > math.MaxUint32 {
		return 0, fmt.Errorf("offset %d is outside guest memory", offset)
	}
	n, err := p.LengthWithContext(ctx, offset)
	if err != nil {
		return 0, fmt.Errorf("reading guest memory: %w", err)
	}
	return n, nil
}

func guestBytes(p *extism.CurrentPlugin, offset, n uint64) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if n > math.MaxUint32 || offset+n > math.MaxUint32 {
		return nil, fmt.Errorf("block at %d of %d bytes is outside guest memory", offset, n)
	}
	buf, ok := p.Memory().Read(uint32(offset), uint32(n))
	if !ok {
		return nil, fmt.Errorf("block at %d of %d bytes is outside guest memory", offset, n)
	}
	return append([]byte(nil), buf...), nil
}

// writeGuest copies an answer into a new Extism memory block and returns
// its offset, or 0 if the guest's memory cannot take it (the guest then
// reads an empty answer, which its SDK reports as an error).
func writeGuest(ctx context.Context, p *extism.CurrentPlugin, b []byte) uint64 {
	off, err := p.AllocWithContext(ctx, uint64(len(b)))
	if err != nil || off > math.MaxUint32 {
		return 0
	}
	if !p.Memory().Write(uint32(off), b) {
		return 0
	}
	return off
}
