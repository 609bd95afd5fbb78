package sdk

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluicehq/sluice/guest-sdk/internal/jsonfast"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Batch thresholds of Emit, EmitEdge and Delete: the buffer is sent to
// the host when it holds this many records or about this many bytes,
// and when the handler returns. Each sluice_emit call costs a copy
// through Extism memory and a host transaction, so larger batches are
// cheaper; these bounds keep a batch well under the host's per-call caps.
const (
	BatchRecords = 256
	BatchBytes   = 256 << 10
)

// Host is the connector's handle on the host functions during one call.
// It is valid only until the handler returns; afterwards every method
// returns ErrHostClosed. A Host is not safe for concurrent use.
type Host struct {
	ctx    context.Context
	t      Transport
	done   bool
	config protocol.Config

	// Encoded records waiting to be sent, one section per kind, records
	// separated by commas, and how many each holds.
	objs, edges, dels    []byte
	nObjs, nEdges, nDels int
	// Records of each kind already sent during this call, to turn the
	// batch-relative index of a rejection into a call-relative one.
	sentObjs, sentEdges, sentDels int

	batch    []byte // reused buffer for the assembled batch
	rejected []protocol.Rejection
	emitErr  error // sticky: set once the host refused a batch
}

func (h *Host) close() { h.done = true }

// Config returns the connection config of the current call, as its
// request carried it (nil for discover, and for health when the host
// sent no HealthRequest). The map is shared with the request; do not
// modify it.
func (h *Host) Config() protocol.Config { return h.config }

// HTTP sends req through the host (sluice_http). The host checks the
// URL's host and method against the manifest and the tenant's grant,
// injects credentials named by req.Auth or {{secret:NAME}} header values,
// rate-limits, retries with backoff (honouring Retry-After), and caps
// size and time. A remote answer of any status, 4xx and 5xx included, is
// returned with a nil error; when the host itself refused or failed the
// request the error is a *HostError.
func (h *Host) HTTP(req protocol.HTTPRequest) (protocol.HTTPResponse, error) {
	if h.done {
		return protocol.HTTPResponse{}, ErrHostClosed
	}
	in, err := json.Marshal(&req)
	if err != nil {
		return protocol.HTTPResponse{}, fmt.Errorf("sdk: encoding http request: %w", err)
	}
	var resp protocol.HTTPResponse
	out := h.t.HTTP(h.ctx, in)
	// The fast path skips encoding/json's byte-by-byte scan of the
	// base64 body; anything it does not handle goes to encoding/json.
	if !jsonfast.DecodeHTTPResponse(out, &resp) {
		if err := json.Unmarshal(out, &resp); err != nil {
			return protocol.HTTPResponse{}, fmt.Errorf("%w: sluice_http: %v", ErrBadHostReply, err)
		}
	}
	if resp.Status == 0 {
		msg := resp.Error
		if msg == "" {
			msg = "no status and no reason given"
		}
		return resp, &HostError{Type: resp.ErrorType, Message: msg}
	}
	return resp, nil
}

// Get sends a GET of url with the connection's default credential
// (Auth "default").
func (h *Host) Get(url string) (protocol.HTTPResponse, error) {
	return h.HTTP(protocol.HTTPRequest{Method: "GET", URL: url, Auth: "default"})
}

// GetBody GETs url with the default credential and returns the body of
// a 2xx answer. A non-2xx answer is a *StatusError.
func (h *Host) GetBody(url string) ([]byte, error) {
	resp, err := h.Get(url)
	if err != nil {
		return nil, err
	}
	if resp.Status < 200 || resp.Status > 299 {
		return nil, &StatusError{Method: "GET", URL: url, Status: resp.Status}
	}
	return resp.Body, nil
}

// GetJSON is GetBody decoding the body into v with encoding/json.
func (h *Host) GetJSON(url string, v any) error {
	body, err := h.GetBody(url)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("sdk: GET %s: decoding body: %w", url, err)
	}
	return nil
}

// Emit buffers objects for sluice_emit. The buffer is sent when it
// reaches BatchRecords records or BatchBytes bytes, on Flush, and when
// the handler returns. An object whose Data is not valid JSON is refused
// here (ErrBadRecord); the objects before it stay buffered, the ones
// after it are not buffered.
// Records the host rejects one by one are reported by Rejected, not as
// errors; an error means the host refused a whole batch (*EmitError) and
// the connector should return it.
func (h *Host) Emit(objs ...protocol.Object) error {
	if err := h.usable(); err != nil {
		return err
	}
	for i := range objs {
		if h.nObjs > 0 {
			h.objs = append(h.objs, ',')
		}
		enc, err := appendObject(h.objs, &objs[i])
		if err != nil {
			h.objs = trimComma(h.objs, h.nObjs)
			return err
		}
		h.objs = enc
		h.nObjs++
		if err := h.maybeFlush(); err != nil {
			return err
		}
	}
	return nil
}

