package defectbase

import (
	"encoding/json"
	"fmt"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

// webhook handles the sandbox directory's events like the directory
// example: a user event emits the user, membership.added its edge,
// membership.removed nothing; it answers the event's id (or what
// Options.EventID makes of it).
func (b *base) webhook(h *sdk.Host, req protocol.WebhookRequest) (protocol.WebhookResponse, error) {
	var ev struct {
		ID   string          `json:"id"`
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(req.Body, &ev); err != nil || ev.ID == "" {
		return protocol.WebhookResponse{}, fmt.Errorf("%w: not an event with an id", ErrEvent)
	}
	switch ev.Type {
	case "user.created", "user.updated", "user.deleted":
		o, err := Object("user", ev.Data)
		if err != nil {
			return protocol.WebhookResponse{}, err
		}
		if err := h.Emit(o); err != nil {
			return protocol.WebhookResponse{}, err
		}
	case "membership.added":
		var m struct {
			UserID  string `json:"user_id"`
			GroupID string `json:"group_id"`
		}
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			return protocol.WebhookResponse{}, fmt.Errorf("%w: %v", ErrEvent, err)
		}
		edge := protocol.Edge{Type: "member_of", From: protocol.Ref{Type: "user", ID: m.UserID}, To: protocol.Ref{Type: "group", ID: m.GroupID}}
		if err := h.EmitEdge(edge); err != nil {
			return protocol.WebhookResponse{}, err
		}
	case "membership.removed":
	default:
		return protocol.WebhookResponse{}, fmt.Errorf("%w: type %q", ErrEvent, ev.Type)
	}
	id := ev.ID
	if b.opts.EventID != nil {
		id = b.opts.EventID(id)
	}
	return protocol.WebhookResponse{EventIDs: []string{id}}, nil
}
