package sandbox_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

func TestPaginationVisitsEveryUserOnce(t *testing.T) {
	for _, tc := range []struct{ users, limit int }{
		{10, 3},
		{10, 10}, // exactly one full page: has_more must be false
		{1000, 100},
		{1000, 999},
		{25_000, 1000},
	} {
		t.Run(fmt.Sprintf("%d/%d", tc.users, tc.limit), func(t *testing.T) {
			_, c := start(t, sandbox.Config{Users: tc.users})
			users := walk[sandbox.User](t, c, fmt.Sprintf("/api/v1/users?limit=%d", tc.limit))
			if len(users) != tc.users {
				t.Fatalf("walked %d users, want %d", len(users), tc.users)
			}
			for i, u := range users {
				if want := fmt.Sprintf("u-%07d", i+1); u.ID != want {
					t.Fatalf("position %d holds %s, want %s (missed or repeated)", i, u.ID, want)
				}
			}
		})
	}
}

func TestLimitDefaultAndClamp(t *testing.T) {
	_, c := start(t, sandbox.Config{Users: 2000})
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"", 100},
		{"?limit=1", 1},
		{"?limit=1000", 1000},
		{"?limit=5000", 1000},
	} {
		page := decode[sandbox.Page[sandbox.User]](t, c.get("/api/v1/users"+tc.query).ok(t).body)
		if len(page.Data) != tc.want || !page.HasMore {
			t.Errorf("%q: %d items (has_more %v), want %d", tc.query, len(page.Data), page.HasMore, tc.want)
		}
	}
}

func TestCreatedRangeIsHalfOpen(t *testing.T) {
	_, c := start(t, sandbox.Config{Users: 300, Seed: 11})
	all := walk[sandbox.User](t, c, "/api/v1/users?limit=1000")
	at := func(i int) time.Time { return all[i].CreatedAt }
	rfc := func(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339Nano)) }
	for _, tc := range []struct {
		name     string
		from, to time.Time
		lo, hi   int // expected users all[lo:hi]
	}{
		{"exact bounds", at(40), at(45), 40, 45},
		{"to excludes its own instant", at(40), at(41), 40, 41},
		{"from == to is empty", at(40), at(40), 40, 40},
		{"a nanosecond past from excludes it", at(40).Add(time.Nanosecond), at(45), 41, 45},
		{"a nanosecond past to includes it", at(40), at(45).Add(time.Nanosecond), 40, 46},
		{"a second before from", at(40).Add(-time.Second), at(45), 40, 45},
		{"whole range", at(0), at(299).Add(time.Second), 0, 300},
		{"before everything", at(0).AddDate(-1, 0, 0), at(0), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := walk[sandbox.User](t, c, "/api/v1/users?limit=2&created_from="+rfc(tc.from)+"&created_to="+rfc(tc.to))
			if len(got) != tc.hi-tc.lo {
				t.Fatalf("got %d users, want %d", len(got), tc.hi-tc.lo)
			}
			for i, u := range got {
				if u.ID != all[tc.lo+i].ID {
					t.Fatalf("item %d = %s, want %s", i, u.ID, all[tc.lo+i].ID)
				}
			}
		})
	}
	t.Run("one bound", func(t *testing.T) {
		if got := walk[sandbox.User](t, c, "/api/v1/users?limit=100&created_from="+rfc(at(250))); len(got) != 50 || got[0].ID != all[250].ID {
			t.Errorf("created_from only: %d users", len(got))
		}
		if got := walk[sandbox.User](t, c, "/api/v1/users?limit=100&created_to="+rfc(at(250))); len(got) != 250 {
			t.Errorf("created_to only: %d users", len(got))
		}
	})
}

