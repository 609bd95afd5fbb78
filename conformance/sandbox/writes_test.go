package sandbox_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

// changeBody is the answer of the membership and deactivation writes.
type changeBody struct {
	ChangeID   string              `json:"change_id"`
	User       *sandbox.User       `json:"user"`
	Membership *sandbox.Membership `json:"membership"`
}

type createdBody struct {
	sandbox.User
	ChangeID string `json:"change_id"`
}

// withCorrelation sends the request with an X-Correlation-Id.
func (c *client) withCorrelation(method, path, body, correlation string) result {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Correlation-Id", correlation)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

func TestCreateUserThenListedFetchedAndSynced(t *testing.T) {
	s, c := start(t, sandbox.Config{Users: 100})
	mark := watermark(walk[sandbox.User](t, c, "/api/v1/users"))
	r := c.withCorrelation(http.MethodPost, "/api/v1/users", `{"email":"new.hire@example.test","name":"New Hire","department":"Security"}`, "corr-1")
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	got := decode[createdBody](t, r.body)
	if got.ID != "u-0000101" || got.Status != sandbox.StatusActive || got.Department != "Security" || got.Title != "" ||
		!got.CreatedAt.Equal(got.UpdatedAt) || !got.CreatedAt.After(mark) || got.ChangeID == "" {
		t.Fatalf("created %+v", got)
	}
	if loc := r.header.Get("Location"); loc != "/api/v1/users/u-0000101" {
		t.Errorf("Location = %q", loc)
	}
	if fetched := decode[sandbox.User](t, c.get("/api/v1/users/u-0000101").ok(t).body); fetched != got.User {
		t.Errorf("GET = %+v, want %+v", fetched, got.User)
	}
	all := walk[sandbox.User](t, c, "/api/v1/users?limit=7")
	if len(all) != 101 || all[100].ID != "u-0000101" {
		t.Errorf("full listing has %d users, last %s", len(all), all[len(all)-1].ID)
	}
	if inc := walk[sandbox.User](t, c, since(mark)); len(inc) != 1 || inc[0].ID != "u-0000101" {
		t.Errorf("incremental listing after create: %+v", inc)
	}
	from := url.QueryEscape(got.CreatedAt.Format("2006-01-02T15:04:05Z07:00"))
	if byRange := walk[sandbox.User](t, c, "/api/v1/users?created_from="+from); len(byRange) != 1 || byRange[0].ID != got.ID {
		t.Errorf("created_from listing: %+v", byRange)
	}
	ch := s.Changes()
	if len(ch) != 1 || ch[0].ID != got.ChangeID || ch[0].Kind != sandbox.ChangeCreateUser || ch[0].UserID != got.ID || ch[0].CorrelationID != "corr-1" {
		t.Fatalf("changes %+v", ch)
	}
	// The created user is a user like any other: patchable, deletable.
	if _, err := s.UpdateUser(got.ID, map[string]any{"title": "Analyst"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(got.ID); err != nil {
		t.Fatal(err)
	}
	// Its email is free again once deleted.
	if _, _, err := s.CreateUser(sandbox.NewUser{Email: "NEW.HIRE@example.test", Name: "Again"}, ""); err != nil {
		t.Errorf("re-create after delete: %v", err)
	}
	if st := s.Stats(); st.Calls["POST /api/v1/users"] != 1 || st.Methods["POST"] != 1 || st.Methods["GET"] == 0 {
		t.Errorf("stats by method: %v %v", st.Methods, st.Calls)
	}
}

func TestCreateUserRefusals(t *testing.T) {
	s, c := start(t, sandbox.Config{Users: 100})
	taken := decode[sandbox.User](t, c.get("/api/v1/users/u-0000042").ok(t).body).Email
	for _, tc := range []struct {
		name, body string
		status     int
		code, in   string
	}{
		{"no email", `{"name":"X"}`, 400, "invalid_body", "email"},
		{"bad email", `{"email":"nope","name":"X"}`, 400, "invalid_body", "email"},
		{"blank name", `{"email":"a@b.test","name":"  "}`, 400, "invalid_body", "name"},
		{"long title", `{"email":"a@b.test","name":"X","title":"` + strings.Repeat("t", 300) + `"}`, 400, "invalid_body", "title"},
		{"unknown field", `{"email":"a@b.test","name":"X","is_admin":true}`, 400, "invalid_body", "is_admin"},
		{"wrong type", `{"email":7,"name":"X"}`, 400, "invalid_body", "email"},
		{"not an object", `[1]`, 400, "invalid_body", "body"},
		{"truncated", `{"email":`, 400, "invalid_body", "body"},
		{"trailing", `{"email":"a@b.test","name":"X"} {}`, 400, "invalid_body", "trailing"},
		{"generated email taken", `{"email":"` + strings.ToUpper(taken) + `","name":"X"}`, 409, "conflict", "email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := c.postJSON("/api/v1/users", tc.body).problem(t, tc.status, tc.code)
			if !strings.Contains(p.Detail, tc.in) {
				t.Errorf("detail %q does not name %q", p.Detail, tc.in)
			}
		})
	}
	if n := len(s.Changes()); n != 0 {
		t.Errorf("refused writes recorded %d changes", n)
	}
	if _, _, err := s.CreateUser(sandbox.NewUser{Email: "x@y.test"}, ""); !errors.Is(err, sandbox.ErrInvalidUser) {
		t.Errorf("CreateUser without name: %v", err)
	}
}

func TestWritesNeedTheirScopes(t *testing.T) {
	_, c := start(t, sandbox.Config{Users: 100, ClientID: "c1", ClientSecret: "s3cret"})
	token := func(scope string) string {
		form := creds()
		form.Set("scope", scope)
		return decode[tokenResponse](t, c.with("").postForm("/oauth/token", form).ok(t).body).AccessToken
	}
	// A token that names no scope gets the read scopes only.
	readOnly := c.with(decode[tokenResponse](t, c.with("").postForm("/oauth/token", creds()).ok(t).body).AccessToken)
	users, groups, compliance := c.with(token("users:write")), c.with(token("groups:write")), c.with(token("compliance:read"))
	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		allowed      *client
		want         int
	}{
		{"create user", "POST", "/api/v1/users", `{"email":"s@x.test","name":"S"}`, users, 201},
		{"deactivate", "POST", "/api/v1/users/u-0000003/deactivate", ``, users, 200},
		{"add member", "POST", "/api/v1/groups/g-00001/members", `{"user_id":"u-0000003"}`, groups, 0},
		{"remove member", "DELETE", "/api/v1/groups/g-00001/members/u-0000003", ``, groups, 0},
		{"mfa", "GET", "/api/v1/compliance/mfa", ``, compliance, 200},
		{"admins", "GET", "/api/v1/compliance/admins", ``, compliance, 200},
		{"password policy", "GET", "/api/v1/compliance/password-policy", ``, compliance, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, denied := range []*client{readOnly, users, groups, compliance} {
				if denied == tc.allowed {
					continue
				}
				r := denied.do(tc.method, tc.path, "application/json", strings.NewReader(tc.body))
				r.problem(t, http.StatusForbidden, "insufficient_scope")
				if !strings.Contains(r.header.Get("WWW-Authenticate"), "insufficient_scope") {
					t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
				}
			}
			r := tc.allowed.do(tc.method, tc.path, "application/json", strings.NewReader(tc.body))
			if r.status >= 400 || (tc.want != 0 && r.status != tc.want) {
				t.Fatalf("with the scope: %d %s", r.status, r.body)
			}
		})
	}
	c.with("").postJSON("/api/v1/users", `{}`).problem(t, http.StatusUnauthorized, "unauthorized")
}

