package sdk

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/sluicehq/sluice/guest-sdk/internal/jsonfast"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// This file is the hot path of ingest: every emitted record is encoded
// here, a benchmark sync emits 100k of them, and reflection-based
// encoding/json costs several allocations per record on a Wasm heap that
// only grows. The encoders append to a caller-owned buffer and produce
// exactly the bytes encoding/json would produce with HTML escaping off
// for the same value (Data is copied verbatim, so it matches when Data is
// compact), which encode_test.go checks. Byte-stability matters beyond
// speed: the run tape records the digest of each batch as sent.

const hexDigits = "0123456789abcdef"

// appendEmitBatch appends b encoded as JSON to dst.
func appendEmitBatch(dst []byte, b *protocol.EmitBatch) ([]byte, error) {
	var err error
	dst = append(dst, '{')
	sep := false
	if len(b.Objects) > 0 {
		dst = append(dst, `"objects":[`...)
		for i := range b.Objects {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendObject(dst, &b.Objects[i]); err != nil {
				return dst, err
			}
		}
		dst = append(dst, ']')
		sep = true
	}
	if len(b.Edges) > 0 {
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"edges":[`...)
		for i := range b.Edges {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendEdge(dst, &b.Edges[i]); err != nil {
				return dst, err
			}
		}
		dst = append(dst, ']')
		sep = true
	}
	if len(b.Deletions) > 0 {
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"deletions":[`...)
		for i := range b.Deletions {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendDeletion(dst, &b.Deletions[i])
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), nil
}

// appendObject appends o as JSON. Data must be valid JSON (or empty,
// which encodes as null like a nil json.RawMessage); it is copied
// verbatim so that a page's raw records cost one copy.
func appendObject(dst []byte, o *protocol.Object) ([]byte, error) {
	if len(o.Data) > 0 && !jsonfast.Valid(o.Data) {
		return dst, fmt.Errorf("%w: object %q of type %q: data is not valid JSON", ErrBadRecord, o.ID, o.Type)
	}
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, o.Type)
	dst = append(dst, `,"id":`...)
	dst = appendString(dst, o.ID)
	if o.UpdatedAt != "" {
		dst = append(dst, `,"updated_at":`...)
		dst = appendString(dst, o.UpdatedAt)
	}
	if o.CreatedAt != "" {
		dst = append(dst, `,"created_at":`...)
		dst = appendString(dst, o.CreatedAt)
	}
	dst = append(dst, `,"data":`...)
	if len(o.Data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, o.Data...)
	}
	return append(dst, '}'), nil
}

// appendEdge appends e as JSON.
func appendEdge(dst []byte, e *protocol.Edge) ([]byte, error) {
	if math.IsNaN(e.Confidence) || math.IsInf(e.Confidence, 0) {
		return dst, fmt.Errorf("%w: edge %q %s->%s: confidence %v", ErrBadRecord, e.Type, e.From.ID, e.To.ID, e.Confidence)
	}
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, e.Type)
	dst = append(dst, `,"from":`...)
	dst = appendRef(dst, e.From)
	dst = append(dst, `,"to":`...)
	dst = appendRef(dst, e.To)
	if e.Confidence != 0 {
		dst = append(dst, `,"confidence":`...)
		dst = appendFloat(dst, e.Confidence)
	}
	return append(dst, '}'), nil
}

func appendRef(dst []byte, r protocol.Ref) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, r.Type)
	dst = append(dst, `,"id":`...)
	dst = appendString(dst, r.ID)
	return append(dst, '}')
}

// appendDeletion appends d as JSON.
func appendDeletion(dst []byte, d *protocol.Deletion) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, d.Type)
	dst = append(dst, `,"id":`...)
	dst = appendString(dst, d.ID)
	return append(dst, '}')
}

// appendSyncResponse appends r as JSON.
func appendSyncResponse(dst []byte, r *protocol.SyncResponse) []byte {
	syncResponseChunks(r, dst, 0, func(b []byte) { dst = b })
	return dst
}

// syncChunk is how much of a cursor syncResponseChunks encodes at once.
const syncChunk = 32 << 10

// syncResponseChunks encodes r as JSON, appending to buf and handing the
// buffer to emit once it holds flushAt bytes or more (then reusing it:
// emit must not keep it) and at the end; flushAt 0 emits only at the
// end. Sync outputs are tiny unless a cursor is huge; the Wasm glue
// streams those straight into Extism memory, so the guest never holds a
// second copy.
func syncResponseChunks(r *protocol.SyncResponse, buf []byte, flushAt int, emit func([]byte)) {
	start := len(buf)
	buf = append(buf, `{"next_cursor":"`...)
	for s := r.NextCursor; len(s) > 0; {
		n := min(len(s), syncChunk)
		// Cut before the first byte of a rune: decoding, and so escaping,
		// is the same on both sides of such a cut.
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n++
		}
		buf = appendEscaped(buf, s[:n])
		s = s[n:]
		if flushAt > 0 && len(s) > 0 && len(buf)-start >= flushAt {
			emit(buf)
			buf = buf[:start]
		}
	}
	if r.HasMore {
		buf = append(buf, `","has_more":true}`...)
	} else {
		buf = append(buf, `","has_more":false}`...)
	}
	emit(buf)
}

// alignedWriter hands a stream of bytes to store in pieces whose offsets
// are multiples of 8: go-pdk stores 8 bytes per store_u64, and Extism
// kernels other than Go's may require that alignment.
type alignedWriter struct {
	store func(off int, b []byte)
	off   int
	carry []byte
}

func (w *alignedWriter) write(p []byte) {
	if len(w.carry) > 0 {
		take := min(8-len(w.carry), len(p))
		w.carry, p = append(w.carry, p[:take]...), p[take:]
		if len(w.carry) < 8 {
			return
		}
		w.put(w.carry)
		w.carry = w.carry[:0]
	}
	n := len(p) &^ 7
	if n > 0 {
		w.put(p[:n])
	}
	w.carry = append(w.carry, p[n:]...)
}

func (w *alignedWriter) flush() {
	if len(w.carry) > 0 {
		w.put(w.carry)
		w.carry = w.carry[:0]
	}
}

func (w *alignedWriter) put(b []byte) {
	w.store(w.off, b)
	w.off += len(b)
}

// appendFloat formats f the way encoding/json does: shortest
// representation, exponent form only outside [1e-6, 1e21), and an
// exponent without a leading zero.
func appendFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendString appends s as a JSON string, escaping like encoding/json
// without HTML escaping: quote, backslash and control characters are
// escaped, invalid UTF-8 becomes \ufffd, U+2028 and U+2029 are escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// appendEscaped appends the escaped contents of s, without quotes.
func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}