// TestUpdatedSinceMatchesClientSideFilter checks the server's scan, which
// skips records that cannot match, against the definition.
func TestUpdatedSinceMatchesClientSideFilter(t *testing.T) {
	_, c := start(t, sandbox.Config{Users: 3000, Seed: 5})
	users := walk[sandbox.User](t, c, "/api/v1/users?limit=1000")
	groups := walk[sandbox.Group](t, c, "/api/v1/groups?limit=1000")
	for _, since := range []time.Time{
		time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC),
		users[1200].UpdatedAt, // strictly greater: user 1200 itself is out
		time.Date(2024, 2, 29, 13, 0, 0, 500, time.UTC),
		time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		q := "updated_since=" + url.QueryEscape(since.Format(time.RFC3339Nano))
		var wantU []string
		for _, u := range users {
			if u.UpdatedAt.After(since) {
				wantU = append(wantU, u.ID)
			}
		}
		var wantG []string
		for _, g := range groups {
			if g.UpdatedAt.After(since) {
				wantG = append(wantG, g.ID)
			}
		}
		gotU := idsOf(walk[sandbox.User](t, c, "/api/v1/users?limit=37&"+q), userID)
		gotG := idsOf(walk[sandbox.Group](t, c, "/api/v1/groups?limit=5&"+q), groupID)
		if fmt.Sprint(gotU) != fmt.Sprint(wantU) {
			t.Errorf("users %s: got %d, want %d", q, len(gotU), len(wantU))
		}
		if fmt.Sprint(gotG) != fmt.Sprint(wantG) {
			t.Errorf("groups %s: got %v, want %v", q, gotG, wantG)
		}
	}
}

func idsOf[T any](items []T, id func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func userID(u sandbox.User) string   { return u.ID }
func groupID(g sandbox.Group) string { return g.ID }

func TestBadQueriesAre400(t *testing.T) {
	_, c := start(t, sandbox.Config{Users: 50})
	first := decode[sandbox.Page[sandbox.User]](t, c.get("/api/v1/users?limit=5").ok(t).body)
	groupsPage := decode[sandbox.Page[sandbox.Group]](t, c.get("/api/v1/groups?limit=1").ok(t).body)
	filtered := decode[sandbox.Page[sandbox.User]](t, c.get("/api/v1/users?limit=5&created_from=2021-01-01T00:00:00Z").ok(t).body)
	for _, tc := range []struct{ name, path, code string }{
		{"zero limit", "/api/v1/users?limit=0", "invalid_query"},
		{"negative limit", "/api/v1/users?limit=-3", "invalid_query"},
		{"text limit", "/api/v1/users?limit=ten", "invalid_query"},
		{"repeated limit", "/api/v1/users?limit=1&limit=2", "invalid_query"},
		{"unknown parameter", "/api/v1/users?update_since=2021-01-01T00:00:00Z", "invalid_query"},
		{"malformed query", "/api/v1/users?limit=%zz", "invalid_query"},
		{"date without time", "/api/v1/users?updated_since=2021-01-01", "invalid_query"},
		{"time without zone", "/api/v1/users?created_from=2021-01-01T00:00:00", "invalid_query"},
		{"inverted range", "/api/v1/users?created_from=2022-01-01T00:00:00Z&created_to=2021-01-01T00:00:00Z", "invalid_query"},
		{"filter the resource lacks", "/api/v1/groups?created_from=2021-01-01T00:00:00Z", "invalid_query"},
		{"memberships take no filters", "/api/v1/memberships?updated_since=2021-01-01T00:00:00Z", "invalid_query"},
		{"garbage cursor", "/api/v1/users?cursor=%21%21%21", "invalid_cursor"},
		{"forged cursor", "/api/v1/users?cursor=" + b64("users:9999:00000000"), "invalid_cursor"},
		{"cursor past the end", "/api/v1/users?cursor=" + b64("users:51:"+fingerprintOf(t, first.NextCursor)), "invalid_cursor"},
		{"cursor of another resource", "/api/v1/users?cursor=" + groupsPage.NextCursor, "invalid_cursor"},
		{"cursor without its filters", "/api/v1/users?cursor=" + filtered.NextCursor, "invalid_cursor"},
		{"cursor with other filters", "/api/v1/users?updated_since=2021-01-01T00:00:00Z&cursor=" + first.NextCursor, "invalid_cursor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := c.get(tc.path).problem(t, http.StatusBadRequest, tc.code)
			if p.Detail == "" {
				t.Error("a 400 must say what was wrong")
			}
		})
	}
	// The well-formed cursor past the end differs from a valid one only
	// in its position: prove the valid one is accepted.
	c.get("/api/v1/users?cursor=" + first.NextCursor).ok(t)
}
