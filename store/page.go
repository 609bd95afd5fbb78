package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Page is what one sync/backfill/webhook page commits, atomically.
//
// Connection, and the RunID of every record, may be left empty on the
// records: they default to Page.Connection and Page.Run.ID. A value that
// is set and differs is refused.
type Page struct {
	Connection string
	// Run is upserted in the same transaction; Run.ID is required. Pass
	// its Counts as they were before this page: CommitPage adds the
	// page's Created, Updated and Skipped before writing it, so the stored
	// counts always match the committed pages, also after a crash.
	Run     Run
	Objects []Object
	Edges   []Edge
	Lineage []Lineage
	// Deletions are entity ids the connector said were deleted. They are
	// staged under the run and applied only by FinishSnapshot.
	Deletions []string
	// Checkpoint is the stream cursor after this page; a zero Checkpoint
	// (empty Stream) writes none.
	Checkpoint Checkpoint
	// Webhook, if set, finishes the processing of one webhook inbox
	// event in the same transaction (see WebhookCommit).
	Webhook *WebhookCommit
	// NoIndex is the no-persistent-indexing mode (store/noindex.go):
	// of each object only its payload-manifest entry is written, and
	// edges and deletions are not kept; lineage is.
	NoIndex bool
	// Retention is the retention window per object type: each object
	// record written gets a Badger TTL of the window plus RetentionGrace
	// (store/retention.go). A type not named has no TTL.
	Retention map[string]time.Duration
}

// Outcome is what CommitPage did with one object.
type Outcome int

// Outcomes; the zero value is not an outcome.
const (
	OutcomeCreated Outcome = iota + 1 // new to this connection
	OutcomeUpdated                    // digest differed from the stored one
	OutcomeSkipped                    // same digest: only marked seen by the run
	// OutcomeStale: the object's UpdatedAt is older than the stored
	// one's (an older webhook event arriving after a newer one). It is
	// not written, only marked seen, and counted as skipped too.
	OutcomeStale
)

