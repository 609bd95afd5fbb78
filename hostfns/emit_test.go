package hostfns

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
)

var fixedClock = func() time.Time { return time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC) }

func newTestEmitter(t testing.TB, mod func(*EmitConfig)) *Emitter {
	t.Helper()
	m := testManifest()
	sch, err := CompileSchemas(m)
	if err != nil {
		t.Fatal(err)
	}
	cfg := EmitConfig{
		Tenant: "t1", Connector: "acme", Connection: "c1", RunID: "r1",
		Schemas: sch, Manifest: m, Clock: fixedClock,
	}
	if mod != nil {
		mod(&cfg)
	}
	return NewEmitter(cfg)
}

func emitJSON(t testing.TB, e *Emitter, batch string) protocol.EmitResult {
	t.Helper()
	return e.Emit(context.Background(), []byte(batch))
}

func TestEmitAcceptsAndDerives(t *testing.T) {
	e := newTestEmitter(t, nil)
	res := emitJSON(t, e, `{
		"objects": [{"type":"user","id":"u1","updated_at":"2025-01-01T00:00:00Z","created_at":"2024-06-01T00:00:00Z",
		             "data":{"name":"Ann","email":"ann@example.com","age":30.0,"z":{"b":1,"a":2}}}],
		"edges": [{"type":"member_of","from":{"type":"user","id":"u1"},"to":{"type":"org","id":"o1"}}],
		"deletions": [{"type":"user","id":"u9"}]
	}`)
	if res.Accepted != 3 || len(res.Rejected) != 0 || res.Error != "" {
		t.Fatalf("result %+v", res)
	}
	got := e.Take()
	if len(got.Objects) != 1 || len(got.Edges) != 1 || len(got.Deletions) != 1 || len(got.Lineage) != 2 {
		t.Fatalf("took %+v", got)
	}
	o := got.Objects[0]
	want := store.EntityID("t1", "acme", "user", "u1")
	if o.EntityID != want || o.SourceID != "u1" || o.Type != "user" || o.Connection != "c1" || o.Connector != "acme" ||
		o.RunID != "r1" || !o.ObservedAt.Equal(fixedClock()) || o.CreatedAt != "2024-06-01T00:00:00Z" || o.UpdatedAt != "2025-01-01T00:00:00Z" {
		t.Errorf("object %+v", o)
	}
	// "z" is not in the allow-list; 30.0 is canonicalised to 30.
	if string(o.Data) != `{"age":30,"email":"ann@example.com","name":"Ann"}` {
		t.Errorf("data %s", o.Data)
	}
	if got.Dropped != 1 || got.Read != 3 {
		t.Errorf("dropped %d read %d, want 1 and 3", got.Dropped, got.Read)
	}
	ed := got.Edges[0]
	if ed.From != want || ed.To != store.EntityID("t1", "acme", "org", "o1") || ed.Confidence != 1 || ed.Type != "member_of" {
		t.Errorf("edge %+v", ed)
	}
	if got.Deletions[0] != store.EntityID("t1", "acme", "user", "u9") {
		t.Errorf("deletion %s", got.Deletions[0])
	}
	if l := got.Lineage[0]; l.EntityID != want || l.SourceObjectID != "u1" || l.EdgeType != "" || l.Confidence != 1 || l.ObjectType != "user" {
		t.Errorf("object lineage %+v", l)
	}
	if l := got.Lineage[1]; l.EntityID != want || l.SourceObjectID != "o1" || l.EdgeType != "member_of" || l.ObjectType != "org" {
		t.Errorf("edge lineage %+v", l)
	}
	if again := e.Take(); len(again.Objects)+len(again.Edges)+len(again.Lineage) != 0 || again.Read != 0 {
		t.Errorf("Take did not reset: %+v", again)
	}
}

func TestEmitEntityIDIsDeterministic(t *testing.T) {
	batch := `{"objects":[{"type":"user","id":"u-42","data":{"email":"a@b.c"}}]}`
	ids := map[string]bool{}
	for _, tenant := range []string{"t1", "t1", "t2"} {
		e := newTestEmitter(t, func(c *EmitConfig) { c.Tenant = tenant })
		emitJSON(t, e, batch)
		ids[tenant+"="+e.Take().Objects[0].EntityID] = true
	}
	if len(ids) != 2 {
		t.Fatalf("ids %v: the same tenant must get the same id, another tenant another", ids)
	}
	// Pinned: a change of derivation changes every stored id.
	if got := store.EntityID("t1", "acme", "user", "u-42"); !ids["t1="+got] {
		t.Fatalf("ids %v do not use store.EntityID", ids)
	}
}

