package sandbox_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

// watermark returns the largest updated_at a full sync sees, as an
// incremental sync would remember it.
func watermark(users []sandbox.User) time.Time {
	var w time.Time
	for _, u := range users {
		if u.UpdatedAt.After(w) {
			w = u.UpdatedAt
		}
	}
	return w
}

func since(t time.Time) string {
	return "/api/v1/users?limit=1000&updated_since=" + url.QueryEscape(t.Format(time.RFC3339))
}

func TestIncrementalSyncSeesExactlyTheMutation(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, sandbox.Config{Users: 5000, Clock: clock.Now})
	full := walk[sandbox.User](t, c, "/api/v1/users?limit=1000")
	mark := watermark(full)
	if got := walk[sandbox.User](t, c, since(mark)); len(got) != 0 {
		t.Fatalf("nothing changed, yet updated_since returned %d users", len(got))
	}

	updated, err := s.UpdateUser("u-0000042", map[string]any{"title": "Chief Sandbox Officer", "mfa_enrolled": true})
	if err != nil {
		t.Fatal(err)
	}
	got := walk[sandbox.User](t, c, since(mark))
	if len(got) != 1 || got[0] != updated || got[0].Title != "Chief Sandbox Officer" || !got[0].UpdatedAt.After(mark) {
		t.Fatalf("after one update: %+v, want exactly %+v", got, updated)
	}
	if !updated.CreatedAt.Equal(full[41].CreatedAt) || updated.Email != full[41].Email {
		t.Error("the patch changed fields it did not name")
	}

	// Through the control plane, as a remote admin would; the clock has
	// not moved, yet the stamp is strictly later.
	mark = watermark(got)
	r := c.with("").postJSON("/_sandbox/users/u-0004999", `{"status":"suspended","last_login_at":"2026-02-01T08:00:00Z"}`).ok(t)
	viaHTTP := decode[sandbox.User](t, r.body)
	got = walk[sandbox.User](t, c, since(mark))
	if len(got) != 1 || got[0].ID != "u-0004999" || got[0].Status != "suspended" || got[0] != viaHTTP {
		t.Fatalf("after an update via HTTP: %+v", got)
	}
	if !got[0].UpdatedAt.After(mark) {
		t.Errorf("updated_at %v not after the previous mutation's %v", got[0].UpdatedAt, mark)
	}
	// A later real time is used as is.
	clock.Advance(24 * time.Hour)
	u, err := s.UpdateUser("u-0000001", nil)
	if err != nil || !u.UpdatedAt.Equal(clock.Now()) {
		t.Errorf("touch: %v at %v, want %v", err, u.UpdatedAt, clock.Now())
	}
	if got := s.Stats().Requests["/_sandbox/users/{id}"]; got != 1 {
		t.Errorf("Requests[/_sandbox/users/{id}] = %d", got)
	}
}

