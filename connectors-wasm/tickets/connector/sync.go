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
	// Since is the pass's updated_since filter, repeated on every page
	// because the remote binds Page to it.
	Since string `json:"since,omitempty"`
}

// streamPaths are the remote collections of the streams.
var streamPaths = map[string]string{
	StreamTickets:  "/api/v1/tickets",
	StreamComments: "/api/v1/comments",
}

// page is the remote's list envelope; records stay raw.
type page struct {
	Data       []json.RawMessage
	NextCursor string
	HasMore    bool
}

// listPage GETs one page and takes the envelope apart without decoding
// the records, which are emitted as the remote's own bytes.
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

// syncPage reads one page of a stream: a snapshot pass from an empty
// cursor, an incremental pass from a {"since":…} cursor.
func syncPage(h *sdk.Host, req protocol.SyncRequest) (protocol.SyncResponse, error) {
	base, err := baseURL(req.Config)
	if err != nil {
		return protocol.SyncResponse{}, err
	}
	path, ok := streamPaths[req.Stream]
	if !ok {
		return protocol.SyncResponse{}, fmt.Errorf("%w: %q", ErrUnknownStream, req.Stream)
	}
	cur, err := decodeCursor(req.Cursor)
	if err != nil {
		return protocol.SyncResponse{}, err
	}
	q := listQuery(req.PageSize, cur.Page)
	if cur.Since != "" {
		q.Set("updated_since", cur.Since)
	}
	p, err := listPage(h, base+path+"?"+q.Encode())
	if err != nil {
		return protocol.SyncResponse{}, fmt.Errorf("listing %s: %w", req.Stream, err)
	}
	maxSeen, err := emitPage(h, req.Stream, p.Data)
	if err != nil {
		return protocol.SyncResponse{}, err
	}
	cur.Max = later(cur.Max, maxSeen)
	if p.HasMore {
		if p.NextCursor == "" {
			// Calling again with the same cursor would loop on this page.
			return protocol.SyncResponse{}, fmt.Errorf("%w: has_more without next_cursor", ErrBadRemote)
		}
		return protocol.SyncResponse{NextCursor: encodeCursor(cursor{Page: p.NextCursor, Max: cur.Max, Since: cur.Since}), HasMore: true}, nil
	}
	since := later(cur.Since, cur.Max)
	if since == "" {
		// An empty remote: nothing to resume from, the next sync is a snapshot.
		return protocol.SyncResponse{}, nil
	}
	return protocol.SyncResponse{NextCursor: encodeCursor(cursor{Since: since})}, nil
}

// emitPage emits one page's records and returns their largest updated_at.
func emitPage(h *sdk.Host, stream string, data []json.RawMessage) (string, error) {
	var maxSeen string
	for _, raw := range data {
		var err error
		var o protocol.Object
		if stream == StreamTickets {
			o, err = ticketObject(raw)
		} else {
			o, err = commentObject(raw)
		}
		if err != nil {
			return "", err
		}
		if err := h.Emit(o); err != nil {
			return "", err
		}
		if stream == StreamComments {
			if err := h.EmitEdge(onTicket(o.ID, raw)); err != nil {
				return "", err
			}
		}
		maxSeen = later(maxSeen, o.UpdatedAt)
	}
	return maxSeen, nil
}

// ticketObject is the object of one ticket record, the record as its data.
func ticketObject(raw json.RawMessage) (protocol.Object, error) {
	o, err := sdk.ObjectFromRecord(TypeTicket, raw, sdk.RecordKeys{})
	if err != nil {
		return o, fmt.Errorf("%w: %v", ErrBadRemote, err)
	}
	return o, nil
}

// commentObject is the object of one comment record; a comment must name
// its ticket, or its edge would point nowhere.
func commentObject(raw json.RawMessage) (protocol.Object, error) {
	o, err := sdk.ObjectFromRecord(TypeComment, raw, sdk.RecordKeys{})
	if err != nil {
		return o, fmt.Errorf("%w: %v", ErrBadRemote, err)
	}
	if ticketOf(raw) == "" {
		return o, fmt.Errorf("%w: comment %s without ticket_id", ErrBadRemote, o.ID)
	}
	return o, nil
}

func ticketOf(raw json.RawMessage) string {
	var c struct {
		TicketID string `json:"ticket_id"`
	}
	_ = json.Unmarshal(raw, &c) // commentObject already checked it is an object
	return c.TicketID
}

func onTicket(commentID string, raw json.RawMessage) protocol.Edge {
	return protocol.Edge{Type: EdgeOnTicket, From: protocol.Ref{Type: TypeComment, ID: commentID},
		To: protocol.Ref{Type: TypeTicket, ID: ticketOf(raw)}}
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

// later returns whichever of two RFC 3339 timestamps is later, keeping
// the remote's own spelling; an unparsable b is ignored.
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