func TestEmitCanonicalData(t *testing.T) {
	e := newTestEmitter(t, func(c *EmitConfig) {
		c.Manifest.ObjectTypes[1].Fields = map[string]protocol.FieldPolicy{"name": {}, "n": {}, "s": {}, "arr": {}, "u": {}}
		c.Schemas, _ = CompileSchemas(c.Manifest)
	})
	data := `{"u":"\u20ac\u00e9<>&\u2028","s":"tab\there \"q\" \\ \u0001","n":1e2,"arr":[1.50,-0,true,null,{"b":2,"a":1}],"name":"x"}`
	res := emitJSON(t, e, `{"objects":[{"type":"org","id":"o1","data":`+data+`}]}`)
	if res.Accepted != 1 {
		t.Fatalf("%+v", res)
	}
	got := e.Take().Objects[0].Data
	want, err := jcs.Transform([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("data\n got %s\nwant %s", got, want)
	}
}

func TestEmitRejections(t *testing.T) {
	cases := []struct {
		name   string
		mod    func(*EmitConfig)
		batch  string
		kind   string
		reason string // prefix
		detail string // substring
	}{
		{"undeclared object type", nil, `{"objects":[{"type":"invoice","id":"1","data":{}}]}`, "object", ReasonUndeclaredType, `"invoice"`},
		{"undeclared edge type", nil, `{"edges":[{"type":"owns","from":{"type":"user","id":"1"},"to":{"type":"org","id":"2"}}]}`, "edge", ReasonUndeclaredType, `"owns"`},
		{"undeclared deletion type", nil, `{"deletions":[{"type":"invoice","id":"1"}]}`, "deletion", ReasonUndeclaredType, `"invoice"`},
		{"type outside the stream", func(c *EmitConfig) { c.Stream = "orgs" }, `{"objects":[{"type":"user","id":"1","data":{"email":"a@b"}}]}`, "object", ReasonNotInStream, `"orgs"`},
		{"edge outside the stream", func(c *EmitConfig) { c.Stream = "orgs" }, `{"edges":[{"type":"member_of","from":{"type":"user","id":"1"},"to":{"type":"org","id":"2"}}]}`, "edge", ReasonNotInStream, "member_of"},
		{"unknown stream", func(c *EmitConfig) { c.Stream = "nope" }, `{"objects":[{"type":"org","id":"1","data":{}}]}`, "object", ReasonNotInStream, ""},
		{"empty id", nil, `{"objects":[{"type":"user","id":"","data":{"email":"a@b"}}]}`, "object", ReasonBadID, "empty"},
		{"long id", nil, `{"objects":[{"type":"user","id":"` + strings.Repeat("x", 513) + `","data":{"email":"a@b"}}]}`, "object", ReasonBadID, "513"},
		{"id holding a secret", func(c *EmitConfig) { c.Scrub = NewScrubber("hunter2hunter2") }, `{"objects":[{"type":"user","id":"hunter2hunter2","data":{"email":"a@b"}}]}`, "object", ReasonBadID, "secret"},
		{"data not an object", nil, `{"objects":[{"type":"user","id":"1","data":[1]}]}`, "object", ReasonBadData, "array"},
		{"data missing", nil, `{"objects":[{"type":"user","id":"1"}]}`, "object", ReasonBadData, "null"},
		{"missing required field", nil, `{"objects":[{"type":"user","id":"1","data":{"name":"x"}}]}`, "object", ReasonSchema, "'email'"},
		{"wrong field type", nil, `{"objects":[{"type":"user","id":"1","data":{"email":"a@b","age":"old"}}]}`, "object", ReasonSchema, "/age"},
		{"minimum", nil, `{"objects":[{"type":"user","id":"1","data":{"email":"a@b","age":-1}}]}`, "object", ReasonSchema, "minimum"},
		{"required field not allow-listed", func(c *EmitConfig) { delete(c.Manifest.ObjectTypes[0].Fields, "email") }, `{"objects":[{"type":"user","id":"1","data":{"email":"a@b"}}]}`, "object", ReasonSchema, "'email'"},
		{"bad updated_at", nil, `{"objects":[{"type":"user","id":"1","updated_at":"yesterday","data":{"email":"a@b"}}]}`, "object", ReasonBadTimestamp, "updated_at"},
		{"before range", backfill, `{"objects":[{"type":"user","id":"1","created_at":"2023-12-31T23:59:59Z","data":{"email":"a@b"}}]}`, "object", ReasonOutOfRange, "outside"},
		{"at range end", backfill, `{"objects":[{"type":"user","id":"1","created_at":"2024-02-01T00:00:00Z","data":{"email":"a@b"}}]}`, "object", ReasonOutOfRange, "outside"},
		{"no created_at in a backfill", backfill, `{"objects":[{"type":"user","id":"1","data":{"email":"a@b"}}]}`, "object", ReasonOutOfRange, "required"},
		{"edge endpoint types", nil, `{"edges":[{"type":"member_of","from":{"type":"org","id":"1"},"to":{"type":"user","id":"2"}}]}`, "edge", ReasonBadEdge, "goes from"},
		{"edge without id", nil, `{"edges":[{"type":"member_of","from":{"type":"user","id":""},"to":{"type":"org","id":"2"}}]}`, "edge", ReasonBadID, "from"},
		{"edge confidence", nil, `{"edges":[{"type":"member_of","from":{"type":"user","id":"1"},"to":{"type":"org","id":"2"},"confidence":1.5}]}`, "edge", ReasonBadEdge, "confidence"},
		{"huge number", nil, `{"objects":[{"type":"user","id":"1","data":{"email":"a@b","age":1e400}}]}`, "object", ReasonBadData, "range"},
		{"huge number, no schema", func(c *EmitConfig) { c.Schemas = nil }, `{"objects":[{"type":"user","id":"1","data":{"email":"a@b","age":1e400}}]}`, "object", ReasonBadData, "range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEmitter(t, tc.mod)
			res := emitJSON(t, e, tc.batch)
			if res.Error != "" || res.Accepted != 0 || len(res.Rejected) != 1 {
				t.Fatalf("result %+v", res)
			}
			r := res.Rejected[0]
			if r.Kind != tc.kind || r.Index != 0 || !strings.HasPrefix(r.Reason, tc.reason+": ") || !strings.Contains(r.Reason, tc.detail) {
				t.Fatalf("rejection %+v, want kind %s, reason %s… containing %q", r, tc.kind, tc.reason, tc.detail)
			}
			got := e.Take()
			if len(got.Objects)+len(got.Edges)+len(got.Deletions)+len(got.Lineage) != 0 || len(got.Rejections) != 1 || got.Read != 1 {
				t.Fatalf("took %+v", got)
			}
			if strings.Contains(r.Reason, "hunter2hunter2") || strings.Contains(r.ID, "hunter2hunter2") {
				t.Fatalf("rejection leaks the secret: %+v", r)
			}
		})
	}
}

