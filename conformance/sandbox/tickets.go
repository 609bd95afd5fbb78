package sandbox

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"
)

// The second API of the sandbox: a help desk's tickets and their
// comments, for the ingest-only tickets example connector. It shares the
// server's credentials, rate limits, faults, mutation clock and webhook
// sender with the directory API, so one sandbox is the sample tenant of
// both examples. Tickets are requested by directory users: requester_id
// names a generated user and requester_email is that user's email as the
// seed made it.

// ScopeTicketsRead reads tickets and comments. A token request must ask
// for it by name: it is not one of the default read scopes, which keeps
// the directory API's default tokens what they always were.
const ScopeTicketsRead = "tickets:read"

// Ticket webhook event types; data is the ticket or the comment.
const (
	EventTicketCreated  = "ticket.created"
	EventTicketUpdated  = "ticket.updated"
	EventCommentCreated = "comment.created"
)

// Ticket statuses and priorities.
const (
	TicketOpen    = "open"
	TicketPending = "pending"
	TicketSolved  = "solved"
	TicketClosed  = "closed"
)

var (
	ticketStatuses   = [...]string{TicketOpen, TicketPending, TicketSolved, TicketClosed}
	ticketPriorities = [...]string{"low", "normal", "high", "urgent"}
	ticketSubjects   = [...]string{
		"Cannot sign in after password reset", "VPN drops every few minutes", "Request access to the finance share",
		"Laptop battery swelling", "Printer on floor 3 offline", "MFA device lost", "New starter needs a laptop",
		"Email bounces from a customer domain", "Calendar invites arrive twice", "Slow build agents",
		"License for the design tool", "Phishing email reported", "Wi-Fi in meeting room B", "Expense tool error 500",
	}
	commentBodies = [...]string{
		"Thanks for reporting this, we are looking into it.", "Could you send a screenshot of the error?",
		"This is fixed on our side; please try again.", "Escalated to the network team.",
		"Still happening this morning.", "Works now, thank you!", "Waiting for the vendor's answer.",
		"Closing as resolved; reopen if it comes back.",
	}
)

// Salts of the ticket fields, far above dataset.go's so the two lists
// can grow independently.
const (
	saltTicketCreated uint64 = 1000 + iota
	saltTicketUpdated
	saltTicketSubject
	saltTicketStatus
	saltTicketPriority
	saltTicketRequester
	saltTicketAssignee
	saltCommentCount
	saltCommentCreated
	saltCommentBody
	saltCommentPublic
)

// commentsPerTicket is the stride of the comment position space:
// position = ticket index*commentsPerTicket + k, as for memberships.
const commentsPerTicket = 3

// maxCreatedTickets bounds the tickets and comments made through the
// Go and control-plane API, so a runaway test cannot exhaust memory.
const maxCreatedTickets = 100_000

