package connector

import (
	"encoding/json"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Identity of the connector; connector.json must say the same.
const (
	ID      = "tickets"
	Version = "1.0.0"
)

// The scope the tenant grants, stream, object and edge type names.
const (
	ScopeTickets = "tickets:read"

	StreamTickets  = "tickets"
	StreamComments = "comments"

	TypeTicket   = "ticket"
	TypeComment  = "comment"
	EdgeOnTicket = "on_ticket"
)

// ticketSchema declares every field the remote serves; assignee_id is
// null while nobody picked the ticket up.
const ticketSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Help-desk ticket",
  "type": "object",
  "required": ["id", "subject", "status", "priority", "requester_id", "created_at", "updated_at"],
  "properties": {
    "id": {"type": "string", "minLength": 1},
    "subject": {"type": "string"},
    "status": {"type": "string", "enum": ["open", "pending", "solved", "closed"]},
    "priority": {"type": "string", "enum": ["low", "normal", "high", "urgent"]},
    "requester_id": {"type": "string", "minLength": 1},
    "requester_email": {"type": ["string", "null"]},
    "assignee_id": {"type": ["string", "null"]},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"}
  }
}`

const commentSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Ticket comment",
  "type": "object",
  "required": ["id", "ticket_id", "author_id", "body", "created_at", "updated_at"],
  "properties": {
    "id": {"type": "string", "minLength": 1},
    "ticket_id": {"type": "string", "minLength": 1},
    "author_id": {"type": "string", "minLength": 1},
    "body": {"type": "string"},
    "public": {"type": "boolean"},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"}
  }
}`

// Discovery returns what discover() answers. It is a fresh value on
// every call so callers may modify it.
func Discovery() protocol.DiscoverResponse {
	none := protocol.FieldPolicy{PII: protocol.PIINone}
	person := protocol.FieldPolicy{PII: protocol.PIIIdentifier}
	return protocol.DiscoverResponse{
		ID:      ID,
		Version: Version,
		Types:   []string{protocol.TypeIngestPull, protocol.TypeIngestPush},
		Scopes: []protocol.Scope{
			{Name: ScopeTickets, Reason: "Read help-desk tickets and their comments (subject, status, priority, requester, assignee, comment text) to keep a searchable record of support requests."},
		},
		Streams: []protocol.Stream{
			{Name: StreamTickets, ObjectTypes: []string{TypeTicket}, Scopes: []string{ScopeTickets}},
			{Name: StreamComments, ObjectTypes: []string{TypeComment}, EdgeTypes: []string{EdgeOnTicket}, Scopes: []string{ScopeTickets}},
		},
		ObjectTypes: []protocol.ObjectType{
			{
				Name:   TypeTicket,
				Schema: json.RawMessage(ticketSchema),
				Fields: map[string]protocol.FieldPolicy{
					"id":              none,
					"subject":         none,
					"status":          none,
					"priority":        none,
					"requester_id":    person,
					"requester_email": {PII: protocol.PIIContact},
					"assignee_id":     person,
					"created_at":      none,
					"updated_at":      none,
				},
			},
			{
				Name:   TypeComment,
				Schema: json.RawMessage(commentSchema),
				Fields: map[string]protocol.FieldPolicy{
					"id":         none,
					"ticket_id":  none,
					"author_id":  person,
					"body":       {PII: protocol.PIISensitive},
					"public":     none,
					"created_at": none,
					"updated_at": none,
				},
			},
		},
		EdgeTypes: []protocol.EdgeType{{Name: EdgeOnTicket, From: TypeComment, To: TypeTicket}},
	}
}