func (o Outcome) String() string {
	switch o {
	case OutcomeCreated:
		return "created"
	case OutcomeUpdated:
		return "updated"
	case OutcomeSkipped:
		return "skipped"
	case OutcomeStale:
		return "stale"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// PageResult counts the outcomes of a page.
type PageResult struct {
	Created, Updated, Skipped int
	// Stale counts the objects refused for being older than the stored
	// version (also counted in Skipped).
	Stale    int
	Outcomes []Outcome // one per Page.Objects, same order
}

// CommitPage writes a page in one Badger transaction: a crash leaves
// either all of it or none of it, so a page is never lost or applied
// twice, and re-committing the same page is harmless (objects come back
// skipped, edges and lineage overwrite themselves).
//
// For each object it reads the type-index entry (digest and seen run):
// same digest → skipped, and only the index entry is rewritten to mark
// the object seen by this run; otherwise the object record is written.
// Every object, skipped or not, gets a payload-manifest entry. Edges,
// lineage, staged deletions, the checkpoint and the run record are
// written alongside.
//
// Everything is validated before the transaction starts. If the page
// does not fit in one transaction the error is a *PageTooLargeError
// (ErrPageTooLarge) and nothing is written. Pages committed concurrently
// that touch the same objects or the same run conflict: the later one
// fails with ErrConflict, writes nothing, and may be retried.
func (t *Tenant) CommitPage(ctx context.Context, p Page) (PageResult, error) {
	if err := ctx.Err(); err != nil {
		return PageResult{}, err
	}
	if err := t.validatePage(&p); err != nil {
		return PageResult{}, err
	}
	if p.Webhook != nil {
		if err := p.Webhook.validate(); err != nil {
			return PageResult{}, err
		}
	}
	res := PageResult{Outcomes: make([]Outcome, len(p.Objects))}
	err := t.db.update("commit page", func(txn *badger.Txn) error {
		w := pageWriter{t: t, txn: txn, conn: p.Connection, run: p.Run.ID, ttl: p.Retention}
		w.enc = json.NewEncoder(&w.a)
		w.enc.SetEscapeHTML(false)
		if p.Webhook != nil {
			if err := w.webhookCommitTxn(p.Webhook); err != nil {
				return err
			}
		}
		for i := range p.Objects {
			if p.NoIndex {
				res.Outcomes[i] = OutcomeCreated
				if err := w.digestOnly(p.Objects[i]); err != nil {
					return inField("objects", i, err)
				}
				continue
			}
			out, err := w.object(p.Objects[i])
			if err != nil {
				return inField("objects", i, err)
			}
			res.Outcomes[i] = out
		}
		for i := range p.Edges {
			if p.NoIndex {
				break
			}
			if err := w.edge(p.Edges[i]); err != nil {
				return inField("edges", i, err)
			}
		}
		for i := range p.Lineage {
			if err := w.lineage(p.Lineage[i]); err != nil {
				return inField("lineage", i, err)
			}
		}
		for _, e := range p.Deletions {
			if p.NoIndex {
				break
			}
			if err := txn.Set(w.a.key(t.prefix, kStaged, w.run, e), nil); err != nil {
				return err
			}
		}
		if p.Checkpoint.Stream != "" {
			c := p.Checkpoint
			c.normalize()
			if err := w.setJSON(w.a.key(t.prefix, kCheckpoint, c.Connection, c.Kind, c.Stream), &c); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		res.tally()
		r := p.Run
		r.Counts.Created += int64(res.Created)
		r.Counts.Updated += int64(res.Updated)
		r.Counts.Skipped += int64(res.Skipped)
		return t.putRunTxn(txn, r)
	})
	if errors.Is(err, ErrDuplicateEvent) {
		return PageResult{}, err
	}
	if errors.Is(err, badger.ErrTxnTooBig) {
		return PageResult{}, &PageTooLargeError{
			Objects: len(p.Objects), Edges: len(p.Edges), Lineage: len(p.Lineage),
			Deletions: len(p.Deletions), Err: badger.ErrTxnTooBig,
		}
	}
	if err != nil {
		return PageResult{}, err
	}
	return res, nil
}

func (r *PageResult) tally() {
	for _, o := range r.Outcomes {
		switch o {
		case OutcomeCreated:
			r.Created++
		case OutcomeUpdated:
			r.Updated++
		case OutcomeSkipped:
			r.Skipped++
		case OutcomeStale:
			r.Skipped++
			r.Stale++
		}
	}
}

// pageWriter holds the per-transaction state of CommitPage. Keys and
// values live in its arena until the transaction ends.
type pageWriter struct {
	t         *Tenant
	txn       *badger.Txn
	conn, run string
	a         arena
	enc       *json.Encoder
	buf       []byte       // reused for each object record before it is copied into a
	compact   bytes.Buffer // scratch for appendObject
	// unchanged and knownEdges let lineage record changes, not every
	// re-observation: a re-sync of unchanged data adds no lineage.
	unchanged  map[string]struct{}      // entity ids whose object was skipped
	knownEdges map[string]struct{}      // from \x00 type \x00 to-source of edges already stored
	ttl        map[string]time.Duration // Page.Retention
}

// setObject encodes o with appendObject into the arena and sets it.
// Only outside input can fail to encode (Data that is not JSON, a time
// outside years 0-9999), so a failure is a ValidationError.
func (w *pageWriter) setObject(key []byte, o *Object) error {
	var err error
	if w.buf, err = appendObject(w.buf[:0], o, &w.compact); err != nil {
		if !json.Valid(o.Data) {
			return invalid("data", string(o.Data), "is not valid JSON")
		}
		return invalid("record", "", err.Error())
	}
	v := w.a.alloc(len(w.buf))
	copy(v, w.buf)
	if d := w.ttl[o.Type]; d > 0 {
		return w.txn.SetEntry(badger.NewEntry(key, v).WithTTL(d + RetentionGrace))
	}
	return w.txn.Set(key, v)
}

// setJSON encodes v into the arena and sets it; as for setObject, an
// encoding failure is a ValidationError.
func (w *pageWriter) setJSON(key []byte, v any) error {
	if err := w.enc.Encode(v); err != nil {
		return invalid("record", "", err.Error())
	}
	return w.txn.Set(key, w.a.last[:len(w.a.last)-1]) // drop Encode's '\n'
}

func (w *pageWriter) object(o Object) (Outcome, error) {
	p := w.t.prefix
	if o.Connection == "" {
		o.Connection = w.conn
	}
	if o.RunID == "" {
		o.RunID = w.run
	}
	o.normalize()
	idx := w.a.key(p, kTypeIndex, w.conn, o.Type, o.EntityID)
	out := OutcomeCreated
	var storedDigest string
	item, err := w.txn.Get(idx)
	switch {
	case err == nil:
		out = OutcomeUpdated
		if err := item.Value(func(v []byte) error {
			if sameDigest(v, o.Digest) {
				out = OutcomeSkipped
			} else {
				storedDigest = indexDigest(v)
			}
			return nil
		}); err != nil {
			return 0, err
		}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return 0, err
	}
	if out == OutcomeUpdated && o.UpdatedAt != "" && storedDigest != "" {
		stale, err := w.olderThanStored(o)
		if err != nil {
			return 0, err
		}
		if stale {
			// Never regress: keep the stored version, mark it seen by
			// this run, and put the stored digest in the run's manifest.
			out, o.Digest = OutcomeStale, storedDigest
		}
	}
	if out == OutcomeSkipped || out == OutcomeStale {
		if w.unchanged == nil {
			w.unchanged = map[string]struct{}{}
		}
		w.unchanged[o.EntityID] = struct{}{}
	}
	if out == OutcomeCreated || out == OutcomeUpdated {
		if err := w.setObject(w.a.key(p, kObject, o.EntityID), &o); err != nil {
			return 0, err
		}
	}
	if out == OutcomeCreated {
		if err := w.txn.Set(w.a.key(p, kMember, o.EntityID, w.conn), w.a.quoted(o.Type)); err != nil {
			return 0, err
		}
	}
	if err := w.txn.Set(idx, w.indexValue(o.Digest)); err != nil {
		return 0, err
	}
	return out, w.txn.Set(w.a.key(p, kManifest, w.run, o.EntityID), w.a.quoted(o.Digest))
}

func (w *pageWriter) edge(e Edge) error {
	if e.Connection == "" {
		e.Connection = w.conn
	}
	if e.RunID == "" {
		e.RunID = w.run
	}
	e.normalize()
	key := w.a.key(w.t.prefix, kEdge, w.conn, e.From, e.Type, e.To)
	switch _, err := w.txn.Get(key); {
	case err == nil:
		if w.knownEdges == nil {
			w.knownEdges = map[string]struct{}{}
		}
		w.knownEdges[e.From+"\x00"+e.Type+"\x00"+e.ToRef.ID] = struct{}{}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return err
	}
	return w.setJSON(key, &e)
}

func (w *pageWriter) lineage(l Lineage) error {
	if l.Connection == "" {
		l.Connection = w.conn
	}
	if l.RunID == "" {
		l.RunID = w.run
	}
	l.normalize()
	if l.EdgeType == "" {
		if _, ok := w.unchanged[l.EntityID]; ok {
			return nil
		}
	} else if _, ok := w.knownEdges[l.EntityID+"\x00"+l.EdgeType+"\x00"+l.SourceObjectID]; ok {
		return nil
	}
	return w.setJSON(w.t.lineageKey(&w.a, &l), &l)
}

// The type-index value is written by hand, in exactly this layout, so
// that the hot path can compare it without decoding:
//
//	{"digest":"<digest>","run":"<run>"}
//
// Digests and run ids are validated names and need no JSON escaping.
const (
	indexDigestPrefix = `{"digest":"`
	indexRunInfix     = `","run":"`
	indexSuffix       = `"}`
)

func (w *pageWriter) indexValue(digest string) []byte {
	b := w.a.alloc(len(indexDigestPrefix) + len(digest) + len(indexRunInfix) + len(w.run) + len(indexSuffix))[:0]
	b = append(b, indexDigestPrefix...)
	b = append(b, digest...)
	b = append(b, indexRunInfix...)
	b = append(b, w.run...)
	return append(b, indexSuffix...)
}

// sameDigest reports whether the index value v records digest d.
func sameDigest(v []byte, d string) bool {
	if !bytes.HasPrefix(v, []byte(indexDigestPrefix)) {
		return false
	}
	v = v[len(indexDigestPrefix):]
	return len(v) > len(d) && string(v[:len(d)]) == d && v[len(d)] == '"'
}

// seenBy reports whether the index value v records run as the last run
// that saw the object.
func seenBy(v []byte, run string) bool {
	n := len(run) + len(indexSuffix)
	return len(v) > n+len(indexRunInfix) &&
		string(v[len(v)-n:len(v)-len(indexSuffix)]) == run &&
		bytes.HasSuffix(v[:len(v)-n], []byte(indexRunInfix))
}

// indexRun returns the run recorded in an index value.
func indexRun(v []byte) string {
	i := bytes.LastIndex(v, []byte(indexRunInfix))
	if i < 0 || !bytes.HasSuffix(v, []byte(indexSuffix)) {
		return ""
	}
	return string(v[i+len(indexRunInfix) : len(v)-len(indexSuffix)])
}

// lineageKey is l/{entity}/{observed nanos}/{run}/{edge type}/{source}:
// one event per entity, instant, run, edge type and source object, in
// time order, so re-writing an event overwrites it and two relations of
// one entity emitted at the same instant stay two events. An empty edge
// type is "-" (never a valid name); {source} is sourceHash. It builds in
// a if given, else in its own allocation.
func (t *Tenant) lineageKey(a *arena, l *Lineage) []byte {
	var n [nanosLen]byte
	nanos := string(appendNanos(n[:0], l.ObservedAt))
	etype := l.EdgeType
	if etype == "" {
		etype = "-"
	}
	src := sourceHash(l.ObjectType, l.SourceObjectID)
	if a == nil {
		return t.key(kLineage, l.EntityID, nanos, l.RunID, etype, string(src[:]))
	}
	return a.key(t.prefix, kLineage, l.EntityID, nanos, l.RunID, etype, string(src[:]))
}

// sourceHash names a source object inside a key: source ids are
// arbitrary remote strings (they may hold '/'), so the key holds the
// first 8 bytes, in hex, of SHA-256(object type, 0x00, source id).
func sourceHash(objectType, sourceID string) [16]byte {
	b := make([]byte, 0, 128)
	b = append(append(append(b, objectType...), 0), sourceID...)
	sum := sha256.Sum256(b)
	var out [16]byte
	hex.Encode(out[:], sum[:8])
	return out
}

// indexDigest returns the digest recorded in an index value ("" if the
// value is not in the hand-written layout).
func indexDigest(v []byte) string {
	if !bytes.HasPrefix(v, []byte(indexDigestPrefix)) {
		return ""
	}
	v = v[len(indexDigestPrefix):]
	i := bytes.Index(v, []byte(indexRunInfix))
	if i <= 0 {
		return ""
	}
	return string(v[:i])
}

// olderThanStored reports whether o's UpdatedAt is before the stored
// object's: the host's rule that an older event never regresses an
// object. Only an object whose digest changed and that carries
// updated_at pays for the extra read. Unparseable times never refuse.
func (w *pageWriter) olderThanStored(o Object) (bool, error) {
	in, err := time.Parse(time.RFC3339Nano, o.UpdatedAt)
	if err != nil {
		return false, nil
	}
	item, err := w.txn.Get(w.a.key(w.t.prefix, kObject, o.EntityID))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var stored struct {
		UpdatedAt string `json:"updated_at"`
	}
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &stored) }); err != nil {
		return false, nil
	}
	if stored.UpdatedAt == "" {
		return false, nil
	}
	st, err := time.Parse(time.RFC3339Nano, stored.UpdatedAt)
	if err != nil {
		return false, nil
	}
	return in.Before(st), nil
}
