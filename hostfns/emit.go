package hostfns

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
)

// Rejection reasons. Every [protocol.Rejection.Reason] the Emitter writes
// starts with one of these codes, then ": " and the details.
const (
	ReasonUndeclaredType = "undeclared_type" // type not in the manifest
	ReasonNotInStream    = "not_in_stream"   // declared, but not produced by this stream
	ReasonBadID          = "bad_id"          // empty, too long, or holds a secret
	ReasonBadData        = "bad_data"        // data is not a JSON object, or not representable
	ReasonSchema         = "schema"          // fails the type's JSON Schema
	ReasonBadTimestamp   = "bad_timestamp"   // created_at/updated_at not RFC 3339
	ReasonOutOfRange     = "out_of_range"    // created_at outside a backfill's range
	ReasonBadEdge        = "bad_edge"        // endpoint types or confidence wrong
)

// Limits of the emit door.
const (
	// DefaultMaxRecords caps objects+edges+deletions per invocation.
	DefaultMaxRecords = 10_000
	// MaxSourceIDLen caps a source id (bytes): ids end up in store keys.
	MaxSourceIDLen = 512
	// maxReasonLen caps a rejection reason.
	maxReasonLen = 1024
)

// EmitConfig configures the emit door of one invocation.
type EmitConfig struct {
	// Tenant, Connector, Connection and RunID stamp every record; tenant,
	// connector, type and source id derive the entity id.
	Tenant, Connector, Connection, RunID string
	// Schemas are the manifest's compiled schemas; nil skips schema
	// validation (the allow-list still applies).
	Schemas *Schemas
	// Manifest declares the object and edge types; nil declares none, so
	// every record is refused.
	Manifest *protocol.Manifest
	// Stream restricts the accepted types to those of the named stream;
	// "" accepts every declared type. An unknown stream accepts none.
	Stream string
	// Range, for a backfill, refuses objects whose created_at is missing
	// or outside [From, To). nil means no range check.
	Range *protocol.Range
	// MaxRecords caps the records received per invocation (0 =
	// DefaultMaxRecords). The batch that would cross it is refused whole
	// and the Emitter stays overflowed.
	MaxRecords int
	// Scrub removes secret values from data and rejection reasons.
	Scrub *Scrubber
	// Clock stamps ObservedAt (nil = time.Now).
	Clock func() time.Time
	// Recorder, for a tape, gets the SHA-256 (hex) of every batch exactly
	// as the module sent it.
	Recorder func(digest string)
	// Narrow is the connection's data minimisation: per object type, the
	// subset of the manifest's allow-list the tenant keeps. A type not
	// named keeps the manifest's whole allow-list; a name outside it is
	// ignored (it could only widen). The dropped fields are counted in
	// Emitted.Dropped like any other field outside the allow-list.
	Narrow map[string][]string
}

// Emitted is what an Emitter accepted since the previous Take.
type Emitted struct {
	Objects    []store.Object
	Edges      []store.Edge
	Deletions  []string // entity ids
	Lineage    []store.Lineage
	Rejections []protocol.Rejection
	// Dropped counts the fields of accepted objects removed by the
	// allow-list.
	Dropped int
	// Read counts the records received (objects, edges and deletions,
	// accepted or rejected) in batches that were not refused whole.
	Read int
	// Overflowed is set when a batch was refused for crossing MaxRecords.
	Overflowed bool
}

// Emitter is the emit door of one invocation: it checks each record
// against the manifest and keeps what it accepts until [Emitter.Take].
// Create one per invocation; it is safe for concurrent use.
type Emitter struct {
	cfg        EmitConfig
	objects    map[string]*objectPolicy
	edges      map[string]*edgePolicy
	from, to   time.Time
	rangeErr   error
	maxRecords int
	clock      func() time.Time

	mu         sync.Mutex
	received   int
	overflowed bool
	cur        Emitted
}

type objectPolicy struct {
	fields map[string]protocol.FieldPolicy
	// keep is the connection's narrowed allow-list (nil = fields). The
	// schema sees the data after the manifest's allow-list, before the
	// narrowing, so a tenant cannot make valid objects invalid.
	keep     map[string]protocol.FieldPolicy
	schema   *jsonschema.Schema
	inStream bool
}

type edgePolicy struct {
	from, to string
	inStream bool
}

