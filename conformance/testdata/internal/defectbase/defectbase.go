package defectbase

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

// Options hooks the base connector.
type Options struct {
	// Object, when set, rewrites every object before it is emitted; i is
	// the object's index in its page.
	Object func(i int, o protocol.Object) protocol.Object
	// IgnoreRange makes backfill list users without the range filter and
	// emit every one of them.
	IgnoreRange bool
	// EventID, when set, rewrites the event id the webhook export
	// answers (the key of the host's de-duplication).
	EventID func(id string) string
}

// New returns the base connector for the manifest (connector.json bytes).
// A manifest that does not decode makes every export fail with
// ErrManifest rather than panic in init.
func New(manifest []byte, opts Options) sdk.Connector {
	var m protocol.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		fail := fmt.Errorf("%w: %v", ErrManifest, err)
		return sdk.Connector{Discover: func(*sdk.Host) (protocol.DiscoverResponse, error) {
			return protocol.DiscoverResponse{}, fail
		}}
	}
	b := &base{m: m, opts: opts}
	return sdk.Connector{
		Discover:  b.discover,
		Authorize: b.authorize,
		Sync:      b.sync,
		Backfill:  b.backfill,
		Health:    b.health,
		Webhook:   b.webhook,
	}
}

type base struct {
	m    protocol.Manifest
	opts Options
}

func (b *base) discover(*sdk.Host) (protocol.DiscoverResponse, error) {
	return protocol.DiscoverResponse{
		ID: b.m.ID, Version: b.m.Version, Types: b.m.Types, Scopes: b.m.Scopes, Streams: b.m.Streams,
		ObjectTypes: b.m.ObjectTypes, EdgeTypes: b.m.EdgeTypes, Actions: b.m.Actions, Checks: b.m.Checks,
	}, nil
}

func (b *base) authorize(h *sdk.Host, req protocol.AuthorizeRequest) (protocol.AuthorizeResponse, error) {
	u, err := BaseURL(req.Config)
	if err != nil {
		return protocol.AuthorizeResponse{}, err
	}
	var acct struct {
		ID string `json:"id"`
	}
	if err := h.GetJSON(u+"/api/v1/account", &acct); err != nil {
		return protocol.AuthorizeResponse{}, err
	}
	needed := []string{}
	for _, s := range b.m.Scopes {
		if slices.Contains(req.GrantedScopes, s.Name) {
			needed = append(needed, s.Name)
		}
	}
	return protocol.AuthorizeResponse{AccountID: acct.ID, NeededScopes: needed}, nil
}

func (b *base) health(h *sdk.Host) (protocol.HealthResponse, error) {
	u, err := BaseURL(h.Config())
	if err != nil {
		return protocol.HealthResponse{}, err
	}
	resp, err := h.Get(u + "/api/v1/health")
	if err != nil {
		return protocol.HealthResponse{Details: map[string]string{"error": err.Error()}}, nil
	}
	return protocol.HealthResponse{Reachable: resp.Status == 200, Details: map[string]string{"http_status": strconv.Itoa(resp.Status)}}, nil
}

func (b *base) sync(h *sdk.Host, req protocol.SyncRequest) (protocol.SyncResponse, error) {
	u, err := BaseURL(req.Config)
	if err != nil {
		return protocol.SyncResponse{}, err
	}
	q := Query(req.PageSize, req.Cursor)
	switch req.Stream {
	case "users":
		return b.objects(h, u+"/api/v1/users?"+q.Encode(), "user", nil)
	case "groups":
		return b.objects(h, u+"/api/v1/groups?"+q.Encode(), "group", nil)
	case "memberships":
		p, err := List(h, u+"/api/v1/memberships?"+q.Encode())
		if err != nil {
			return protocol.SyncResponse{}, err
		}
		for _, raw := range p.Data {
			var m struct {
				UserID  string `json:"user_id"`
				GroupID string `json:"group_id"`
			}
			if err := json.Unmarshal(raw, &m); err != nil {
				return protocol.SyncResponse{}, err
			}
			edge := protocol.Edge{Type: "member_of", From: protocol.Ref{Type: "user", ID: m.UserID}, To: protocol.Ref{Type: "group", ID: m.GroupID}}
			if err := h.EmitEdge(edge); err != nil {
				return protocol.SyncResponse{}, err
			}
		}
		return p.next(), nil
	}
	return protocol.SyncResponse{}, fmt.Errorf("%w: %q", ErrStream, req.Stream)
}

