package connector

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

// Page sizes: a request's PageSize of zero or less means DefaultPageSize,
// more than MaxPageSize (the remote's own cap) means MaxPageSize.
const (
	DefaultPageSize = 500
	MaxPageSize     = 1000
)

// cursor is the connector's own resume point (see the package doc).
type cursor struct {
	// Page is the remote's next_cursor within a pass.
	Page string `json:"page,omitempty"`
	// Max is the largest updated_at seen so far in the pass.
	Max string `json:"max,omitempty"`
	// Since is the updated_since filter of the pass; the remote binds
	// Page to it, so every page of the pass repeats it.
	Since string `json:"since,omitempty"`
}

// stream describes one remote collection.
type stream struct {
	path string
	// incremental: the collection accepts updated_since.
	incremental bool
	// emit sends one page of records to the host and returns the largest
	// updated_at among them. keep, when set, filters on created_at.
	emit func(h *sdk.Host, data []json.RawMessage, keep func(time.Time) bool) (string, error)
}

func streamOf(name string) (stream, bool) {
	switch name {
	case StreamUsers:
		return stream{path: "/api/v1/users", incremental: true, emit: emitObjects(TypeUser)}, true
	case StreamGroups:
		return stream{path: "/api/v1/groups", incremental: true, emit: emitObjects(TypeGroup)}, true
	case StreamMemberships:
		return stream{path: "/api/v1/memberships", emit: emitMemberships}, true
	}
	return stream{}, false
}

// page is the remote's list envelope.
type page struct {
	Data       []json.RawMessage
	NextCursor string
	HasMore    bool
}

// listPage GETs one page and takes the envelope apart without decoding
// the records: each record is read once, by sdk.ObjectFromRecord, and
// emitted as the remote's own bytes.
func listPage(h *sdk.Host, listURL string) (page, error) {
	body, err := h.GetBody(listURL)
	if err != nil {
		return page{}, err
	}
	v, err := sdk.RawMembers(body, "data", "next_cursor", "has_more")
	if err != nil {
		return page{}, fmt.Errorf("%w: list envelope: %v", ErrBadRemote, err)
	}
	var p page
	if p.Data, err = sdk.RawElements(v[0]); err != nil {
		return page{}, fmt.Errorf("%w: data: %v", ErrBadRemote, err)
	}
	for i, dst := range []any{&p.NextCursor, &p.HasMore} {
		if raw := v[i+1]; raw != nil {
			if err := json.Unmarshal(raw, dst); err != nil {
				return page{}, fmt.Errorf("%w: list envelope: %v", ErrBadRemote, err)
			}
		}
	}
	return p, nil
}

// syncPage reads one page of a stream: a snapshot pass from an empty cursor,
// an incremental pass from a {"since":…} cursor.
func syncPage(h *sdk.Host, req protocol.SyncRequest) (protocol.SyncResponse, error) {
	base, err := baseURL(req.Config)
	if err != nil {
		return protocol.SyncResponse{}, err
	}
	st, ok := streamOf(req.Stream)
	if !ok {
		return protocol.SyncResponse{}, fmt.Errorf("%w: %q", ErrUnknownStream, req.Stream)
	}
	cur, err := decodeCursor(req.Cursor)
	if err != nil {
		return protocol.SyncResponse{}, err
	}
	q := listQuery(req.PageSize, cur.Page)
	if cur.Since != "" {
		if !st.incremental {
			return protocol.SyncResponse{}, fmt.Errorf("%w: stream %s has no incremental sync", ErrBadCursor, req.Stream)
		}
		q.Set("updated_since", cur.Since)
	}
	p, err := listPage(h, base+st.path+"?"+q.Encode())
	if err != nil {
		return protocol.SyncResponse{}, fmt.Errorf("listing %s: %w", req.Stream, err)
	}
	maxSeen, err := st.emit(h, p.Data, nil)
	if err != nil {
		return protocol.SyncResponse{}, err
	}
	cur.Max = later(cur.Max, maxSeen)
	if p.HasMore {
		return more(p, cursor{Page: p.NextCursor, Max: cur.Max, Since: cur.Since})
	}
	since := cur.Max
	if since == "" {
		since = cur.Since
	}
	if !st.incremental || since == "" {
		// Nothing to resume from: the next sync is a snapshot again.
		return protocol.SyncResponse{}, nil
	}
	return protocol.SyncResponse{NextCursor: encodeCursor(cursor{Since: since})}, nil
}