func TestMembershipWrites(t *testing.T) {
	s, c := start(t, sandbox.Config{Users: 100})
	members := func() map[string]bool {
		out := map[string]bool{}
		for _, m := range walk[sandbox.Membership](t, c, "/api/v1/memberships?limit=40") {
			key := m.UserID + " " + m.GroupID
			if out[key] {
				t.Fatalf("membership %s listed twice", key)
			}
			out[key] = true
		}
		return out
	}
	before := members()
	var user, outside string
	for _, uid := range []string{"u-0000010", "u-0000011", "u-0000012"} {
		for _, g := range []string{"g-00001", "g-00002", "g-00003", "g-00004", "g-00005"} {
			if !before[uid+" "+g] {
				user, outside = uid, g
			}
		}
	}
	if outside == "" {
		t.Fatal("no non-membership to add")
	}

	r := c.withCorrelation(http.MethodPost, "/api/v1/groups/"+outside+"/members", `{"user_id":"`+user+`"}`, "corr-add")
	if r.status != http.StatusCreated {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	added := decode[changeBody](t, r.body)
	if added.ChangeID == "" || added.Membership == nil || added.Membership.UserID != user || added.Membership.GroupID != outside || added.Membership.Role != "member" {
		t.Fatalf("add answered %+v", added)
	}
	// Repeat: 200, same membership, same change.
	again := c.withCorrelation(http.MethodPost, "/api/v1/groups/"+outside+"/members", `{"user_id":"`+user+`"}`, "corr-again")
	if again.status != http.StatusOK || decode[changeBody](t, again.body).ChangeID != added.ChangeID {
		t.Fatalf("repeat add: %d %s", again.status, again.body)
	}
	if now := members(); !now[user+" "+outside] || len(now) != len(before)+1 {
		t.Fatalf("after add: %d memberships (was %d), has new: %v", len(now), len(before), now[user+" "+outside])
	}

	// Remove the added one and a generated one.
	var generated string
	for k := range before {
		if strings.HasPrefix(k, "u-0000020 ") {
			generated = strings.TrimPrefix(k, "u-0000020 ")
		}
	}
	for _, m := range [][2]string{{user, outside}, {"u-0000020", generated}} {
		r := c.withCorrelation(http.MethodDelete, "/api/v1/groups/"+m[1]+"/members/"+m[0], "", "corr-rm")
		if r.status != http.StatusOK || decode[changeBody](t, r.body).ChangeID == "" {
			t.Fatalf("remove %v: %d %s", m, r.status, r.body)
		}
		c.do(http.MethodDelete, "/api/v1/groups/"+m[1]+"/members/"+m[0], "", nil).problem(t, http.StatusNotFound, "not_member")
	}
	now := members()
	if now[user+" "+outside] || now["u-0000020 "+generated] || len(now) != len(before)-1 {
		t.Fatalf("after removals: %d memberships, want %d", len(now), len(before)-1)
	}
	// A removed generated membership can come back.
	if r := c.postJSON("/api/v1/groups/"+generated+"/members", `{"user_id":"u-0000020"}`); r.status != http.StatusCreated {
		t.Fatalf("re-add: %d %s", r.status, r.body)
	}
	if !members()["u-0000020 "+generated] {
		t.Error("re-added membership not listed")
	}

	kinds := []string{}
	for _, ch := range s.Changes() {
		kinds = append(kinds, ch.Kind+":"+ch.CorrelationID)
	}
	want := "add_member:corr-add remove_member:corr-rm remove_member:corr-rm add_member:"
	if strings.Join(kinds, " ") != want {
		t.Errorf("changes %v, want %s", kinds, want)
	}

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown group", "POST", "/api/v1/groups/g-99999/members", `{"user_id":"u-0000001"}`, 404, "not_found"},
		{"unknown user", "POST", "/api/v1/groups/g-00001/members", `{"user_id":"u-0009999"}`, 404, "not_found"},
		{"no user_id", "POST", "/api/v1/groups/g-00001/members", `{}`, 400, "invalid_body"},
		{"bad body", "POST", "/api/v1/groups/g-00001/members", `{"user_id":1}`, 400, "invalid_body"},
		{"extra field", "POST", "/api/v1/groups/g-00001/members", `{"user_id":"u-0000001","role":"owner"}`, 400, "invalid_body"},
		{"remove unknown group", "DELETE", "/api/v1/groups/g-x/members/u-0000001", ``, 404, "not_found"},
		{"remove unknown user", "DELETE", "/api/v1/groups/g-00001/members/u-0009999", ``, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.do(tc.method, tc.path, "application/json", strings.NewReader(tc.body)).problem(t, tc.status, tc.code)
		})
	}
	// A deleted user's memberships cannot change.
	if err := s.DeleteUser("u-0000030"); err != nil {
		t.Fatal(err)
	}
	c.postJSON("/api/v1/groups/g-00001/members", `{"user_id":"u-0000030"}`).problem(t, http.StatusGone, "gone")
}

