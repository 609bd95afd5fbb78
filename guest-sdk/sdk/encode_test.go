package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// stdJSON encodes v with encoding/json, HTML escaping off, no newline:
// the reference the append encoders must match byte for byte.
func stdJSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and back\slash`, "\b\f\n\r\t", "\x00\x01\x1f\x7f",
		"<html>&amp;", "héllo wörld ✓ 🦀", "\u2028\u2029", "bad \xff utf8 \xc3", "\xed\xa0\x80",
		strings.Repeat("long ascii ", 100),
	} {
		got := appendString(nil, s)
		if want := stdJSON(t, s); !bytes.Equal(got, want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0.5, 1, 1e-7, 0.000001, 1e20, 1e21, 123456789.125, -2.5e-10, math.SmallestNonzeroFloat64, 0.1 + 0.2} {
		if got, want := appendFloat(nil, f), stdJSON(t, f); !bytes.Equal(got, want) {
			t.Errorf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

func sampleBatch() protocol.EmitBatch {
	return protocol.EmitBatch{
		Objects: []protocol.Object{
			{Type: "user", ID: "u-0000001", UpdatedAt: "2024-05-01T10:00:00Z", CreatedAt: "2024-01-01T00:00:00Z", Data: json.RawMessage(`{"id":"u-0000001","email":"a@example.com","name":"Zoë \"Z\" <ops>"}`)},
			{Type: "user", ID: "u-2", Data: json.RawMessage(`[1,2.5,null,true]`)},
			{Type: "group", ID: "g\n1"},
		},
		Edges: []protocol.Edge{
			{Type: "member_of", From: protocol.Ref{Type: "user", ID: "u-0000001"}, To: protocol.Ref{Type: "group", ID: "g-00001"}},
			{Type: "member_of", From: protocol.Ref{Type: "user", ID: "u-2"}, To: protocol.Ref{Type: "group", ID: "g-00002"}, Confidence: 0.75},
		},
		Deletions: []protocol.Deletion{{Type: "user", ID: "u-9"}},
	}
}

func TestAppendEmitBatchMatchesEncodingJSON(t *testing.T) {
	full := sampleBatch()
	tests := []struct {
		name  string
		batch protocol.EmitBatch
	}{
		{"empty", protocol.EmitBatch{}},
		{"full", full},
		{"objects only", protocol.EmitBatch{Objects: full.Objects}},
		{"edges only", protocol.EmitBatch{Edges: full.Edges}},
		{"deletions only", protocol.EmitBatch{Deletions: full.Deletions}},
		{"edges and deletions", protocol.EmitBatch{Edges: full.Edges, Deletions: full.Deletions}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := appendEmitBatch(nil, &tt.batch)
			if err != nil {
				t.Fatal(err)
			}
			if want := stdJSON(t, &tt.batch); !bytes.Equal(got, want) {
				t.Fatalf("encoding differs\n got %s\nwant %s", got, want)
			}
			var back protocol.EmitBatch
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("output does not decode: %v", err)
			}
			want := tt.batch
			// A nil RawMessage encodes as null and decodes as "null".
			for i := range want.Objects {
				if want.Objects[i].Data == nil {
					want.Objects[i].Data = json.RawMessage("null")
				}
			}
			if !reflect.DeepEqual(back, want) {
				t.Fatalf("round trip differs\n got %+v\nwant %+v", back, want)
			}
		})
	}
}

func TestAppendEmitBatchKeepsDataVerbatim(t *testing.T) {
	// Non-compact data is copied, not compacted: still valid, same value.
	b := protocol.EmitBatch{Objects: []protocol.Object{{Type: "t", ID: "1", Data: json.RawMessage("{ \"a\" : [ 1 ,\n 2 ] }")}}}
	got, err := appendEmitBatch(nil, &b)
	if err != nil {
		t.Fatal(err)
	}
	var gotV, wantV any
	if err := json.Unmarshal(got, &gotV); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(stdJSON(t, &b), &wantV); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotV, wantV) {
		t.Fatalf("got %v, want %v", gotV, wantV)
	}
}

func TestAppendEmitBatchRefusesBadRecords(t *testing.T) {
	tests := []struct {
		name  string
		batch protocol.EmitBatch
	}{
		{"invalid data", protocol.EmitBatch{Objects: []protocol.Object{{Type: "t", ID: "1", Data: json.RawMessage(`{"a":`)}}}},
		{"two values", protocol.EmitBatch{Objects: []protocol.Object{{Type: "t", ID: "1", Data: json.RawMessage(`1 2`)}}}},
		{"NaN confidence", protocol.EmitBatch{Edges: []protocol.Edge{{Type: "e", Confidence: math.NaN()}}}},
		{"Inf confidence", protocol.EmitBatch{Edges: []protocol.Edge{{Type: "e", Confidence: math.Inf(1)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := appendEmitBatch(nil, &tt.batch); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("err = %v, want ErrBadRecord", err)
			}
		})
	}
}

func TestAppendObjectAllocationFree(t *testing.T) {
	o := sampleBatch().Objects[0]
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = appendObject(buf[:0], &o); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("appendObject allocates %v times per object, want 0", allocs)
	}
}

func TestAppendSyncResponseMatchesEncodingJSON(t *testing.T) {
	for _, r := range []protocol.SyncResponse{{}, {NextCursor: `{"since":"2024-01-01T00:00:00Z"}`, HasMore: true}} {
		if got, want := appendSyncResponse(nil, &r), stdJSON(t, &r); !bytes.Equal(got, want) {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

func FuzzAppendEmitBatch(f *testing.F) {
	f.Add("user", "u-1", "2024-01-01T00:00:00Z", `{"a":1}`, 0.5)
	f.Add("\x00<>&", "\xff\u2028", "", "", 1e-9)
	f.Add("", "", "", "null", 0.0)
	f.Fuzz(func(t *testing.T, typ, id, ts, data string, conf float64) {
		var raw json.RawMessage // empty Data means null for both encoders
		if data != "" {
			raw = json.RawMessage(data)
		}
		b := protocol.EmitBatch{
			Objects:   []protocol.Object{{Type: typ, ID: id, UpdatedAt: ts, CreatedAt: ts, Data: raw}},
			Edges:     []protocol.Edge{{Type: typ, From: protocol.Ref{Type: typ, ID: id}, To: protocol.Ref{Type: ts, ID: data}, Confidence: conf}},
			Deletions: []protocol.Deletion{{Type: typ, ID: id}},
		}
		got, err := appendEmitBatch(nil, &b)
		std, stdErr := json.Marshal(&b)
		if (err != nil) != (stdErr != nil) {
			t.Fatalf("append err %v, encoding/json err %v", err, stdErr)
		}
		if err != nil {
			return
		}
		// Compare decoded values: encoding/json compacts and HTML-escapes
		// Data, the append encoder copies it verbatim.
		var gotV, stdV protocol.EmitBatch
		if err := json.Unmarshal(got, &gotV); err != nil {
			t.Fatalf("output %q does not decode: %v", got, err)
		}
		if err := json.Unmarshal(std, &stdV); err != nil {
			t.Fatal(err)
		}
		for i := range gotV.Objects {
			gotV.Objects[i].Data, stdV.Objects[i].Data = compact(t, gotV.Objects[i].Data), compact(t, stdV.Objects[i].Data)
		}
		if !reflect.DeepEqual(gotV, stdV) {
			t.Fatalf("decoded differently\n got %+v\nwant %+v", gotV, stdV)
		}
	})
}

func compact(t *testing.T, b []byte) json.RawMessage {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return out
}

func benchObjects(n int) []protocol.Object {
	data := json.RawMessage(`{"id":"u-0000001","email":"ada@example.com","name":"Ada Lovelace","department":"Engineering","title":"Analyst","status":"active","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-05-01T10:00:00Z","mfa_enrolled":true,"is_admin":false,"last_login_at":"2024-05-02T08:00:00Z","phone":"+44 20 7946 0000"}`)
	objs := make([]protocol.Object, n)
	for i := range objs {
		objs[i] = protocol.Object{Type: "user", ID: "u-0000001", UpdatedAt: "2024-05-01T10:00:00Z", CreatedAt: "2024-01-01T00:00:00Z", Data: data}
	}
	return objs
}

func BenchmarkEmitBatchAppend(b *testing.B) {
	batch := protocol.EmitBatch{Objects: benchObjects(BatchRecords)}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = appendEmitBatch(buf[:0], &batch); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEmitBatchEncodingJSON(b *testing.B) {
	batch := protocol.EmitBatch{Objects: benchObjects(BatchRecords)}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		out, err := json.Marshal(&batch)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
}

func FuzzSyncResponseChunks(f *testing.F) {
	f.Add("", false, 7)
	f.Add(`{"since":"2024"}`, true, 1)
	f.Add(strings.Repeat("é\u2028\xff\"", 20000), true, 100)
	f.Fuzz(func(t *testing.T, cursor string, more bool, flushAt int) {
		if flushAt < 0 {
			flushAt = -flushAt
		}
		r := protocol.SyncResponse{NextCursor: cursor, HasMore: more}
		want := stdJSON(t, &r)
		var got []byte
		syncResponseChunks(&r, make([]byte, 0, 16), flushAt%(2*syncChunk), func(b []byte) { got = append(got, b...) })
		if !bytes.Equal(got, want) {
			t.Fatalf("chunked encoding differs from encoding/json for %q", cursor)
		}
		// The aligned writer stores the same bytes at 8-byte offsets.
		var stored []byte
		w := alignedWriter{store: func(off int, b []byte) {
			if off%8 != 0 || off != len(stored) {
				t.Fatalf("store at offset %d after %d bytes", off, len(stored))
			}
			stored = append(stored, b...)
		}}
		syncResponseChunks(&r, nil, 1+flushAt%syncChunk, w.write)
		w.flush()
		if !bytes.Equal(stored, want) {
			t.Fatal("aligned writer changed the bytes")
		}
	})
}

func TestSyncResponseChunksHugeCursor(t *testing.T) {
	r := protocol.SyncResponse{NextCursor: strings.Repeat("A", 3*syncChunk+5)}
	var pieces, total int
	syncResponseChunks(&r, nil, syncChunk, func(b []byte) {
		pieces++
		total += len(b)
		if len(b) > 2*syncChunk {
			t.Fatalf("piece of %d bytes: the cursor was not streamed", len(b))
		}
	})
	if want := len(stdJSON(t, &r)); pieces < 3 || total != want {
		t.Fatalf("%d pieces, %d bytes; want >= 3 pieces, %d bytes", pieces, total, want)
	}
}
