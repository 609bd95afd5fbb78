package sandbox

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// UpdateUser applies patch to the user and stamps updated_at, so the next
// incremental sync sees the change, and sends a user.updated event to
// webhook subscribers. Keys are JSON field names: email,
// name, department, title, status ("active" or "suspended"), phone,
// mfa_enrolled, is_admin (bool) and last_login_at (RFC 3339 string or
// time.Time, not before created_at, stored to the second). id and the
// server-managed timestamps are read-only. An empty patch only touches
// updated_at. The patch is all-or-nothing; errors are *FieldError
// wrapping ErrInvalidPatch or *UserError.
func (s *Server) UpdateUser(id string, patch map[string]any) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.indexOf(id)
	if err != nil {
		return User{}, err
	}
	u := s.currentUser(i)
	if u.DeletedAt != nil {
		return User{}, &UserError{ID: id, Err: ErrUserDeleted}
	}
	if err := applyPatch(&u, patch); err != nil {
		return User{}, err
	}
	u.UpdatedAt = unixUTC(s.stamp())
	s.storeUser(i, u)
	s.publishUser(EventUserUpdated, u)
	return u, nil
}

// DeleteUser removes the user from full listings and memberships and
// leaves a tombstone (status "deleted", deleted_at = updated_at) that
// listings filtered by updated_since return once. Webhook subscribers get
// a user.deleted event carrying the tombstone.
func (s *Server) DeleteUser(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.indexOf(id)
	if err != nil {
		return err
	}
	u := s.currentUser(i)
	if u.DeletedAt != nil {
		return &UserError{ID: id, Err: ErrUserDeleted}
	}
	t := unixUTC(s.stamp())
	u.Status, u.UpdatedAt, u.DeletedAt = StatusDeleted, t, &t
	s.storeUser(i, u)
	s.publishUser(EventUserDeleted, u)
	return nil
}

// Reset clears faults, mutations, created users, membership changes and
// the change log: every user is back to what the seed made. Webhook
// subscriptions and their statistics stay; Reset sends no event.
// Incremental syncs do not see a reset; re-sync fully after one.
// Mutation stamps, change ids and event ids stay monotonic across resets.
func (s *Server) Reset() {
	s.mu.Lock()
	clear(s.mutated)
	s.mutatedIdx = s.mutatedIdx[:0]
	s.writes.reset()
	s.tickets.reset()
	s.mu.Unlock()
	s.faults.set(Faults{})
}

// stamp returns the time of a new mutation: Clock(), but strictly after
// every timestamp handed out so far, generated or stamped, so that
// updated_since=<largest updated_at seen> never misses a change. The
// caller holds s.mu.
func (s *Server) stamp() int64 {
	t := max(s.cfg.Clock().Unix(), dataEnd+1, s.lastStamp+1)
	s.lastStamp = t
	return t
}

// storeUser records the mutated user i; the caller holds s.mu.
func (s *Server) storeUser(i int, u User) {
	if _, ok := s.mutated[i]; !ok {
		at, _ := slices.BinarySearch(s.mutatedIdx, i)
		s.mutatedIdx = slices.Insert(s.mutatedIdx, at, i)
	}
	s.mutated[i] = u
}

// nextMutatedOr returns a skip function for scans that only need
// mutated users below bound: it maps p to the first mutated index at or
// after p if that is below bound, else to max(p, bound). The returned
// function reads s.mutatedIdx, so call it under s.mu.
func (s *Server) nextMutatedOr(bound int) func(int) int {
	return func(p int) int {
		if p >= bound {
			return p
		}
		at, _ := slices.BinarySearch(s.mutatedIdx, p)
		if at < len(s.mutatedIdx) && s.mutatedIdx[at] < bound {
			return s.mutatedIdx[at]
		}
		return bound
	}
}

func patchError(field, format string, args ...any) error {
	return &FieldError{Err: ErrInvalidPatch, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// applyPatch sets the fields of patch on u, validating each.
func applyPatch(u *User, patch map[string]any) error {
	keys := make([]string, 0, len(patch))
	for k := range patch {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first error is the same on every run
	for _, k := range keys {
		v := patch[k]
		var err error
		switch k {
		case "email":
			err = setString(&u.Email, k, v, validEmail)
		case "name":
			err = setString(&u.Name, k, v, nonEmpty)
		case "department":
			err = setString(&u.Department, k, v, nonEmpty)
		case "title":
			err = setString(&u.Title, k, v, nonEmpty)
		case "phone":
			err = setString(&u.Phone, k, v, func(string) string { return "" })
		case "status":
			err = setString(&u.Status, k, v, validStatus)
		case "mfa_enrolled":
			err = setBool(&u.MFAEnrolled, k, v)
		case "is_admin":
			err = setBool(&u.IsAdmin, k, v)
		case "last_login_at":
			err = setLogin(u, v)
		case "id", "created_at", "updated_at", "deleted_at":
			err = patchError(k, "is read-only")
		default:
			err = patchError(k, "unknown field")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

const maxFieldLen = 256

func setString(dst *string, field string, v any, check func(string) string) error {
	s, ok := v.(string)
	if !ok {
		return patchError(field, "want a string, got %T", v)
	}
	if len(s) > maxFieldLen {
		return patchError(field, "longer than %d bytes", maxFieldLen)
	}
	if reason := check(s); reason != "" {
		return patchError(field, "%s", reason)
	}
	*dst = s
	return nil
}

func setBool(dst *bool, field string, v any) error {
	b, ok := v.(bool)
	if !ok {
		return patchError(field, "want a boolean, got %T", v)
	}
	*dst = b
	return nil
}

func setLogin(u *User, v any) error {
	var t time.Time
	switch v := v.(type) {
	case time.Time:
		t = v
	case string:
		var err error
		if t, err = time.Parse(time.RFC3339, v); err != nil {
			return patchError("last_login_at", "%q is not an RFC 3339 timestamp", v)
		}
	default:
		return patchError("last_login_at", "want an RFC 3339 string, got %T", v)
	}
	t = t.UTC().Truncate(time.Second)
	if t.Before(u.CreatedAt) {
		return patchError("last_login_at", "is before created_at %s", u.CreatedAt.Format(time.RFC3339))
	}
	u.LastLoginAt = t
	return nil
}

func validStatus(s string) string {
	if s != StatusActive && s != StatusSuspended {
		return `must be "active" or "suspended"`
	}
	return ""
}

func nonEmpty(s string) string {
	if strings.TrimSpace(s) == "" {
		return "must not be empty"
	}
	return ""
}

func validEmail(s string) string {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || strings.ContainsAny(s, " \t\r\n") {
		return "is not an email address"
	}
	return ""
}
