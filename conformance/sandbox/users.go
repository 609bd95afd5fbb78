package sandbox

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// User statuses. StatusDeleted appears only on tombstones.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
	StatusDeleted   = "deleted"
)

// User is one directory user as the API serves it. The JSON field order
// is part of the wire format.
type User struct {
	ID          string     `json:"id"`
	Email       string     `json:"email"`
	Name        string     `json:"name"`
	Department  string     `json:"department"`
	Title       string     `json:"title"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	MFAEnrolled bool       `json:"mfa_enrolled"`
	IsAdmin     bool       `json:"is_admin"`
	LastLoginAt time.Time  `json:"last_login_at"`
	Phone       string     `json:"phone"`
	DeletedAt   *time.Time `json:"deleted_at,omitempty"`
}

var usersResource = resource{name: "users", filters: filterUpdatedSince | filterCreatedFrom | filterCreatedTo}

// user generates user i as the seed made it, ignoring mutations.
func (d *dataset) user(i int) User {
	created := d.userCreated(i)
	first := firstNames[d.pick(saltUserFirst, i, len(firstNames))]
	last := lastNames[d.pick(saltUserLast, i, len(lastNames))]
	dept := &departments[d.pick(saltUserDept, i, len(departments))]
	status := StatusActive
	if d.pick(saltUserStatus, i, 100) < 8 {
		status = StatusSuspended
	}
	flags := d.hash(saltUserFlags, i)
	phone := d.hash(saltUserPhone, i)
	login := created + int64(d.hash(saltUserLogin, i)%uint64(dataEnd-created+1))
	return User{
		ID:          formatID("u-", i+1, 7),
		Email:       strings.ToLower(first) + "." + strings.ToLower(last) + strconv.Itoa(i+1) + "@example.test",
		Name:        first + " " + last,
		Department:  dept.name,
		Title:       dept.titles[d.pick(saltUserTitle, i, len(dept.titles))],
		Status:      status,
		CreatedAt:   unixUTC(created),
		UpdatedAt:   unixUTC(d.aged(saltUserUpdated, i, created)),
		MFAEnrolled: flags%100 < 75,
		IsAdmin:     flags>>8%100 < 2,
		LastLoginAt: unixUTC(login),
		// 555-0100..0199 are the numbers reserved for fiction.
		Phone: "+1" + areaCodes[phone%uint64(len(areaCodes))] + "55501" + formatID("", int(phone>>8%100), 2),
	}
}

// formatID writes prefix and n zero-padded to width digits.
func formatID(prefix string, n, width int) string {
	digits := strconv.Itoa(n)
	if pad := width - len(digits); pad > 0 {
		return prefix + strings.Repeat("0", pad) + digits
	}
	return prefix + digits
}

// parseID returns the index of an id made by formatID(prefix, index+1,
// width) with index < n.
func parseID(id, prefix string, width, n int) (int, bool) {
	digits, ok := strings.CutPrefix(id, prefix)
	if !ok || len(digits) != width {
		return 0, false
	}
	v := 0
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v < 1 || v > n {
		return 0, false
	}
	return v - 1, true
}

// currentUser returns user i with its mutations; the caller holds s.mu.
func (s *Server) currentUser(i int) User {
	if u, ok := s.mutated[i]; ok {
		return u
	}
	return s.data.user(i)
}

// User returns the user as the API would serve it now. A deleted user is
// a *UserError wrapping ErrUserDeleted.
func (s *Server) User(id string) (User, error) {
	s.mu.RLock()
	i, err := s.indexOf(id)
	if err != nil {
		s.mu.RUnlock()
		return User{}, err
	}
	u := s.currentUser(i)
	s.mu.RUnlock()
	if u.DeletedAt != nil {
		return User{}, &UserError{ID: id, Err: ErrUserDeleted}
	}
	return u, nil
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.User(chi.URLParam(r, "id"))
	if err != nil {
		writeProblem(w, http.StatusNotFound, "not_found", "no user with this id")
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request) {
	// Created users extend the index space, so everything up to the
	// page, n included, is read under the lock.
	s.mu.RLock()
	n := s.userCount()
	q, err := parseListQuery(usersResource, r.URL.RawQuery, n)
	if err != nil {
		s.mu.RUnlock()
		writeQueryError(w, err)
		return
	}
	lo, hi := 0, n
	if q.has(filterCreatedFrom) {
		lo = firstCreatedAtOrAfter(n, s.createdAt, q.createdFrom)
	}
	if q.has(filterCreatedTo) {
		hi = firstCreatedAtOrAfter(n, s.createdAt, q.createdTo)
	}
	var next func(int) int
	get := func(i int) (User, bool) {
		if u, ok := s.mutated[i]; ok {
			return u, u.DeletedAt == nil
		}
		return s.data.user(i), true
	}
	if q.has(filterUpdatedSince) {
		// Incremental listings include tombstones so deletions sync.
		next = s.nextMutatedOr(updatedScanStart(n, s.createdAt, q.updatedSince))
		get = func(i int) (User, bool) {
			if u, ok := s.mutated[i]; ok {
				return u, u.UpdatedAt.Unix() > q.updatedSince
			}
			if s.data.userUpdated(i) <= q.updatedSince {
				return User{}, false
			}
			return s.data.user(i), true
		}
	}
	page := collectPage(usersResource, q, max(q.start, lo), hi, next, get)
	s.mu.RUnlock() // not held while a slow client reads the answer
	writeJSON(w, http.StatusOK, page)
}