// NewEmitter returns the emit door for one invocation.
func NewEmitter(cfg EmitConfig) *Emitter {
	e := &Emitter{
		cfg:        cfg,
		objects:    map[string]*objectPolicy{},
		edges:      map[string]*edgePolicy{},
		maxRecords: orInt(cfg.MaxRecords, DefaultMaxRecords),
		clock:      cfg.Clock,
	}
	if e.clock == nil {
		e.clock = time.Now
	}
	m := cfg.Manifest
	if m == nil {
		return e
	}
	inObj, inEdge := streamTypes(m, cfg.Stream)
	for _, ot := range m.ObjectTypes {
		e.objects[ot.Name] = &objectPolicy{fields: ot.Fields, keep: narrowFields(ot.Fields, cfg.Narrow, ot.Name), schema: cfg.Schemas.lookup(ot.Name), inStream: inObj(ot.Name)}
	}
	for _, et := range m.EdgeTypes {
		e.edges[et.Name] = &edgePolicy{from: et.From, to: et.To, inStream: inEdge(et.Name)}
	}
	if r := cfg.Range; r != nil {
		var err1, err2 error
		e.from, err1 = time.Parse(time.RFC3339Nano, r.From)
		e.to, err2 = time.Parse(time.RFC3339Nano, r.To)
		if err := errors.Join(err1, err2); err != nil {
			e.rangeErr = fmt.Errorf("invalid backfill range [%q, %q): %w", r.From, r.To, err)
		}
	}
	return e
}

// narrowFields intersects a type's allow-list with the connection's
// narrowed list for it, if any: narrowing can only remove fields.
func narrowFields(allow map[string]protocol.FieldPolicy, narrow map[string][]string, typ string) map[string]protocol.FieldPolicy {
	keep, ok := narrow[typ]
	if !ok {
		return nil
	}
	out := make(map[string]protocol.FieldPolicy, len(keep))
	for _, f := range keep {
		if p, ok := allow[f]; ok {
			out[f] = p
		}
	}
	return out
}

// streamTypes returns membership tests for the stream's object and edge
// types ("" = everything declared).
func streamTypes(m *protocol.Manifest, stream string) (obj, edge func(string) bool) {
	if stream == "" {
		all := func(string) bool { return true }
		return all, all
	}
	objs, edges := map[string]bool{}, map[string]bool{}
	for _, s := range m.Streams {
		if s.Name != stream {
			continue
		}
		for _, t := range s.ObjectTypes {
			objs[t] = true
		}
		for _, t := range s.EdgeTypes {
			edges[t] = true
		}
	}
	return func(t string) bool { return objs[t] }, func(t string) bool { return edges[t] }
}

// wireBatch mirrors protocol.EmitBatch with Data decoded straight into a
// tree (json.Number for numbers): the batch is parsed once, and the tree
// serves the allow-list, the schema and the canonical form alike. A test
// keeps its JSON tags in step with protocol.Object.
type wireBatch struct {
	Objects   []wireObject        `json:"objects,omitempty"`
	Edges     []protocol.Edge     `json:"edges,omitempty"`
	Deletions []protocol.Deletion `json:"deletions,omitempty"`
}

type wireObject struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	UpdatedAt string `json:"updated_at,omitempty"`
	CreatedAt string `json:"created_at,omitempty"`
	Data      any    `json:"data"`
}

// Emit takes one sluice_emit batch (JSON [protocol.EmitBatch]) and answers
// what was accepted and what was rejected, record by record. A batch that
// is not valid JSON, or that would cross MaxRecords, is refused whole.
func (e *Emitter) Emit(_ context.Context, batch []byte) protocol.EmitResult {
	if e.cfg.Recorder != nil {
		sum := sha256.Sum256(batch)
		e.cfg.Recorder(hex.EncodeToString(sum[:]))
	}
	if e.rangeErr != nil {
		return protocol.EmitResult{Error: e.rangeErr.Error()}
	}
	var wb wireBatch
	if err := decodeBatch(batch, &wb); err != nil {
		return protocol.EmitResult{Error: e.cfg.Scrub.String("bad batch: " + err.Error())}
	}
	n := len(wb.Objects) + len(wb.Edges) + len(wb.Deletions)
	if msg := e.reserve(n); msg != "" {
		return protocol.EmitResult{Error: msg}
	}

	var out Emitted
	out.Read = n
	now := e.clock().UTC()
	for i := range wb.Objects {
		e.object(&out, i, &wb.Objects[i], now)
	}
	for i := range wb.Edges {
		e.edge(&out, i, &wb.Edges[i], now)
	}
	for i, d := range wb.Deletions {
		e.deletion(&out, i, d)
	}

	e.mu.Lock()
	c := &e.cur
	c.Objects = append(c.Objects, out.Objects...)
	c.Edges = append(c.Edges, out.Edges...)
	c.Deletions = append(c.Deletions, out.Deletions...)
	c.Lineage = append(c.Lineage, out.Lineage...)
	c.Rejections = append(c.Rejections, out.Rejections...)
	c.Dropped += out.Dropped
	c.Read += out.Read
	e.mu.Unlock()

	return protocol.EmitResult{Accepted: n - len(out.Rejections), Rejected: out.Rejections}
}

