package connector

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

// Webhook event types of the remote.
const (
	EventUserCreated       = "user.created"
	EventUserUpdated       = "user.updated"
	EventUserDeleted       = "user.deleted"
	EventMembershipAdded   = "membership.added"
	EventMembershipRemoved = "membership.removed"
)

// event is the remote's webhook body; data stays raw so a user record is
// emitted as the remote's own bytes, exactly as sync emits it.
type event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt string          `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

func badEvent(format string, args ...any) error {
	return &sdk.TypedError{Type: ErrorTypeBadEvent, Err: fmt.Errorf("%w: %s", ErrBadEvent, fmt.Sprintf(format, args...))}
}

// webhook handles one event the host authenticated and de-duplicated.
// A user event emits the user with the event's updated_at, so the host
// keeps the newest version whatever order events arrive in. A new
// membership emits its edge; a removed one emits nothing (an edge has no
// deletion in the ABI) and the next memberships snapshot drops it.
func webhook(h *sdk.Host, req protocol.WebhookRequest) (protocol.WebhookResponse, error) {
	var ev event
	if err := json.Unmarshal(req.Body, &ev); err != nil {
		return protocol.WebhookResponse{}, badEvent("body: %v", err)
	}
	if ev.ID == "" || ev.Type == "" {
		return protocol.WebhookResponse{}, badEvent("event without id or type")
	}
	if _, err := time.Parse(time.RFC3339, ev.OccurredAt); err != nil {
		return protocol.WebhookResponse{}, badEvent("event %s: occurred_at %q is not RFC 3339", ev.ID, ev.OccurredAt)
	}
	switch ev.Type {
	case EventUserCreated, EventUserUpdated, EventUserDeleted:
		o, err := sdk.ObjectFromRecord(TypeUser, ev.Data, sdk.RecordKeys{})
		if err != nil {
			return protocol.WebhookResponse{}, badEvent("event %s: user: %v", ev.ID, err)
		}
		if _, err := time.Parse(time.RFC3339, o.UpdatedAt); err != nil {
			// Without it the host could not refuse an older version.
			return protocol.WebhookResponse{}, badEvent("event %s: user %s without an RFC 3339 updated_at", ev.ID, o.ID)
		}
		if err := h.Emit(o); err != nil {
			return protocol.WebhookResponse{}, err
		}
	case EventMembershipAdded, EventMembershipRemoved:
		var m struct {
			UserID  string `json:"user_id"`
			GroupID string `json:"group_id"`
		}
		if err := json.Unmarshal(ev.Data, &m); err != nil || m.UserID == "" || m.GroupID == "" {
			return protocol.WebhookResponse{}, badEvent("event %s: membership without user_id and group_id", ev.ID)
		}
		if ev.Type == EventMembershipRemoved {
			h.Logf(protocol.LogInfo, "event %s: %s left %s; the next memberships sync removes the edge", ev.ID, m.UserID, m.GroupID)
			break
		}
		edge := protocol.Edge{Type: EdgeMemberOf, From: protocol.Ref{Type: TypeUser, ID: m.UserID}, To: protocol.Ref{Type: TypeGroup, ID: m.GroupID}}
		if err := h.EmitEdge(edge); err != nil {
			return protocol.WebhookResponse{}, err
		}
	default:
		return protocol.WebhookResponse{}, &sdk.TypedError{Type: ErrorTypeUnsupportedEvent, Err: fmt.Errorf("%w: %q (event %s)", ErrUnsupportedEvent, ev.Type, ev.ID)}
	}
	return protocol.WebhookResponse{EventIDs: []string{ev.ID}}, nil
}