func backfill(c *EmitConfig) {
	c.Range = &protocol.Range{From: "2024-01-01T00:00:00Z", To: "2024-02-01T00:00:00Z"}
}

func TestEmitBackfillRangeAccepts(t *testing.T) {
	e := newTestEmitter(t, backfill)
	res := emitJSON(t, e, `{"objects":[
		{"type":"user","id":"1","created_at":"2024-01-01T00:00:00Z","data":{"email":"a@b"}},
		{"type":"user","id":"2","created_at":"2024-01-31T23:59:59.999+00:00","data":{"email":"a@b"}},
		{"type":"user","id":"3","created_at":"2024-02-01T00:30:00+01:00","data":{"email":"a@b"}}]}`)
	if res.Accepted != 3 {
		t.Fatalf("%+v", res)
	}
	bad := newTestEmitter(t, func(c *EmitConfig) { c.Range = &protocol.Range{From: "then", To: "now"} })
	if res := emitJSON(t, bad, `{"objects":[]}`); !strings.Contains(res.Error, "range") {
		t.Fatalf("invalid range: %+v", res)
	}
}

func TestEmitRecordCap(t *testing.T) {
	e := newTestEmitter(t, func(c *EmitConfig) { c.MaxRecords = 3 })
	two := `{"objects":[{"type":"org","id":"1","data":{}},{"type":"org","id":"2","data":{}}]}`
	if res := emitJSON(t, e, two); res.Accepted != 2 {
		t.Fatalf("%+v", res)
	}
	res := emitJSON(t, e, two) // 4 > 3: refused whole
	if res.Error == "" || res.Accepted != 0 || !e.Overflowed() {
		t.Fatalf("over the cap: %+v, overflowed %v", res, e.Overflowed())
	}
	if res := emitJSON(t, e, `{"objects":[{"type":"org","id":"3","data":{}}]}`); res.Error == "" {
		t.Fatalf("after overflow: %+v", res)
	}
	got := e.Take()
	if !got.Overflowed || len(got.Objects) != 2 || got.Read != 2 {
		t.Fatalf("took %+v", got)
	}
}

