package sandbox

import (
	"errors"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"
)

// HTTP handlers of the ticket API and its control-plane routes.

// ticketControlRoutes are mounted by routes() in the loopback-only group.
func (s *Server) ticketControlRoutes(r chi.Router) {
	r.Post("/_sandbox/tickets", s.handleCreateTicket)
	r.Post("/_sandbox/tickets/{id}", s.handlePatchTicket)
	r.Post("/_sandbox/tickets/{id}/comments", s.handleAddComment)
}

// skipTo maps a position p below bound to the first index of idx (sorted)
// at or after p that is below bound, else to bound; positions at or past
// bound map to themselves. Read idx under s.mu.
func skipTo(idx []int, bound int) func(int) int {
	return func(p int) int {
		if p >= bound {
			return p
		}
		at, _ := slices.BinarySearch(idx, p)
		if at < len(idx) && idx[at] < bound {
			return idx[at]
		}
		return bound
	}
}

func (s *Server) handleListTickets(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	n, gen := s.ticketCount(), s.data.generatedTickets()
	q, err := parseListQuery(ticketsResource, r.URL.RawQuery, n)
	if err != nil {
		s.mu.RUnlock()
		writeQueryError(w, err)
		return
	}
	get := func(i int) (Ticket, bool) { return s.currentTicket(i), true }
	var next func(int) int
	if q.has(filterUpdatedSince) {
		// Only changed tickets can match below the scan start; created
		// tickets (past gen) are all visited.
		next = skipTo(s.tickets.mutatedIdx, updatedScanStart(gen, s.data.ticketCreated, q.updatedSince))
		get = func(i int) (Ticket, bool) {
			if t, ok := s.tickets.mutated[i]; ok {
				return t, t.UpdatedAt.Unix() > q.updatedSince
			}
			if s.data.ticketUpdated(i) <= q.updatedSince {
				return Ticket{}, false
			}
			return s.data.ticket(i), true
		}
	}
	page := collectPage(ticketsResource, q, q.start, n, next, get)
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleGetTicket(w http.ResponseWriter, r *http.Request) {
	t, err := s.Ticket(chi.URLParam(r, "id"))
	if err != nil {
		writeProblem(w, http.StatusNotFound, "not_found", "no ticket with this id")
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// commentAt returns the comment at list position p: generated ones
// first (ticket index*commentsPerTicket + k), then the added ones. The
// caller holds s.mu.
func (s *Server) commentAt(p int) (Comment, bool) {
	genPos := s.data.generatedTickets() * commentsPerTicket
	if p >= genPos {
		return s.tickets.comments[p-genPos], true
	}
	return s.data.comment(p/commentsPerTicket, p%commentsPerTicket)
}

func (s *Server) handleListComments(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	gen := s.data.generatedTickets()
	n := gen*commentsPerTicket + len(s.tickets.comments)
	q, err := parseListQuery(commentsResource, r.URL.RawQuery, n)
	if err != nil {
		s.mu.RUnlock()
		writeQueryError(w, err)
		return
	}
	get := s.commentAt
	var next func(int) int
	if q.has(filterUpdatedSince) {
		// A generated comment is no later than its ticket's updated_at,
		// so the tickets' scan start bounds the comments' too.
		start := updatedScanStart(gen, s.data.ticketCreated, q.updatedSince) * commentsPerTicket
		next = func(p int) int { return max(p, start) }
		get = func(p int) (Comment, bool) {
			c, ok := s.commentAt(p)
			return c, ok && c.UpdatedAt.Unix() > q.updatedSince
		}
	}
	page := collectPage(commentsResource, q, q.start, n, next, get)
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, page)
}

// handleListTicketComments lists one ticket's comments, oldest first.
func (s *Server) handleListTicketComments(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	s.mu.RLock()
	i, err := s.ticketIndex(id)
	if err != nil {
		s.mu.RUnlock()
		writeProblem(w, http.StatusNotFound, "not_found", "no ticket with this id")
		return
	}
	var all []Comment
	if i < s.data.generatedTickets() {
		for k := range commentsPerTicket {
			if c, ok := s.data.comment(i, k); ok {
				all = append(all, c)
			}
		}
	}
	for _, c := range s.tickets.comments {
		if c.TicketID == id {
			all = append(all, c)
		}
	}
	s.mu.RUnlock()
	// The cursor is bound to this ticket's list.
	res := resource{name: "tickets/" + id + "/comments"}
	q, err := parseListQuery(res, r.URL.RawQuery, len(all))
	if err != nil {
		writeQueryError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, collectPage(res, q, q.start, len(all), nil, func(p int) (Comment, bool) { return all[p], true }))
}

func (s *Server) handleCreateTicket(w http.ResponseWriter, r *http.Request) {
	var n NewTicket
	if err := decodeStrict(r, &n); err != nil {
		writeProblem(w, http.StatusBadRequest, "invalid_ticket", err.Error())
		return
	}
	t, err := s.CreateTicket(n)
	if err != nil {
		writeTicketError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) handlePatchTicket(w http.ResponseWriter, r *http.Request) {
	var patch map[string]any
	if err := decodeBody(r, &patch); err != nil || patch == nil {
		writeProblem(w, http.StatusBadRequest, "invalid_ticket", "the body must be one JSON object")
		return
	}
	t, err := s.UpdateTicket(chi.URLParam(r, "id"), patch)
	if err != nil {
		writeTicketError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// NewComment is the body of POST /_sandbox/tickets/{id}/comments.
type NewComment struct {
	AuthorID string `json:"author_id"`
	Body     string `json:"body"`
	Public   bool   `json:"public"`
}

func (s *Server) handleAddComment(w http.ResponseWriter, r *http.Request) {
	var n NewComment
	if err := decodeStrict(r, &n); err != nil {
		writeProblem(w, http.StatusBadRequest, "invalid_ticket", err.Error())
		return
	}
	c, err := s.AddComment(chi.URLParam(r, "id"), n.AuthorID, n.Body, n.Public)
	if err != nil {
		writeTicketError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

func writeTicketError(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrUnknownTicket) {
		writeProblem(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	writeProblem(w, http.StatusBadRequest, "invalid_ticket", err.Error())
}
