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
	EventTicketCreated  = "ticket.created"
	EventTicketUpdated  = "ticket.updated"
	EventCommentCreated = "comment.created"
)

// event is the remote's webhook body; data stays raw so a record is
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

// webhook handles one event the host authenticated and de-duplicated:
// it emits the ticket or the comment (with its edge) and answers the
// event's id, the key of the host's de-duplication.
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
	var o protocol.Object
	var err error
	switch ev.Type {
	case EventTicketCreated, EventTicketUpdated:
		o, err = ticketObject(ev.Data)
	case EventCommentCreated:
		o, err = commentObject(ev.Data)
	default:
		return protocol.WebhookResponse{}, &sdk.TypedError{Type: ErrorTypeUnsupportedEvent,
			Err: fmt.Errorf("%w: %q (event %s)", ErrUnsupportedEvent, ev.Type, ev.ID)}
	}
	if err != nil {
		return protocol.WebhookResponse{}, badEvent("event %s: %v", ev.ID, err)
	}
	if _, err := time.Parse(time.RFC3339, o.UpdatedAt); err != nil {
		// Without it the host could not refuse an older version.
		return protocol.WebhookResponse{}, badEvent("event %s: %s %s without an RFC 3339 updated_at", ev.ID, o.Type, o.ID)
	}
	if err := h.Emit(o); err != nil {
		return protocol.WebhookResponse{}, err
	}
	if o.Type == TypeComment {
		if err := h.EmitEdge(onTicket(o.ID, ev.Data)); err != nil {
			return protocol.WebhookResponse{}, err
		}
	}
	return protocol.WebhookResponse{EventIDs: []string{ev.ID}}, nil
}
