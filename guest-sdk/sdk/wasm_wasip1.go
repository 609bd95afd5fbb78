//go:build wasip1

package sdk

import (
	"context"
	"encoding/json"

	pdk "github.com/extism/go-pdk"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// This file is the Extism glue: the nine exports of the ABI and a
// Transport over the sluice:host/v1 imports. It uses go-pdk only for
// Extism memory and for input, output and error; it never calls go-pdk's
// HTTP, var, config or log helpers, whose extism:host/env imports the
// engine refuses (the Go linker drops imports nothing calls, so those
// functions do not appear in the module).

//go:wasmimport sluice:host/v1 sluice_http
func hostHTTP(req uint64) uint64

//go:wasmimport sluice:host/v1 sluice_emit
func hostEmit(batch uint64) uint64

//go:wasmimport sluice:host/v1 sluice_log
func hostLog(level int32, msg uint64)

// wasmTransport implements Transport with the host functions. Arguments
// and results are offsets of Extism memory blocks: the SDK allocates and
// frees the argument, the host allocates the result and the SDK frees it
// after copying it out.
type wasmTransport struct{}

func (wasmTransport) HTTP(_ context.Context, req []byte) []byte { return roundTrip(hostHTTP, req) }

func (wasmTransport) Emit(_ context.Context, batch []byte) []byte { return roundTrip(hostEmit, batch) }

func (wasmTransport) Log(_ context.Context, level protocol.LogLevel, msg string) {
	mem := pdk.AllocateString(msg)
	hostLog(int32(level), mem.Offset())
	mem.Free()
}

func roundTrip(fn func(uint64) uint64, in []byte) []byte {
	arg := pdk.AllocateBytes(in)
	off := fn(arg.Offset())
	arg.Free()
	if off == 0 {
		return nil // decoded as a malformed reply by the caller
	}
	res := pdk.FindMemory(off)
	out := res.ReadBytes()
	res.Free()
	return out
}

// run is the body of every export: it reads the Extism input, runs the
// same Invoke a native test runs, and reports through Extism output or
// error. The error is an ErrorResponse in JSON so the host can pick the
// runbook by type.
func run(export string) int32 {
	c, ok := registered()
	if !ok {
		return fail(protocol.ErrorResponse{Type: ErrorTypeConnector, Message: "sdk: no connector registered; call sdk.Register from an init function of package main"})
	}
	res, err := invoke(context.Background(), c, wasmTransport{}, export, pdk.Input())
	if err != nil {
		return fail(ErrorResponseOf(err))
	}
	if res.sync != nil {
		outputSync(res.sync)
	} else {
		pdk.Output(res.raw)
	}
	return 0
}

// outputSync streams a sync response into an Extism block: one pass to
// size it, one to store it, so a huge cursor is never encoded into a
// second guest buffer.
func outputSync(r *protocol.SyncResponse) {
	buf := make([]byte, 0, 2*syncChunk)
	total := 0
	syncResponseChunks(r, buf, syncChunk, func(b []byte) { total += len(b) })
	mem := pdk.Allocate(total)
	w := alignedWriter{store: func(off int, b []byte) {
		block := pdk.NewMemory(mem.Offset()+uint64(off), uint64(len(b)))
		block.Store(b)
	}}
	syncResponseChunks(r, buf, syncChunk, w.write)
	w.flush()
	pdk.OutputMemory(mem)
}

func fail(e protocol.ErrorResponse) int32 {
	b, err := json.Marshal(e)
	if err != nil { // unreachable for two strings; keep the message anyway
		b = []byte(e.Message)
	}
	pdk.SetErrorString(string(b))
	return 1
}

//go:wasmexport discover
func exportDiscover() int32 { return run(protocol.ExportDiscover) }

//go:wasmexport authorize
func exportAuthorize() int32 { return run(protocol.ExportAuthorize) }

//go:wasmexport sync
func exportSync() int32 { return run(protocol.ExportSync) }

//go:wasmexport backfill
func exportBackfill() int32 { return run(protocol.ExportBackfill) }

//go:wasmexport webhook
func exportWebhook() int32 { return run(protocol.ExportWebhook) }

//go:wasmexport replay
func exportReplay() int32 { return run(protocol.ExportReplay) }

//go:wasmexport execute
func exportExecute() int32 { return run(protocol.ExportExecute) }

//go:wasmexport verify
func exportVerify() int32 { return run(protocol.ExportVerify) }

//go:wasmexport health
func exportHealth() int32 { return run(protocol.ExportHealth) }
