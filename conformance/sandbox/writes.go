package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// The write API: what the example connector's actions call. Every write
// that changes something is a Change with its own id, remembers the
// caller's X-Correlation-Id and is delivered to webhook subscribers.

// Kinds of Change, named after the connector action that makes them.
const (
	ChangeCreateUser     = "create_user"
	ChangeAddMember      = "add_member"
	ChangeRemoveMember   = "remove_member"
	ChangeDeactivateUser = "deactivate_user"
)

// Limits of the write API.
const (
	// MaxCreatedUsers bounds the users POST /api/v1/users may add, so a
	// runaway client cannot grow the sandbox without bound.
	MaxCreatedUsers = 100_000
	// maxCorrelationID bounds the X-Correlation-Id kept per change.
	maxCorrelationID = 256
	// maxChanges bounds the change log; the oldest changes are dropped.
	maxChanges = 100_000
)

// Change is one write the API made, in the order made.
type Change struct {
	ID   string `json:"id"` // "chg_000001", …
	Kind string `json:"kind"`
	// UserID is the user written; GroupID the group of a membership change.
	UserID  string `json:"user_id"`
	GroupID string `json:"group_id,omitempty"`
	// CorrelationID is the request's X-Correlation-Id, as sent (at most
	// 256 bytes are kept).
	CorrelationID string    `json:"correlation_id,omitempty"`
	At            time.Time `json:"at"`
}

// memberKey names a membership by user and group index.
type memberKey struct{ user, group int }

// extraMember is a membership added through the API. Removed ones stay,
// marked, so list positions (and so cursors) never move.
type extraMember struct {
	Membership
	key      memberKey
	changeID string
	removed  bool
}

// writeState is what the write API changed beyond mutated users. The
// caller holds Server.mu.
type writeState struct {
	created     int                // users created; their indexes follow the generated ones
	removed     map[memberKey]bool // generated memberships removed
	extra       []extraMember      // memberships added, in order
	active      map[memberKey]int  // index in extra of the live added membership
	deactivated map[int]string     // user index → change that deactivated it
	changes     []Change           // the change log, oldest first
	seq         int                // last change number; survives Reset so ids stay unique
}

func (w *writeState) reset() {
	w.created = 0
	w.removed = map[memberKey]bool{}
	w.extra = nil
	w.active = map[memberKey]int{}
	w.deactivated = map[int]string{}
	w.changes = nil
}

// record appends a change and returns it; the caller holds Server.mu.
func (w *writeState) record(kind, userID, groupID, correlation string, at time.Time) Change {
	w.seq++
	if len(correlation) > maxCorrelationID {
		correlation = correlation[:maxCorrelationID]
	}
	c := Change{ID: fmt.Sprintf("chg_%06d", w.seq), Kind: kind, UserID: userID, GroupID: groupID, CorrelationID: correlation, At: at}
	if len(w.changes) >= maxChanges {
		w.changes = slices.Delete(w.changes, 0, len(w.changes)-maxChanges+1)
	}
	w.changes = append(w.changes, c)
	return c
}

// Changes returns every write of the API since New or the last Reset,
// oldest first.
func (s *Server) Changes() []Change {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.writes.changes)
}

// userCount is the number of user indexes in use; the caller holds s.mu.
func (s *Server) userCount() int { return s.data.users + s.writes.created }

// indexOf returns the index of a generated or created user id; the
// caller holds s.mu.
func (s *Server) indexOf(id string) (int, error) {
	i, ok := parseID(id, "u-", 7, s.userCount())
	if !ok {
		return 0, &UserError{ID: id, Err: ErrUnknownUser}
	}
	return i, nil
}

// createdAt is the created_at of user i in Unix seconds; it grows
// strictly with i, created users included. The caller holds s.mu.
func (s *Server) createdAt(i int) int64 {
	if i < s.data.users {
		return s.data.userCreated(i)
	}
	return s.mutated[i].CreatedAt.Unix()
}