// Ticket is one help-desk ticket as the API serves it. The JSON field
// order is part of the wire format.
type Ticket struct {
	ID             string    `json:"id"`
	Subject        string    `json:"subject"`
	Status         string    `json:"status"`
	Priority       string    `json:"priority"`
	RequesterID    string    `json:"requester_id"`
	RequesterEmail string    `json:"requester_email"`
	AssigneeID     *string   `json:"assignee_id"` // null while unassigned
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Comment is one comment on a ticket. Comments are never edited, so
// updated_at equals created_at.
type Comment struct {
	ID        string    `json:"id"`
	TicketID  string    `json:"ticket_id"`
	AuthorID  string    `json:"author_id"`
	Body      string    `json:"body"`
	Public    bool      `json:"public"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ticketState is what changed since the seed; the zero value is empty.
// Guarded by Server.mu.
type ticketState struct {
	mutated    map[int]Ticket // ticket index → current record (generated or created)
	mutatedIdx []int          // keys of mutated below the generated count, ascending
	created    int            // tickets created after the generated ones
	comments   []Comment      // comments added, oldest first
}

func (ts *ticketState) reset() { *ts = ticketState{} }

var (
	ticketsResource  = resource{name: "tickets", filters: filterUpdatedSince}
	commentsResource = resource{name: "comments", filters: filterUpdatedSince}
)

// ticketRoutes are the ticket API's routes, mounted by routes() in the
// authenticated group.
func (s *Server) ticketRoutes(r chi.Router) {
	r.With(requireScope(ScopeTicketsRead)).Get("/api/v1/tickets", s.handleListTickets)
	r.With(requireScope(ScopeTicketsRead)).Get("/api/v1/tickets/{id}", s.handleGetTicket)
	r.With(requireScope(ScopeTicketsRead)).Get("/api/v1/tickets/{id}/comments", s.handleListTicketComments)
	r.With(requireScope(ScopeTicketsRead)).Get("/api/v1/comments", s.handleListComments)
}

// generatedTickets is how many tickets the seed made: one per two users.
func (d *dataset) generatedTickets() int { return max(1, d.users/2) }

func (d *dataset) ticketSlot() int64 {
	return (dataEnd - dataStart + 1) / int64(d.generatedTickets())
}

func (d *dataset) ticketCreated(i int) int64 { return d.spread(saltTicketCreated, i, d.ticketSlot()) }

func (d *dataset) ticketUpdated(i int) int64 {
	return d.aged(saltTicketUpdated, i, d.ticketCreated(i))
}

// ticket generates ticket i as the seed made it.
func (d *dataset) ticket(i int) Ticket {
	created := d.ticketCreated(i)
	requester := d.pick(saltTicketRequester, i, d.users)
	t := Ticket{
		ID:             formatID("t-", i+1, 6),
		Subject:        ticketSubjects[d.pick(saltTicketSubject, i, len(ticketSubjects))],
		Status:         ticketStatuses[d.pick(saltTicketStatus, i, len(ticketStatuses))],
		Priority:       ticketPriorities[d.pick(saltTicketPriority, i, len(ticketPriorities))],
		RequesterID:    formatID("u-", requester+1, 7),
		RequesterEmail: d.user(requester).Email,
		CreatedAt:      unixUTC(created),
		UpdatedAt:      unixUTC(d.ticketUpdated(i)),
	}
	// A quarter of the tickets wait for someone to pick them up.
	if a := d.hash(saltTicketAssignee, i); a%4 != 0 {
		id := formatID("u-", int(a>>8%uint64(d.users))+1, 7)
		t.AssigneeID = &id
	}
	return t
}

// comment generates comment k of ticket i, if the ticket has one.
// Comments fall between the ticket's creation and its last update.
func (d *dataset) comment(i, k int) (Comment, bool) {
	if k >= d.pick(saltCommentCount, i, commentsPerTicket+1) {
		return Comment{}, false
	}
	t := d.ticket(i)
	pos := i*commentsPerTicket + k
	span := t.UpdatedAt.Unix() - t.CreatedAt.Unix()
	at := t.CreatedAt.Unix() + int64(k+1)*span/(commentsPerTicket+1)
	author := t.RequesterID
	if k%2 == 1 && t.AssigneeID != nil {
		author = *t.AssigneeID
	}
	return Comment{
		ID:        formatID("c-", pos+1, 8),
		TicketID:  t.ID,
		AuthorID:  author,
		Body:      commentBodies[d.pick(saltCommentBody, pos, len(commentBodies))],
		Public:    k == 0 || d.hash(saltCommentPublic, pos)%4 != 0,
		CreatedAt: unixUTC(at),
		UpdatedAt: unixUTC(at),
	}, true
}

// ticketCount counts generated and created tickets; the caller holds s.mu.
func (s *Server) ticketCount() int { return s.data.generatedTickets() + s.tickets.created }

// currentTicket returns ticket i with its changes; the caller holds s.mu.
func (s *Server) currentTicket(i int) Ticket {
	if t, ok := s.tickets.mutated[i]; ok {
		return t
	}
	return s.data.ticket(i)
}

// ticketIndex parses a ticket id; the caller holds s.mu.
func (s *Server) ticketIndex(id string) (int, error) {
	i, ok := parseID(id, "t-", 6, s.ticketCount())
	if !ok {
		return 0, &TicketError{ID: id, Err: ErrUnknownTicket}
	}
	return i, nil
}

// Ticket returns the ticket as the API serves it now.
func (s *Server) Ticket(id string) (Ticket, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, err := s.ticketIndex(id)
	if err != nil {
		return Ticket{}, err
	}
	return s.currentTicket(i), nil
}

// Tickets is the number of tickets, created ones included.
func (s *Server) Tickets() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ticketCount()
}

// storeTicket records the changed ticket i; the caller holds s.mu.
func (s *Server) storeTicket(i int, t Ticket) {
	ts := &s.tickets
	if ts.mutated == nil {
		ts.mutated = make(map[int]Ticket)
	}
	if _, ok := ts.mutated[i]; !ok && i < s.data.generatedTickets() {
		at, _ := slices.BinarySearch(ts.mutatedIdx, i)
		ts.mutatedIdx = slices.Insert(ts.mutatedIdx, at, i)
	}
	ts.mutated[i] = t
}

func ticketPatchError(field, format string, args ...any) error {
	return &FieldError{Err: ErrInvalidTicket, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// NewTicket is what CreateTicket takes (and POST /_sandbox/tickets).
type NewTicket struct {
	Subject     string `json:"subject"`
	RequesterID string `json:"requester_id"`
	Priority    string `json:"priority,omitempty"` // empty means "normal"
}

// CreateTicket opens a ticket (status open, unassigned) for a
// generated user, stamps it like every mutation and sends ticket.created.
// Errors are *FieldError wrapping ErrInvalidTicket.
func (s *Server) CreateTicket(n NewTicket) (Ticket, error) {
	if n.Priority == "" {
		n.Priority = "normal"
	}
	switch {
	case nonEmpty(n.Subject) != "" || len(n.Subject) > maxFieldLen:
		return Ticket{}, ticketPatchError("subject", "must be 1..%d bytes of text", maxFieldLen)
	case !slices.Contains(ticketPriorities[:], n.Priority):
		return Ticket{}, ticketPatchError("priority", "must be one of %v", ticketPriorities)
	}
	req, ok := parseID(n.RequesterID, "u-", 7, s.data.users)
	if !ok {
		return Ticket{}, ticketPatchError("requester_id", "%q is not a generated user", n.RequesterID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tickets.created >= maxCreatedTickets {
		return Ticket{}, ticketPatchError("subject", "%d tickets were created already", maxCreatedTickets)
	}
	at := unixUTC(s.stamp())
	i := s.ticketCount()
	t := Ticket{ID: formatID("t-", i+1, 6), Subject: n.Subject, Status: TicketOpen, Priority: n.Priority,
		RequesterID: n.RequesterID, RequesterEmail: s.data.user(req).Email, CreatedAt: at, UpdatedAt: at}
	s.tickets.created++
	s.storeTicket(i, t)
	s.publish(EventTicketCreated, t, t.UpdatedAt)
	return t, nil
}

// UpdateTicket applies patch (keys subject, status, priority and
// assignee_id: a generated user's id, or nil to unassign), stamps
// updated_at and sends ticket.updated. An empty patch only touches
// updated_at. All-or-nothing; errors are *FieldError wrapping
// ErrInvalidTicket or *TicketError.
func (s *Server) UpdateTicket(id string, patch map[string]any) (Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.ticketIndex(id)
	if err != nil {
		return Ticket{}, err
	}
	t := s.currentTicket(i)
	for _, k := range slices.Sorted(maps.Keys(patch)) {
		v := patch[k]
		switch k {
		case "subject":
			err = setString(&t.Subject, k, v, nonEmpty)
		case "status":
			err = setString(&t.Status, k, v, oneOf(ticketStatuses[:]))
		case "priority":
			err = setString(&t.Priority, k, v, oneOf(ticketPriorities[:]))
		case "assignee_id":
			err = s.setAssignee(&t, v)
		default:
			err = ticketPatchError(k, "unknown or read-only field")
		}
		if err != nil {
			if fe, ok := err.(*FieldError); ok && fe.Err == ErrInvalidPatch {
				fe.Err = ErrInvalidTicket
			}
			return Ticket{}, err
		}
	}
	t.UpdatedAt = unixUTC(s.stamp())
	s.storeTicket(i, t)
	s.publish(EventTicketUpdated, t, t.UpdatedAt)
	return t, nil
}

func (s *Server) setAssignee(t *Ticket, v any) error {
	if v == nil {
		t.AssigneeID = nil
		return nil
	}
	id, ok := v.(string)
	if _, valid := parseID(id, "u-", 7, s.data.users); !ok || !valid {
		return ticketPatchError("assignee_id", "want a generated user's id or null")
	}
	t.AssigneeID = &id
	return nil
}

// AddComment adds a comment by a generated user to a ticket, stamps it
// and sends comment.created.
func (s *Server) AddComment(ticketID, authorID, body string, public bool) (Comment, error) {
	if nonEmpty(body) != "" || len(body) > 4*maxFieldLen {
		return Comment{}, ticketPatchError("body", "must be 1..%d bytes of text", 4*maxFieldLen)
	}
	if _, ok := parseID(authorID, "u-", 7, s.data.users); !ok {
		return Comment{}, ticketPatchError("author_id", "%q is not a generated user", authorID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.ticketIndex(ticketID)
	if err != nil {
		return Comment{}, err
	}
	if len(s.tickets.comments) >= maxCreatedTickets {
		return Comment{}, ticketPatchError("body", "%d comments were added already", maxCreatedTickets)
	}
	at := unixUTC(s.stamp())
	// Added comments have their own id series ("c-n000001"…): their
	// list positions follow the generated ones.
	c := Comment{ID: formatID("c-n", len(s.tickets.comments)+1, 6), TicketID: s.currentTicket(i).ID, AuthorID: authorID, Body: body,
		Public: public, CreatedAt: at, UpdatedAt: at}
	s.tickets.comments = append(s.tickets.comments, c)
	s.publish(EventCommentCreated, c, c.UpdatedAt)
	return c, nil
}

func oneOf(allowed []string) func(string) string {
	return func(v string) string {
		if !slices.Contains(allowed, v) {
			return fmt.Sprintf("must be one of %v", allowed)
		}
		return ""
	}
}