func decodeBatch(b []byte, wb *wireBatch) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(wb); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the batch")
	}
	return nil
}

// reserve counts n records toward MaxRecords, or refuses the batch.
func (e *Emitter) reserve(n int) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.overflowed {
		return fmt.Sprintf("record cap of %d per call already exceeded; stop emitting", e.maxRecords)
	}
	if e.received+n > e.maxRecords {
		e.overflowed = true
		e.cur.Overflowed = true
		return fmt.Sprintf("record cap exceeded: %d records received, this batch has %d, the cap is %d per call", e.received, n, e.maxRecords)
	}
	e.received += n
	return ""
}

// admit checks a record's type against the manifest and the stream, and
// its source id; a non-empty code is the rejection reason.
func (e *Emitter) admit(typ, id string) (*objectPolicy, string, string) {
	pol, ok := e.objects[typ]
	switch {
	case !ok:
		return nil, ReasonUndeclaredType, fmt.Sprintf("object type %q is not declared in the manifest", typ)
	case !pol.inStream:
		return nil, ReasonNotInStream, fmt.Sprintf("object type %q is not produced by stream %q", typ, e.cfg.Stream)
	}
	if msg := e.checkID(id); msg != "" {
		return nil, ReasonBadID, msg
	}
	return pol, "", ""
}

func (e *Emitter) object(out *Emitted, i int, o *wireObject, now time.Time) {
	reject := func(code, format string, args ...any) {
		out.Rejections = append(out.Rejections, e.rejection("object", i, o.Type, o.ID, code, format, args...))
	}
	pol, code, msg := e.admit(o.Type, o.ID)
	if code != "" {
		reject(code, "%s", msg)
		return
	}
	data, ok := o.Data.(map[string]any)
	if !ok {
		reject(ReasonBadData, "data must be a JSON object, got %s", jsonKind(o.Data))
		return
	}
	if code, msg := e.checkTimes(o); code != "" {
		reject(code, "%s", msg)
		return
	}
	dropped := 0
	for k := range data {
		if _, ok := pol.fields[k]; !ok {
			delete(data, k)
			dropped++
		}
	}
	if pol.schema != nil {
		if err := pol.schema.Validate(data); err != nil {
			reject(ReasonSchema, "%s", schemaReason(err))
			return
		}
	}
	if pol.keep != nil {
		for k := range data {
			if _, ok := pol.keep[k]; !ok {
				delete(data, k)
				dropped++
			}
		}
	}
	var scrubbed any = data
	if st := e.cfg.Scrub.snapshot(); st != nil {
		scrubbed = scrubTree(st, data)
	}
	canon, err := appendCanonical(make([]byte, 0, 256), scrubbed)
	if err != nil {
		reject(ReasonBadData, "%v", err)
		return
	}
	sum := sha256.Sum256(canon)
	id := store.EntityID(e.cfg.Tenant, e.cfg.Connector, o.Type, o.ID)
	out.Dropped += dropped
	out.Objects = append(out.Objects, store.Object{
		EntityID: id, Connection: e.cfg.Connection, Connector: e.cfg.Connector,
		Type: o.Type, SourceID: o.ID, Data: canon, Digest: hex.EncodeToString(sum[:]),
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, ObservedAt: now, RunID: e.cfg.RunID,
	})
	out.Lineage = append(out.Lineage, store.Lineage{
		EntityID: id, SourceObjectID: o.ID, ObjectType: o.Type, Connection: e.cfg.Connection,
		RunID: e.cfg.RunID, Confidence: 1, ObservedAt: now,
	})
}

// checkTimes validates the source timestamps and the backfill range.
// It returns a reason code and message, or "" if the times are fine.
func (e *Emitter) checkTimes(o *wireObject) (string, string) {
	if o.UpdatedAt != "" {
		if _, err := time.Parse(time.RFC3339Nano, o.UpdatedAt); err != nil {
			return ReasonBadTimestamp, fmt.Sprintf("updated_at %q is not RFC 3339", truncateUTF8(o.UpdatedAt, 64))
		}
	}
	var created time.Time
	if o.CreatedAt != "" {
		var err error
		if created, err = time.Parse(time.RFC3339Nano, o.CreatedAt); err != nil {
			return ReasonBadTimestamp, fmt.Sprintf("created_at %q is not RFC 3339", truncateUTF8(o.CreatedAt, 64))
		}
	}
	r := e.cfg.Range
	switch {
	case r == nil:
		return "", ""
	case o.CreatedAt == "":
		return ReasonOutOfRange, fmt.Sprintf("created_at is required in a backfill of [%s, %s)", r.From, r.To)
	case created.Before(e.from) || !created.Before(e.to):
		return ReasonOutOfRange, fmt.Sprintf("created_at %s is outside [%s, %s)", o.CreatedAt, r.From, r.To)
	}
	return "", ""
}

