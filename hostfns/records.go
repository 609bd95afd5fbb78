package hostfns

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
)

// The checks of one record each: an object, an edge, a deletion.

// admit checks a record's type against the manifest and the stream, and
// its source id; a non-empty code is the rejection reason.
func (e *Emitter) admit(typ, id string) (*objectPolicy, string, string) {
	pol, ok := e.objects[typ]
	switch {
	case !ok:
		return nil, ReasonUndeclaredType, fmt.Sprintf("object type %q is not declared in the manifest", typ)
	case !pol.inStream:
		return nil, ReasonNotInStream, fmt.Sprintf("object type %q is not produced by stream %q", typ, e.cfg.Stream)
	case pol.refused:
		return nil, ReasonPolicy, fmt.Sprintf("object type %q is refused by the tenant's ingest policy", typ)
	}
	if msg := e.checkID(id); msg != "" {
		return nil, ReasonBadID, msg
	}
	return pol, "", ""
}

func (e *Emitter) object(out *Emitted, i int, o *wireObject, now time.Time, drops *Drops) {
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
	for k, v := range data {
		if _, ok := pol.fields[k]; !ok {
			if drops != nil {
				drops.drop(k, v)
			}
			delete(data, k)
			dropped++
		}
	}
	if pol.keep != nil && drops != nil {
		// Noted before validation: a narrowed field of a rejected object
		// is not kept either.
		for k, v := range data {
			if _, ok := pol.keep[k]; !ok {
				drops.drop(k, v)
			}
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
	if drops != nil {
		drops.keep(data)
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
	case pol.refused:
		reject(ReasonPolicy, "edge type %q (%s to %s) is refused by the tenant's ingest policy", ed.Type, pol.from, pol.to)
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