func TestDeactivateUser(t *testing.T) {
	s, c := start(t, sandbox.Config{Users: 100})
	var active, suspended string
	for _, u := range walk[sandbox.User](t, c, "/api/v1/users") {
		switch {
		case u.Status == sandbox.StatusActive && active == "":
			active = u.ID
		case u.Status == sandbox.StatusSuspended && suspended == "":
			suspended = u.ID
		}
	}
	r := c.withCorrelation(http.MethodPost, "/api/v1/users/"+active+"/deactivate", "", "corr-d")
	first := decode[changeBody](t, r.ok(t).body)
	if first.ChangeID == "" || first.User == nil || first.User.Status != sandbox.StatusSuspended {
		t.Fatalf("deactivate: %s", r.body)
	}
	if u, _ := s.User(active); u.Status != sandbox.StatusSuspended || !u.UpdatedAt.Equal(first.User.UpdatedAt) {
		t.Errorf("stored user %+v", u)
	}
	// Idempotent: the same change, no new one.
	again := decode[changeBody](t, c.postJSON("/api/v1/users/"+active+"/deactivate", "").ok(t).body)
	if again.ChangeID != first.ChangeID || len(s.Changes()) != 1 {
		t.Errorf("repeat: change %s (first %s), %d changes", again.ChangeID, first.ChangeID, len(s.Changes()))
	}
	// Suspended by the seed: a change is still recorded, so the caller has an id.
	if seeded := decode[changeBody](t, c.postJSON("/api/v1/users/"+suspended+"/deactivate", "").ok(t).body); seeded.ChangeID == "" || seeded.ChangeID == first.ChangeID {
		t.Errorf("seed-suspended user: change %q", seeded.ChangeID)
	}
	c.postJSON("/api/v1/users/u-0009999/deactivate", "").problem(t, http.StatusNotFound, "not_found")
	if err := s.DeleteUser(active); err != nil {
		t.Fatal(err)
	}
	c.postJSON("/api/v1/users/"+active+"/deactivate", "").problem(t, http.StatusGone, "gone")

	// The change log over HTTP, and Reset clears it.
	log := decode[struct{ Data []sandbox.Change }](t, c.with("").get("/_sandbox/changes").ok(t).body)
	if len(log.Data) != 2 || log.Data[0].CorrelationID != "corr-d" || log.Data[0].Kind != sandbox.ChangeDeactivateUser {
		t.Errorf("GET /_sandbox/changes: %+v", log.Data)
	}
	s.Reset()
	if len(s.Changes()) != 0 {
		t.Error("Reset kept the change log")
	}
	if u, _ := s.User(active); u.Status != sandbox.StatusActive {
		t.Errorf("after Reset the user is %s", u.Status)
	}
}