func (e *Emitter) edge(out *Emitted, i int, ed *protocol.Edge, now time.Time) {
	reject := func(code, format string, args ...any) {
		out.Rejections = append(out.Rejections, e.rejection("edge", i, ed.Type, ed.From.ID+"->"+ed.To.ID, code, format, args...))
	}
	pol, ok := e.edges[ed.Type]
	switch {
	case !ok:
		reject(ReasonUndeclaredType, "edge type %q is not declared in the manifest", ed.Type)
		return
	case !pol.inStream:
		reject(ReasonNotInStream, "edge type %q is not produced by stream %q", ed.Type, e.cfg.Stream)
		return
	case ed.From.Type != pol.from || ed.To.Type != pol.to:
		reject(ReasonBadEdge, "edge type %q goes from %q to %q, got %q to %q", ed.Type, pol.from, pol.to, ed.From.Type, ed.To.Type)
		return
	case ed.Confidence < 0 || ed.Confidence > 1:
		reject(ReasonBadEdge, "confidence %v is outside [0,1]", ed.Confidence)
		return
	}
	if msg := e.checkID(ed.From.ID); msg != "" {
		reject(ReasonBadID, "from: %s", msg)
		return
	}
	if msg := e.checkID(ed.To.ID); msg != "" {
		reject(ReasonBadID, "to: %s", msg)
		return
	}
	conf := ed.Confidence
	if conf == 0 {
		conf = 1 // the protocol's zero value: an asserted fact
	}
	from := store.EntityID(e.cfg.Tenant, e.cfg.Connector, ed.From.Type, ed.From.ID)
	to := store.EntityID(e.cfg.Tenant, e.cfg.Connector, ed.To.Type, ed.To.ID)
	out.Edges = append(out.Edges, store.Edge{
		Connection: e.cfg.Connection, Type: ed.Type, From: from, To: to,
		FromRef: ed.From, ToRef: ed.To, Confidence: conf, RunID: e.cfg.RunID, ObservedAt: now,
	})
	// The lineage of a relation: the from entity is linked, by this edge
	// type and with this confidence, to the to side's source object.
	out.Lineage = append(out.Lineage, store.Lineage{
		EntityID: from, SourceObjectID: ed.To.ID, ObjectType: ed.To.Type, Connection: e.cfg.Connection,
		RunID: e.cfg.RunID, EdgeType: ed.Type, Confidence: conf, ObservedAt: now,
	})
}

func (e *Emitter) deletion(out *Emitted, i int, d protocol.Deletion) {
	reject := func(code, format string, args ...any) {
		out.Rejections = append(out.Rejections, e.rejection("deletion", i, d.Type, d.ID, code, format, args...))
	}
	if _, code, msg := e.admit(d.Type, d.ID); code != "" {
		reject(code, "%s", msg)
		return
	}
	out.Deletions = append(out.Deletions, store.EntityID(e.cfg.Tenant, e.cfg.Connector, d.Type, d.ID))
}

func (e *Emitter) checkID(id string) string {
	switch {
	case id == "":
		return "id is empty"
	case len(id) > MaxSourceIDLen:
		return fmt.Sprintf("id is %d bytes, the limit is %d", len(id), MaxSourceIDLen)
	case e.cfg.Scrub.String(id) != id:
		return "id contains a secret value"
	}
	return ""
}

// rejection builds a scrubbed, bounded Rejection.
func (e *Emitter) rejection(kind string, i int, typ, id, code, format string, args ...any) protocol.Rejection {
	reason := e.cfg.Scrub.String(code + ": " + fmt.Sprintf(format, args...))
	return protocol.Rejection{
		Kind: kind, Index: i,
		Type:   truncateUTF8(e.cfg.Scrub.String(typ), 128),
		ID:     truncateUTF8(e.cfg.Scrub.String(id), MaxSourceIDLen),
		Reason: truncateUTF8(reason, maxReasonLen),
	}
}

// Take returns everything accepted (and rejected) since the last Take and
// starts afresh. The record cap is per invocation and is not reset.
func (e *Emitter) Take() Emitted {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.cur
	e.cur = Emitted{}
	return out
}

// Overflowed reports whether a batch was refused for crossing MaxRecords
// during this invocation.
func (e *Emitter) Overflowed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.overflowed
}