func TestEmitScrubsData(t *testing.T) {
	e := newTestEmitter(t, func(c *EmitConfig) {
		c.Scrub = NewScrubber("s3cr3t-value", "123456789")
		c.Manifest.ObjectTypes[1].Fields = map[string]protocol.FieldPolicy{"name": {}, "note": {}, "n": {}, "s3cr3t-value": {}}
		c.Schemas = nil
	})
	res := emitJSON(t, e, `{"objects":[{"type":"org","id":"1","data":{"name":"x","note":["token s3cr3t-value here"],"n":123456789,"s3cr3t-value":1}}]}`)
	if res.Accepted != 1 {
		t.Fatalf("%+v", res)
	}
	data := string(e.Take().Objects[0].Data)
	if strings.Contains(data, "s3cr3t") || strings.Contains(data, "123456789") || !strings.Contains(data, "[REDACTED]") {
		t.Fatalf("data %s", data)
	}
	if !json.Valid([]byte(data)) {
		t.Fatalf("scrubbed data is not JSON: %s", data)
	}
}

func TestEmitBadBatch(t *testing.T) {
	for _, raw := range []bool{true, false} {
		e := newTestEmitter(t, nil)
		var digests []string
		e.cfg.Recorder = func(d string) { digests = append(digests, d) }
		e.cfg.RecordBatches = raw
		for _, b := range []string{``, `{`, `[]`, `{"objects":{}}`, `{"objects":[]} {}`, `{"objects":[{"type":5}]}`} {
			if res := emitJSON(t, e, b); res.Error == "" {
				t.Errorf("%q: %+v", b, res)
			}
		}
		// Format 1 digests the bytes (here, of the empty batch); format 2
		// what the host made of them: the error.
		const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
		if len(digests) != 6 || (digests[0] == emptySHA) != raw {
			t.Errorf("raw=%v: digests %v", raw, digests)
		}
		if got := e.Take(); got.Read != 0 || len(got.Rejections) != 0 {
			t.Errorf("a refused batch counted: %+v", got)
		}
	}
}

// TestWireObjectMatchesProtocol keeps the emitter's single-parse mirror in
// step with the wire type.
func TestWireObjectMatchesProtocol(t *testing.T) {
	tags := func(v any) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			out = append(out, rt.Field(i).Name+" "+string(rt.Field(i).Tag))
		}
		return out
	}
	if a, b := tags(wireObject{}), tags(protocol.Object{}); !reflect.DeepEqual(a, b) {
		t.Fatalf("wireObject %v\nprotocol.Object %v", a, b)
	}
	if a, b := tags(wireBatch{}), tags(protocol.EmitBatch{}); !reflect.DeepEqual(a, b) {
		t.Fatalf("wireBatch %v\nprotocol.EmitBatch %v", a, b)
	}
}

func TestCompileSchemasErrors(t *testing.T) {
	cases := []struct {
		name   string
		schema string
		want   error
	}{
		{"missing", ``, ErrNoSchema},
		{"not json", `{`, ErrBadSchema},
		{"invalid", `{"type": 5}`, ErrBadSchema},
		{"file ref", `{"$ref": "file:///etc/passwd"}`, ErrBadSchema},
		{"http ref", `{"$ref": "https://example.com/s.json"}`, ErrBadSchema},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &protocol.Manifest{ObjectTypes: []protocol.ObjectType{{Name: "widget", Schema: json.RawMessage(tc.schema)}}}
			_, err := CompileSchemas(m)
			var se *SchemaError
			if !errorsAs(err, &se) || se.Type != "widget" || !errorsIs(err, tc.want) || !strings.Contains(err.Error(), `"widget"`) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	m := testManifest()
	m.ObjectTypes = append(m.ObjectTypes, m.ObjectTypes[0])
	if _, err := CompileSchemas(m); err == nil {
		t.Fatal("a type declared twice compiled")
	}
	s, err := CompileSchemas(testManifest())
	if err != nil || s.Types() != 2 {
		t.Fatalf("%v %d", err, s.Types())
	}
}

// BenchmarkEmit1000Users measures the emit hot path on a batch of 1,000
// user objects (parse, allow-list, schema, scrub, canonicalise, derive).
func BenchmarkEmit1000Users(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"objects":[`)
	for i := range 1000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"type":"user","id":"u%d","updated_at":"2025-01-01T00:00:00Z","data":{"email":"user%d@example.com","name":"User Number %d","age":%d,"extra":"dropped by the allow-list","nested":{"a":[1,2,3]}}}`, i, i, i, i%90)
	}
	sb.WriteString(`]}`)
	batch := []byte(sb.String())
	e := newTestEmitter(b, func(c *EmitConfig) {
		c.Scrub = NewScrubber("sk_live_4f9a8b7c6d5e", "tok_zyxwvu987654")
		c.MaxRecords = 1 << 30
	})
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res := e.Emit(context.Background(), batch)
		if res.Accepted != 1000 {
			b.Fatalf("%+v", res.Rejected[:1])
		}
		e.Take()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/object")
}