// NewUser is the body of POST /api/v1/users.
type NewUser struct {
	Email      string `json:"email"`
	Name       string `json:"name"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
}

// CreateUser adds an active user and records the change under
// correlationID. Errors: *FieldError wrapping ErrInvalidUser for a bad
// field, ErrEmailTaken when a live user has the email (case-insensitive),
// ErrTooManyUsers past MaxCreatedUsers.
func (s *Server) CreateUser(nu NewUser, correlationID string) (User, Change, error) {
	for _, f := range []struct {
		name, v string
		check   func(string) string
		need    bool
	}{
		{"email", nu.Email, validEmail, true},
		{"name", nu.Name, nonEmpty, true},
		{"department", nu.Department, nonEmpty, false},
		{"title", nu.Title, nonEmpty, false},
	} {
		switch {
		case f.v == "" && !f.need:
		case len(f.v) > maxFieldLen:
			return User{}, Change{}, &FieldError{Err: ErrInvalidUser, Field: f.name, Reason: fmt.Sprintf("longer than %d bytes", maxFieldLen)}
		case f.v == "":
			return User{}, Change{}, &FieldError{Err: ErrInvalidUser, Field: f.name, Reason: "is required"}
		default:
			if reason := f.check(f.v); reason != "" {
				return User{}, Change{}, &FieldError{Err: ErrInvalidUser, Field: f.name, Reason: reason}
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writes.created >= MaxCreatedUsers {
		return User{}, Change{}, ErrTooManyUsers
	}
	if s.emailTaken(nu.Email) {
		return User{}, Change{}, fmt.Errorf("%w: %q", ErrEmailTaken, nu.Email)
	}
	i := s.userCount()
	now := unixUTC(s.stamp())
	u := User{
		ID: formatID("u-", i+1, 7), Email: nu.Email, Name: nu.Name, Department: nu.Department, Title: nu.Title,
		Status: StatusActive, CreatedAt: now, UpdatedAt: now, LastLoginAt: now,
	}
	s.writes.created++
	s.storeUser(i, u)
	c := s.writes.record(ChangeCreateUser, u.ID, "", correlationID, now)
	s.publishUser(EventUserCreated, u)
	return u, c, nil
}

// emailTaken reports whether a live user has email; the caller holds s.mu.
// Generated emails end in the user's number, so only that user and the
// mutated ones need a look.
func (s *Server) emailTaken(email string) bool {
	for _, u := range s.mutated {
		if u.DeletedAt == nil && strings.EqualFold(u.Email, email) {
			return true
		}
	}
	local, _, _ := strings.Cut(email, "@")
	end := len(local)
	for end > 0 && local[end-1] >= '0' && local[end-1] <= '9' {
		end--
	}
	n, err := strconv.Atoi(local[end:])
	if err != nil || n < 1 || n > s.data.users {
		return false
	}
	if _, ok := s.mutated[n-1]; ok {
		return false // its current email was checked above
	}
	return strings.EqualFold(s.data.user(n-1).Email, email)
}

// DeactivateUser suspends a user. A user already suspended stays so: the
// answer carries the change that deactivated it, or a new change when the
// seed made it suspended. Errors: *UserError (unknown, deleted).
func (s *Server) DeactivateUser(id, correlationID string) (User, Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.indexOf(id)
	if err != nil {
		return User{}, Change{}, err
	}
	u := s.currentUser(i)
	if u.DeletedAt != nil {
		return User{}, Change{}, &UserError{ID: id, Err: ErrUserDeleted}
	}
	if u.Status == StatusSuspended {
		if cid, ok := s.writes.deactivated[i]; ok {
			for _, c := range slices.Backward(s.writes.changes) {
				if c.ID == cid {
					return u, c, nil
				}
			}
		}
		c := s.writes.record(ChangeDeactivateUser, u.ID, "", correlationID, unixUTC(s.stamp()))
		s.writes.deactivated[i] = c.ID
		return u, c, nil
	}
	now := unixUTC(s.stamp())
	u.Status, u.UpdatedAt = StatusSuspended, now
	s.storeUser(i, u)
	c := s.writes.record(ChangeDeactivateUser, u.ID, "", correlationID, now)
	s.writes.deactivated[i] = c.ID
	s.publishUser(EventUserUpdated, u)
	return u, c, nil
}

// groupIndex returns the index of a group id.
func (s *Server) groupIndex(id string) (int, error) {
	j, ok := parseID(id, "g-", 5, s.data.groups)
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnknownGroup, id)
	}
	return j, nil
}

// generatedMember returns the position of user i's generated membership
// of group j, if the seed made one.
func (s *Server) generatedMember(i, j int) (int, bool) {
	if i >= s.data.users {
		return 0, false
	}
	for k := range s.data.memberships(i) {
		if s.data.memberGroup(i, k) == j {
			return i*membershipsPerUser + k, true
		}
	}
	return 0, false
}

// liveMembership returns the current membership of user i in group j;
// the caller holds s.mu.
func (s *Server) liveMembership(i, j int) (Membership, string, bool) {
	key := memberKey{i, j}
	if pos, ok := s.generatedMember(i, j); ok && !s.writes.removed[key] {
		return s.data.membership(i, pos%membershipsPerUser), "", true
	}
	if at, ok := s.writes.active[key]; ok {
		return s.writes.extra[at].Membership, s.writes.extra[at].changeID, true
	}
	return Membership{}, "", false
}

// AddMember puts a user in a group. created is false when the user
// already was a member: the answer then carries the change that added
// them (empty Change.ID for a membership the seed made). Errors:
// *UserError, ErrUnknownGroup.
func (s *Server) AddMember(groupID, userID, correlationID string) (m Membership, c Change, created bool, err error) {
	j, err := s.groupIndex(groupID)
	if err != nil {
		return Membership{}, Change{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.indexOf(userID)
	if err != nil {
		return Membership{}, Change{}, false, err
	}
	if s.currentUser(i).DeletedAt != nil {
		return Membership{}, Change{}, false, &UserError{ID: userID, Err: ErrUserDeleted}
	}
	if m, cid, ok := s.liveMembership(i, j); ok {
		for _, c := range slices.Backward(s.writes.changes) {
			if c.ID == cid {
				return m, c, false, nil
			}
		}
		return m, Change{}, false, nil
	}
	now := unixUTC(s.stamp())
	m = Membership{UserID: userID, GroupID: groupID, Role: "member", CreatedAt: now}
	c = s.writes.record(ChangeAddMember, userID, groupID, correlationID, now)
	s.writes.active[memberKey{i, j}] = len(s.writes.extra)
	s.writes.extra = append(s.writes.extra, extraMember{Membership: m, key: memberKey{i, j}, changeID: c.ID})
	s.publish(EventMembershipAdded, m, now)
	return m, c, true, nil
}

// RemoveMember takes a user out of a group. Errors: *UserError,
// ErrUnknownGroup, ErrNotMember.
func (s *Server) RemoveMember(groupID, userID, correlationID string) (Membership, Change, error) {
	j, err := s.groupIndex(groupID)
	if err != nil {
		return Membership{}, Change{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.indexOf(userID)
	if err != nil {
		return Membership{}, Change{}, err
	}
	if s.currentUser(i).DeletedAt != nil {
		return Membership{}, Change{}, &UserError{ID: userID, Err: ErrUserDeleted}
	}
	m, _, ok := s.liveMembership(i, j)
	if !ok {
		return Membership{}, Change{}, fmt.Errorf("%w: %s in %s", ErrNotMember, userID, groupID)
	}
	key := memberKey{i, j}
	if at, ok := s.writes.active[key]; ok {
		s.writes.extra[at].removed = true
		delete(s.writes.active, key)
	} else {
		s.writes.removed[key] = true
	}
	now := unixUTC(s.stamp())
	c := s.writes.record(ChangeRemoveMember, userID, groupID, correlationID, now)
	s.publish(EventMembershipRemoved, m, now)
	return m, c, nil
}

// changeAnswer is the body of the membership and deactivation writes.
type changeAnswer struct {
	ChangeID   string      `json:"change_id"`
	User       *User       `json:"user,omitempty"`
	Membership *Membership `json:"membership,omitempty"`
}

// createdUser is the body of POST /api/v1/users: the user and its change.
type createdUser struct {
	User
	ChangeID string `json:"change_id"`
}

func correlationOf(r *http.Request) string { return r.Header.Get("X-Correlation-Id") }

func (s *Server) handleCreateUser(w http.ResponseWriter, r *http.Request) {
	var nu NewUser
	if err := decodeStrict(r, &nu); err != nil {
		writeBodyError(w, err)
		return
	}
	u, c, err := s.CreateUser(nu, correlationOf(r))
	if err != nil {
		writeWriteError(w, err)
		return
	}
	w.Header().Set("Location", "/api/v1/users/"+u.ID)
	writeJSON(w, http.StatusCreated, createdUser{User: u, ChangeID: c.ID})
}

func (s *Server) handleDeactivateUser(w http.ResponseWriter, r *http.Request) {
	u, c, err := s.DeactivateUser(chi.URLParam(r, "id"), correlationOf(r))
	if err != nil {
		writeWriteError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, changeAnswer{ChangeID: c.ID, User: &u})
}

// addMemberBody is the body of POST /api/v1/groups/{gid}/members.
type addMemberBody struct {
	UserID string `json:"user_id"`
}

func (s *Server) handleAddMember(w http.ResponseWriter, r *http.Request) {
	var b addMemberBody
	if err := decodeStrict(r, &b); err != nil {
		writeBodyError(w, err)
		return
	}
	if b.UserID == "" {
		writeProblem(w, http.StatusBadRequest, "invalid_body", "user_id: is required")
		return
	}
	m, c, created, err := s.AddMember(chi.URLParam(r, "gid"), b.UserID, correlationOf(r))
	if err != nil {
		writeWriteError(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, changeAnswer{ChangeID: c.ID, Membership: &m})
}

func (s *Server) handleRemoveMember(w http.ResponseWriter, r *http.Request) {
	m, c, err := s.RemoveMember(chi.URLParam(r, "gid"), chi.URLParam(r, "uid"), correlationOf(r))
	if err != nil {
		writeWriteError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, changeAnswer{ChangeID: c.ID, Membership: &m})
}

func (s *Server) handleGetChanges(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string][]Change{"data": s.Changes()})
}