func (b *base) backfill(h *sdk.Host, req protocol.BackfillRequest) (protocol.SyncResponse, error) {
	u, err := BaseURL(req.Config)
	if err != nil {
		return protocol.SyncResponse{}, err
	}
	if req.Stream != "users" {
		return protocol.SyncResponse{}, fmt.Errorf("%w: %q", ErrStream, req.Stream)
	}
	from, err1 := time.Parse(time.RFC3339, req.Range.From)
	to, err2 := time.Parse(time.RFC3339, req.Range.To)
	if err1 != nil || err2 != nil || !from.Before(to) {
		return protocol.SyncResponse{}, fmt.Errorf("%w: %+v", ErrRange, req.Range)
	}
	q := Query(req.PageSize, req.Cursor)
	keep := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	if b.opts.IgnoreRange {
		keep = nil
	} else {
		q.Set("created_from", req.Range.From)
		q.Set("created_to", req.Range.To)
	}
	return b.objects(h, u+"/api/v1/users?"+q.Encode(), "user", keep)
}

// objects lists one page of users or groups and emits them, filtered on
// created_at by keep when set.
func (b *base) objects(h *sdk.Host, listURL, typ string, keep func(time.Time) bool) (protocol.SyncResponse, error) {
	p, err := List(h, listURL)
	if err != nil {
		return protocol.SyncResponse{}, err
	}
	for i, raw := range p.Data {
		o, err := Object(typ, raw)
		if err != nil {
			return protocol.SyncResponse{}, err
		}
		if keep != nil {
			created, err := time.Parse(time.RFC3339, o.CreatedAt)
			if err != nil || !keep(created) {
				continue
			}
		}
		if b.opts.Object != nil {
			o = b.opts.Object(i, o)
		}
		if err := h.Emit(o); err != nil {
			return protocol.SyncResponse{}, err
		}
	}
	return p.next(), nil
}

// BaseURL returns the config's base_url without a trailing slash.
func BaseURL(cfg protocol.Config) (string, error) {
	u := strings.TrimRight(cfg["base_url"], "/")
	if u == "" {
		return "", ErrConfig
	}
	return u, nil
}

// Query returns the list query for a page: limit (default 500, at most
// 1000) and the remote's cursor.
func Query(pageSize int, cursor string) url.Values {
	if pageSize <= 0 {
		pageSize = 500
	}
	q := url.Values{"limit": {strconv.Itoa(min(pageSize, 1000))}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q
}

// Page is the remote's list envelope.
type Page struct {
	Data       []json.RawMessage `json:"data"`
	NextCursor string            `json:"next_cursor"`
	HasMore    bool              `json:"has_more"`
}

func (p Page) next() protocol.SyncResponse {
	if !p.HasMore {
		return protocol.SyncResponse{}
	}
	return protocol.SyncResponse{NextCursor: p.NextCursor, HasMore: true}
}

// List GETs one page with the default credential.
func List(h *sdk.Host, listURL string) (Page, error) {
	var p Page
	err := h.GetJSON(listURL, &p)
	return p, err
}

// Object makes the object of one raw user or group record.
func Object(typ string, raw json.RawMessage) (protocol.Object, error) {
	var r struct {
		ID        string `json:"id"`
		CreatedAt string `json:"created_at"`
		UpdatedAt string `json:"updated_at"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return protocol.Object{}, fmt.Errorf("defectbase: %s record: %w", typ, err)
	}
	return protocol.Object{Type: typ, ID: r.ID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Data: raw}, nil
}
