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
	"slices"
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
	ReasonPolicy         = "policy_refused"  // type (or an edge's endpoint type) refused by the tenant's ingest policy
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
	// Recorder, for a tape, gets the SHA-256 (hex) of what the host made
	// of every batch (tape format 2: the objects kept, after
	// minimisation, the edges, deletions and rejections), or with
	// RecordBatches of every batch exactly as the module sent it (format
	// 1). Set, the Emitter also notes what minimisation dropped
	// ([Emitter.Drops]).
	Recorder      func(digest string)
	RecordBatches bool
	// Narrow is the connection's data minimisation: per object type, the
	// subset of the manifest's allow-list the tenant keeps. A type not
	// named keeps the manifest's whole allow-list; a name outside it is
	// ignored (it could only widen). The dropped fields are counted in
	// Emitted.Dropped like any other field outside the allow-list.
	Narrow map[string][]string
	// Refused lists the object and edge types the tenant's ingest policy
	// refused for this call: their objects and deletions, and every edge
	// of a refused type or with a refused endpoint type, are rejected with
	// ReasonPolicy, so a stream mixing allowed and refused types keeps the
	// allowed ones. Nil refuses nothing beyond the manifest and Stream.
	Refused []string
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
	// drops is nil unless recording; dmu guards it for a whole batch, so
	// concurrent batches (a guest emits one at a time) need no merge.
	dmu   sync.Mutex
	drops *Drops
}

type objectPolicy struct {
	fields map[string]protocol.FieldPolicy
	// keep is the connection's narrowed allow-list (nil = fields). The
	// schema sees the data after the manifest's allow-list, before the
	// narrowing, so a tenant cannot make valid objects invalid.
	keep     map[string]protocol.FieldPolicy
	schema   *jsonschema.Schema
	inStream bool
	refused  bool
}

type edgePolicy struct {
	from, to string
	inStream bool
	refused  bool // the edge type or an endpoint type is refused
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
	if cfg.Recorder != nil {
		e.drops = newDrops()
	}
	m := cfg.Manifest
	if m == nil {
		return e
	}
	inObj, inEdge := streamTypes(m, cfg.Stream)
	refused := func(t string) bool { return slices.Contains(cfg.Refused, t) }
	for _, ot := range m.ObjectTypes {
		e.objects[ot.Name] = &objectPolicy{fields: ot.Fields, keep: narrowFields(ot.Fields, cfg.Narrow, ot.Name), schema: cfg.Schemas.lookup(ot.Name),
			inStream: inObj(ot.Name), refused: refused(ot.Name)}
	}
	for _, et := range m.EdgeTypes {
		e.edges[et.Name] = &edgePolicy{from: et.From, to: et.To, inStream: inEdge(et.Name),
			refused: refused(et.Name) || refused(et.From) || refused(et.To)}
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
	rec := e.cfg.Recorder
	if rec != nil && e.cfg.RecordBatches {
		sum := sha256.Sum256(batch)
		rec(hex.EncodeToString(sum[:]))
		rec = nil
	}
	res, oc := e.emit(batch, rec != nil)
	if rec != nil {
		oc.Error = res.Error
		rec(oc.digest())
	}
	return res
}

// emit is Emit; with record set it also fills in what the host made of
// the batch, for the tape.
func (e *Emitter) emit(batch []byte, record bool) (protocol.EmitResult, *outcome) {
	oc := &outcome{}
	if e.rangeErr != nil {
		return protocol.EmitResult{Error: e.rangeErr.Error()}, oc
	}
	var wb wireBatch
	if err := decodeBatch(batch, &wb); err != nil {
		return protocol.EmitResult{Error: e.cfg.Scrub.String("bad batch: " + err.Error())}, oc
	}
	n := len(wb.Objects) + len(wb.Edges) + len(wb.Deletions)
	if msg := e.reserve(n); msg != "" {
		return protocol.EmitResult{Error: msg}, oc
	}

	var out Emitted
	out.Read = n
	now := e.clock().UTC()
	if e.drops != nil {
		e.dmu.Lock()
	}
	for i := range wb.Objects {
		e.object(&out, i, &wb.Objects[i], now, e.drops)
	}
	if e.drops != nil {
		e.dmu.Unlock()
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

	if record {
		for _, o := range out.Objects {
			oc.Objects = append(oc.Objects, keptObject{Type: o.Type, ID: o.SourceID, UpdatedAt: o.UpdatedAt, CreatedAt: o.CreatedAt, Data: o.Digest})
		}
		oc.Edges, oc.Deletions, oc.Rejected = wb.Edges, wb.Deletions, out.Rejections
	}
	return protocol.EmitResult{Accepted: n - len(out.Rejections), Rejected: out.Rejections}, oc
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
