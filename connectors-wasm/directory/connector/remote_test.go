package connector_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRemote is a tiny stand-in for the sandbox remote's directory API:
// enough of its contract (bearer auth, limit/cursor pagination with the
// cursor bound to the filters, updated_since strictly greater-than,
// created_from/created_to) to test the connector against. The real
// sandbox lives in the root module, which this module does not import.
type fakeRemote struct {
	t     *testing.T
	token string

	mu          sync.Mutex
	users       []map[string]any
	groups      []map[string]any
	memberships []map[string]any
	limits      []int    // limit of every list request
	queries     []string // raw query of every list request
	status      int      // when set, every /api/v1 call answers it
	// inclusiveTo makes created_to inclusive, a remote bug the connector
	// must not pass on.
	inclusiveTo bool
	// brokenPaging answers has_more without a next_cursor.
	brokenPaging bool
}

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func ts(d time.Duration) string { return epoch.Add(d).Format(time.RFC3339) }

func newFakeRemote(t *testing.T, nUsers, nGroups int) (*fakeRemote, string) {
	f := &fakeRemote{t: t, token: "test-token"}
	for i := range nUsers {
		f.users = append(f.users, map[string]any{
			"id": fmt.Sprintf("u-%07d", i+1), "email": fmt.Sprintf("user%d@example.test", i+1),
			"name": fmt.Sprintf("User %d", i+1), "department": "Engineering", "title": "Engineer",
			"status": "active", "created_at": ts(time.Duration(i) * time.Hour),
			// Pairs of users share an updated_at, as real data does.
			"updated_at":   ts(time.Duration(i/2)*time.Hour + 30*time.Minute),
			"mfa_enrolled": i%4 != 0, "is_admin": i == 0, "last_login_at": ts(1000 * time.Hour),
			"phone": "+15555550100",
		})
	}
	for i := range nGroups {
		f.groups = append(f.groups, map[string]any{
			"id": fmt.Sprintf("g-%05d", i+1), "name": fmt.Sprintf("Group %d", i+1), "description": "a group",
			"created_at": ts(time.Duration(i) * time.Minute), "updated_at": ts(time.Duration(i) * time.Minute),
		})
	}
	for i := range nUsers {
		if nGroups == 0 {
			break
		}
		f.memberships = append(f.memberships, map[string]any{
			"user_id": fmt.Sprintf("u-%07d", i+1), "group_id": fmt.Sprintf("g-%05d", i%nGroups+1),
			"role": "member", "created_at": ts(0),
		})
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeRemote) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/api/v1/health" {
		if f.status != 0 {
			w.WriteHeader(f.status)
			return
		}
		writeJSON(w, map[string]string{"status": "ok"})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, `{"title":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	switch r.URL.Path {
	case "/api/v1/account":
		writeJSON(w, map[string]string{"id": "acct-42", "name": "Example Corp"})
	case "/api/v1/users":
		f.list(w, r, f.users, true, true)
	case "/api/v1/groups":
		f.list(w, r, f.groups, true, false)
	case "/api/v1/memberships":
		f.list(w, r, f.memberships, false, false)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeRemote) list(w http.ResponseWriter, r *http.Request, all []map[string]any, updated, created bool) {
	q := r.URL.Query()
	f.queries = append(f.queries, r.URL.RawQuery)
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit < 1 {
		http.Error(w, "bad limit", http.StatusBadRequest)
		return
	}
	f.limits = append(f.limits, limit)
	limit = min(limit, 1000)
	filters := ""
	for _, name := range []string{"updated_since", "created_from", "created_to"} {
		if v := q.Get(name); v != "" {
			if (name == "updated_since" && !updated) || (name != "updated_since" && !created) {
				http.Error(w, "unsupported filter "+name, http.StatusBadRequest)
				return
			}
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				http.Error(w, "bad time", http.StatusBadRequest)
				return
			}
			filters += name + "=" + v + ";"
		}
	}
	var rows []map[string]any
	for _, rec := range all {
		if keep(rec, q, f.inclusiveTo) {
			rows = append(rows, rec)
		}
	}
	start := 0
	if c := q.Get("cursor"); c != "" {
		off, bound, ok := strings.Cut(c, "|")
		n, err := strconv.Atoi(off)
		if !ok || err != nil || bound != filters || n > len(rows) {
			http.Error(w, "cursor issued for other filters", http.StatusBadRequest)
			return
		}
		start = n
	}
	end := min(start+limit, len(rows))
	resp := map[string]any{"data": rows[start:end], "has_more": end < len(rows), "next_cursor": ""}
	if end < len(rows) && !f.brokenPaging {
		resp["next_cursor"] = strconv.Itoa(end) + "|" + filters
	}
	writeJSON(w, resp)
}

func keep(rec map[string]any, q map[string][]string, inclusiveTo bool) bool {
	at := func(field string) time.Time {
		t, _ := time.Parse(time.RFC3339, rec[field].(string))
		return t
	}
	param := func(name string) (time.Time, bool) {
		v := q[name]
		if len(v) == 0 {
			return time.Time{}, false
		}
		t, _ := time.Parse(time.RFC3339, v[0])
		return t, true
	}
	if since, ok := param("updated_since"); ok && !at("updated_at").After(since) {
		return false
	}
	if from, ok := param("created_from"); ok && at("created_at").Before(from) {
		return false
	}
	if to, ok := param("created_to"); ok {
		c := at("created_at")
		if c.After(to) || (!inclusiveTo && c.Equal(to)) {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// touch updates user i (0-based) at the given time.
func (f *fakeRemote) touch(i int, at string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[i]["updated_at"] = at
}

// tombstone deletes user i remotely, leaving a tombstone.
func (f *fakeRemote) tombstone(i int, at string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[i]["status"], f.users[i]["updated_at"], f.users[i]["deleted_at"] = "deleted", at, at
}

func (f *fakeRemote) seenLimits() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.limits)
}

func (f *fakeRemote) set(fn func(f *fakeRemote)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}