// backfillPage reads one page of users created in [Range.From, Range.To).
// The remote filters by the same half-open range; the connector checks
// every record again, so nothing outside the range is emitted whatever
// the remote does.
func backfillPage(h *sdk.Host, req protocol.BackfillRequest) (protocol.SyncResponse, error) {
	base, err := baseURL(req.Config)
	if err != nil {
		return protocol.SyncResponse{}, err
	}
	st, ok := streamOf(req.Stream)
	switch {
	case !ok:
		return protocol.SyncResponse{}, fmt.Errorf("%w: %q", ErrUnknownStream, req.Stream)
	case req.Stream != StreamUsers:
		return protocol.SyncResponse{}, fmt.Errorf("%w: %s", ErrNoBackfill, req.Stream)
	}
	from, err := time.Parse(time.RFC3339, req.Range.From)
	if err != nil {
		return protocol.SyncResponse{}, fmt.Errorf("%w: from %q", ErrBadRange, req.Range.From)
	}
	to, err := time.Parse(time.RFC3339, req.Range.To)
	if err != nil || !from.Before(to) {
		return protocol.SyncResponse{}, fmt.Errorf("%w: to %q is not a time after from %q", ErrBadRange, req.Range.To, req.Range.From)
	}
	cur, err := decodeCursor(req.Cursor)
	if err != nil {
		return protocol.SyncResponse{}, err
	}
	if cur.Since != "" {
		return protocol.SyncResponse{}, fmt.Errorf("%w: a sync cursor given to backfill", ErrBadCursor)
	}
	q := listQuery(req.PageSize, cur.Page)
	q.Set("created_from", req.Range.From)
	q.Set("created_to", req.Range.To)
	p, err := listPage(h, base+st.path+"?"+q.Encode())
	if err != nil {
		return protocol.SyncResponse{}, fmt.Errorf("listing %s: %w", req.Stream, err)
	}
	inRange := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	maxSeen, err := st.emit(h, p.Data, inRange)
	if err != nil {
		return protocol.SyncResponse{}, err
	}
	if p.HasMore {
		return more(p, cursor{Page: p.NextCursor, Max: later(cur.Max, maxSeen)})
	}
	return protocol.SyncResponse{}, nil
}

func listQuery(pageSize int, pageCursor string) url.Values {
	switch {
	case pageSize <= 0:
		pageSize = DefaultPageSize
	case pageSize > MaxPageSize:
		pageSize = MaxPageSize
	}
	q := url.Values{"limit": {strconv.Itoa(pageSize)}}
	if pageCursor != "" {
		q.Set("cursor", pageCursor)
	}
	return q
}

// more answers "call again with c". A remote that says has_more without
// a cursor would make the host loop on the same page forever.
func more(p page, c cursor) (protocol.SyncResponse, error) {
	if p.NextCursor == "" {
		return protocol.SyncResponse{}, fmt.Errorf("%w: has_more without next_cursor", ErrBadRemote)
	}
	return protocol.SyncResponse{NextCursor: encodeCursor(c), HasMore: true}, nil
}

func emitObjects(typ string) func(*sdk.Host, []json.RawMessage, func(time.Time) bool) (string, error) {
	return func(h *sdk.Host, data []json.RawMessage, keep func(time.Time) bool) (string, error) {
		var maxSeen string
		skipped := 0
		for _, raw := range data {
			// ObjectFromRecord reads id, created_at and updated_at without
			// decoding the record: the record itself is the object's data.
			o, err := sdk.ObjectFromRecord(typ, raw, sdk.RecordKeys{})
			if err != nil {
				return "", fmt.Errorf("%w: %v", ErrBadRemote, err)
			}
			if keep != nil {
				created, err := time.Parse(time.RFC3339, o.CreatedAt)
				if err != nil || !keep(created) {
					skipped++
					continue
				}
			}
			if err := h.Emit(o); err != nil {
				return "", err
			}
			maxSeen = later(maxSeen, o.UpdatedAt)
		}
		if skipped > 0 {
			h.Logf(protocol.LogWarn, "skipped %d %s records the remote returned outside the requested range", skipped, typ)
		}
		return maxSeen, nil
	}
}

func emitMemberships(h *sdk.Host, data []json.RawMessage, _ func(time.Time) bool) (string, error) {
	for _, raw := range data {
		var m struct {
			UserID  string `json:"user_id"`
			GroupID string `json:"group_id"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return "", fmt.Errorf("%w: membership record: %v", ErrBadRemote, err)
		}
		if m.UserID == "" || m.GroupID == "" {
			return "", fmt.Errorf("%w: membership without user_id or group_id", ErrBadRemote)
		}
		edge := protocol.Edge{
			Type: EdgeMemberOf,
			From: protocol.Ref{Type: TypeUser, ID: m.UserID},
			To:   protocol.Ref{Type: TypeGroup, ID: m.GroupID},
		}
		if err := h.EmitEdge(edge); err != nil {
			return "", err
		}
	}
	return "", nil
}

// later returns whichever of two RFC 3339 timestamps is later, keeping
// the remote's own spelling. An unparsable b is ignored.
func later(a, b string) string {
	tb, err := time.Parse(time.RFC3339, b)
	if err != nil {
		return a
	}
	ta, err := time.Parse(time.RFC3339, a)
	if err != nil || tb.After(ta) {
		return b
	}
	return a
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("%w: %v", ErrBadCursor, err)
	}
	for _, ts := range []string{c.Max, c.Since} {
		if _, err := time.Parse(time.RFC3339, ts); ts != "" && err != nil {
			return c, fmt.Errorf("%w: %q is not an RFC 3339 time", ErrBadCursor, ts)
		}
	}
	return c, nil
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c) // three strings cannot fail to encode
	return string(b)
}