// EmitEdge buffers edges for sluice_emit, like Emit.
func (h *Host) EmitEdge(edges ...protocol.Edge) error {
	if err := h.usable(); err != nil {
		return err
	}
	for i := range edges {
		if h.nEdges > 0 {
			h.edges = append(h.edges, ',')
		}
		enc, err := appendEdge(h.edges, &edges[i])
		if err != nil {
			h.edges = trimComma(h.edges, h.nEdges)
			return err
		}
		h.edges = enc
		h.nEdges++
		if err := h.maybeFlush(); err != nil {
			return err
		}
	}
	return nil
}

// Delete buffers deletions for sluice_emit, like Emit. The host applies
// them only when the run is a completed full snapshot.
func (h *Host) Delete(dels ...protocol.Deletion) error {
	if err := h.usable(); err != nil {
		return err
	}
	for i := range dels {
		if h.nDels > 0 {
			h.dels = append(h.dels, ',')
		}
		h.dels = appendDeletion(h.dels, &dels[i])
		h.nDels++
		if err := h.maybeFlush(); err != nil {
			return err
		}
	}
	return nil
}

// trimComma removes the separator appended before a record that then
// failed to encode.
func trimComma(b []byte, n int) []byte {
	if n > 0 {
		return b[:len(b)-1]
	}
	return b
}

func (h *Host) usable() error {
	if h.done {
		return ErrHostClosed
	}
	return h.emitErr
}

func (h *Host) maybeFlush() error {
	if h.nObjs+h.nEdges+h.nDels >= BatchRecords || len(h.objs)+len(h.edges)+len(h.dels) >= BatchBytes {
		return h.Flush()
	}
	return nil
}

// Flush sends the buffered records to the host now.
func (h *Host) Flush() error {
	if err := h.usable(); err != nil {
		return err
	}
	if h.nObjs+h.nEdges+h.nDels == 0 {
		return nil
	}
	h.batch = h.assemble(h.batch[:0])
	out := h.t.Emit(h.ctx, h.batch)
	nObjs, nEdges, nDels := h.nObjs, h.nEdges, h.nDels
	h.objs, h.edges, h.dels = h.objs[:0], h.edges[:0], h.dels[:0]
	h.nObjs, h.nEdges, h.nDels = 0, 0, 0

	var res protocol.EmitResult
	if err := json.Unmarshal(out, &res); err != nil {
		h.emitErr = fmt.Errorf("%w: sluice_emit: %v", ErrBadHostReply, err)
		return h.emitErr
	}
	if res.Error != "" {
		h.emitErr = &EmitError{Message: res.Error}
		return h.emitErr
	}
	for _, r := range res.Rejected {
		switch r.Kind {
		case "object":
			r.Index += h.sentObjs
		case "edge":
			r.Index += h.sentEdges
		case "deletion":
			r.Index += h.sentDels
		}
		h.rejected = append(h.rejected, r)
	}
	h.sentObjs += nObjs
	h.sentEdges += nEdges
	h.sentDels += nDels
	return nil
}

// assemble writes the buffered sections as one EmitBatch document; the
// result is byte-identical to appendEmitBatch of the same records.
func (h *Host) assemble(dst []byte) []byte {
	dst = append(dst, '{')
	sep := false
	for _, s := range []struct {
		key  string
		body []byte
		n    int
	}{
		{`"objects":[`, h.objs, h.nObjs},
		{`"edges":[`, h.edges, h.nEdges},
		{`"deletions":[`, h.dels, h.nDels},
	} {
		if s.n == 0 {
			continue
		}
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, s.key...)
		dst = append(dst, s.body...)
		dst = append(dst, ']')
		sep = true
	}
	return append(dst, '}')
}

// Rejected returns the records the host rejected so far during this call.
// Index counts the records of that Kind emitted during the call, from 0,
// in the order Emit, EmitEdge and Delete received them. Records still
// buffered have not been judged yet: call Flush first to see them all.
func (h *Host) Rejected() []protocol.Rejection {
	return append([]protocol.Rejection(nil), h.rejected...)
}

// Log writes msg to the run's log through sluice_log. The host scrubs
// every secret value of the connection from it before writing it
// anywhere. Log after the call returned is silently dropped.
func (h *Host) Log(level protocol.LogLevel, msg string) {
	if h.done {
		return
	}
	h.t.Log(h.ctx, level, msg)
}

// Logf is Log with fmt.Sprintf formatting.
func (h *Host) Logf(level protocol.LogLevel, format string, args ...any) {
	h.Log(level, fmt.Sprintf(format, args...))
}