func TestDeletedUsersLeaveTombstones(t *testing.T) {
	s, c := start(t, sandbox.Config{Users: 100})
	mark := watermark(walk[sandbox.User](t, c, "/api/v1/users"))
	anon := c.with("")
	if r := anon.do(http.MethodDelete, "/_sandbox/users/u-0000007", "", nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	anon.do(http.MethodDelete, "/_sandbox/users/u-0000007", "", nil).problem(t, http.StatusGone, "gone")
	anon.postJSON("/_sandbox/users/u-0000007", `{"name":"Back"}`).problem(t, http.StatusGone, "gone")
	if _, err := s.UpdateUser("u-0000007", nil); !errors.Is(err, sandbox.ErrUserDeleted) {
		t.Errorf("UpdateUser on a deleted user: %v", err)
	}

	all := walk[sandbox.User](t, c, "/api/v1/users?limit=30")
	if len(all) != 99 || all[6].ID != "u-0000008" {
		t.Errorf("full listing: %d users, [6] = %s", len(all), all[6].ID)
	}
	c.get("/api/v1/users/u-0000007").problem(t, http.StatusNotFound, "not_found")
	for _, m := range walk[sandbox.Membership](t, c, "/api/v1/memberships?limit=1000") {
		if m.UserID == "u-0000007" {
			t.Fatal("a deleted user still has memberships")
		}
	}
	tomb := walk[sandbox.User](t, c, since(mark))
	if len(tomb) != 1 || tomb[0].Status != sandbox.StatusDeleted || tomb[0].DeletedAt == nil || !tomb[0].DeletedAt.Equal(tomb[0].UpdatedAt) {
		t.Fatalf("incremental listing after delete: %+v", tomb)
	}
}

func TestPatchValidation(t *testing.T) {
	s := sandbox.New(sandbox.Config{})
	before, err := s.User("u-0000003")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		patch map[string]any
		field string
	}{
		{map[string]any{"nickname": "x"}, "nickname"},
		{map[string]any{"id": "u-0000009"}, "id"},
		{map[string]any{"updated_at": "2030-01-01T00:00:00Z"}, "updated_at"},
		{map[string]any{"status": "deleted"}, "status"},
		{map[string]any{"email": "not-an-address"}, "email"},
		{map[string]any{"name": "  "}, "name"},
		{map[string]any{"is_admin": "yes"}, "is_admin"},
		{map[string]any{"title": 7.0}, "title"},
		{map[string]any{"last_login_at": "2019-01-01T00:00:00Z"}, "last_login_at"},
		{map[string]any{"last_login_at": "yesterday"}, "last_login_at"},
		{map[string]any{"title": "ok", "zzz": 1}, "zzz"}, // all or nothing
	} {
		_, err := s.UpdateUser("u-0000003", tc.patch)
		var fe *sandbox.FieldError
		if !errors.Is(err, sandbox.ErrInvalidPatch) || !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%v: err = %v, want a FieldError on %s", tc.patch, err, tc.field)
		}
	}
	if after, _ := s.User("u-0000003"); after != before {
		t.Errorf("rejected patches changed the user:\n%+v\n%+v", before, after)
	}
	for _, id := range []string{"u-0000101", "u-0", "g-00001", ""} {
		if _, err := s.UpdateUser(id, nil); !errors.Is(err, sandbox.ErrUnknownUser) {
			t.Errorf("UpdateUser(%q): %v", id, err)
		}
		if err := s.DeleteUser(id); !errors.Is(err, sandbox.ErrUnknownUser) {
			t.Errorf("DeleteUser(%q): %v", id, err)
		}
	}

	_, c := start(t, sandbox.Config{})
	anon := c.with("")
	anon.postJSON("/_sandbox/users/u-0000003", `{"id":"x"}`).problem(t, http.StatusBadRequest, "invalid_patch")
	anon.postJSON("/_sandbox/users/u-0000003", `null`).problem(t, http.StatusBadRequest, "invalid_patch")
	anon.postJSON("/_sandbox/users/u-0000003", `{"name":`).problem(t, http.StatusBadRequest, "invalid_patch")
	anon.postJSON("/_sandbox/users/u-9999999", `{}`).problem(t, http.StatusNotFound, "not_found")
}

func TestResetRestoresTheSeedData(t *testing.T) {
	s, c := start(t, sandbox.Config{Users: 50})
	pristine := c.get("/api/v1/users?limit=50").ok(t).body
	if _, err := s.UpdateUser("u-0000010", map[string]any{"name": "Changed"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser("u-0000011"); err != nil {
		t.Fatal(err)
	}
	if string(c.get("/api/v1/users?limit=50").body) == string(pristine) {
		t.Fatal("mutations did not show")
	}
	if r := c.with("").do(http.MethodPost, "/_sandbox/reset", "", nil); r.status != http.StatusNoContent {
		t.Fatalf("reset: %d", r.status)
	}
	if got := c.get("/api/v1/users?limit=50").body; string(got) != string(pristine) {
		t.Errorf("after reset:\n%s\nwant\n%s", got, pristine)
	}
}
