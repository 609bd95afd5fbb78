package sandbox_test

// The example directory connector (connectors-wasm/directory), run
// natively through sdktest against a real sandbox on 127.0.0.1: its
// actions, checks and webhook handling, and so the contract between the
// two. The connector's own module cannot import the sandbox (it is built
// the way a partner builds, from the guest SDK alone), so these tests
// live here.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/connectors-wasm/directory/connector"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/guest-sdk/sdk/sdktest"
)

// directory is one connector wired to one sandbox.
type directory struct {
	s    *sandbox.Server
	c    *client
	base string
}

func newDirectory(t *testing.T, cfg sandbox.Config) directory {
	s, c := start(t, cfg)
	return directory{s: s, c: c, base: c.base}
}

func (d directory) config() protocol.Config { return protocol.Config{connector.ConfigBaseURL: d.base} }

// execute runs one action with the API key (every scope) unless tr is given.
func (d directory) execute(t *testing.T, tr *sdktest.Transport, action, params, correlation string, dry bool) (protocol.ExecuteResponse, error) {
	t.Helper()
	if tr == nil {
		tr = sdktest.New(sdktest.Config{Token: sandbox.DefaultAPIKey})
	}
	req := protocol.ExecuteRequest{Action: action, CorrelationID: correlation, Params: json.RawMessage(params), DryRun: dry, Config: d.config()}
	return sdktest.Run[protocol.ExecuteResponse](context.Background(), connector.New(), tr, protocol.ExportExecute, req)
}

func errType(err error) string { return sdk.ErrorResponseOf(err).Type }

func TestDirectoryActionsMakeSandboxChanges(t *testing.T) {
	d := newDirectory(t, sandbox.Config{Users: 100})
	tr := sdktest.New(sdktest.Config{Token: sandbox.DefaultAPIKey})

	created, err := d.execute(t, tr, connector.ActionCreateUser, `{"email":"joiner@example.test","name":"Joiner","title":"Engineer"}`, "run-1", false)
	if err != nil {
		t.Fatal(err)
	}
	uid := created.Outputs["user_id"]
	if uid != "u-0000101" || len(created.RemoteChangeIDs) != 1 {
		t.Fatalf("create_user: %+v", created)
	}
	const group = "g-00003"
	steps := []struct {
		action, params string
		outputs        map[string]string
		changes        int
	}{
		{connector.ActionGrantGroup, `{"user_id":"` + uid + `","group_id":"` + group + `"}`, map[string]string{"already_member": "false", "user_id": uid, "group_id": group}, 1},
		{connector.ActionGrantGroup, `{"user_id":"` + uid + `","group_id":"` + group + `"}`, map[string]string{"already_member": "true"}, 1},
		{connector.ActionRevokeGroup, `{"user_id":"` + uid + `","group_id":"` + group + `"}`, map[string]string{"was_member": "true"}, 1},
		{connector.ActionRevokeGroup, `{"user_id":"` + uid + `","group_id":"` + group + `"}`, map[string]string{"was_member": "false"}, 0},
		{connector.ActionDeactivateUser, `{"user_id":"` + uid + `"}`, map[string]string{"status": "suspended", "user_id": uid}, 1},
	}
	answers := []protocol.ExecuteResponse{created}
	for i, st := range steps {
		got, err := d.execute(t, tr, st.action, st.params, fmt.Sprintf("run-%d", i+2), false)
		if err != nil {
			t.Fatalf("step %d %s: %v", i, st.action, err)
		}
		for k, v := range st.outputs {
			if got.Outputs[k] != v {
				t.Errorf("step %d %s: outputs %v, want %s=%s", i, st.action, got.Outputs, k, v)
			}
		}
		if len(got.RemoteChangeIDs) != st.changes {
			t.Errorf("step %d %s: change ids %v", i, st.action, got.RemoteChangeIDs)
		}
		answers = append(answers, got)
	}
	// A repeated grant answers the first grant's change.
	if answers[2].RemoteChangeIDs[0] != answers[1].RemoteChangeIDs[0] {
		t.Errorf("repeat grant answered change %v, first grant %v", answers[2].RemoteChangeIDs, answers[1].RemoteChangeIDs)
	}
	// Every change id the connector reported is the sandbox's, with the
	// correlation id of the run that made it.
	changes := d.s.Changes()
	if len(changes) != 4 {
		t.Fatalf("sandbox changes %+v", changes)
	}
	byID := map[string]sandbox.Change{}
	for _, c := range changes {
		byID[c.ID] = c
	}
	wantKinds := map[string]string{"run-1": sandbox.ChangeCreateUser, "run-2": sandbox.ChangeAddMember, "run-4": sandbox.ChangeRemoveMember, "run-6": sandbox.ChangeDeactivateUser}
	for _, a := range answers {
		for _, id := range a.RemoteChangeIDs {
			c, ok := byID[id]
			if !ok || wantKinds[c.CorrelationID] != c.Kind {
				t.Errorf("change %s: %+v", id, c)
			}
		}
	}
	for _, r := range tr.Requests() {
		if r.Method != http.MethodGet && (r.Headers["X-Correlation-Id"] == "" || r.Auth != "default") {
			t.Errorf("write without correlation id or credential reference: %+v", r)
		}
	}
	if u, err := d.s.User(uid); err != nil || u.Status != sandbox.StatusSuspended || u.Title != "Engineer" {
		t.Errorf("user after the actions: %+v %v", u, err)
	}
}

func TestDirectoryActionRefusals(t *testing.T) {
	d := newDirectory(t, sandbox.Config{Users: 100, ClientID: "c1", ClientSecret: "s3cret"})
	taken := decode[sandbox.User](t, d.c.get("/api/v1/users/u-0000007").ok(t).body).Email
	for _, tc := range []struct {
		name, action, params string
		wantType             string
		remote               bool // the connector reached the remote
	}{
		{"unknown action", "delete_everything", `{}`, sdk.ErrorTypeUnsupported, false},
		{"missing param", connector.ActionCreateUser, `{"email":"a@b.test"}`, sdk.ErrorTypeBadInput, false},
		{"foreign param", connector.ActionDeactivateUser, `{"user_id":"u-0000001","group_id":"g-00001"}`, sdk.ErrorTypeBadInput, false},
		{"unknown param", connector.ActionGrantGroup, `{"user_id":"u-0000001","group_id":"g-00001","role":"owner"}`, sdk.ErrorTypeBadInput, false},
		{"bad email", connector.ActionCreateUser, `{"email":"nope","name":"X"}`, sdk.ErrorTypeBadInput, false},
		{"not an object", connector.ActionDeactivateUser, `[1]`, sdk.ErrorTypeBadInput, false},
		{"blank id", connector.ActionDeactivateUser, `{"user_id":"  "}`, sdk.ErrorTypeBadInput, false},
		{"email taken", connector.ActionCreateUser, `{"email":"` + taken + `","name":"X"}`, connector.ErrorTypeConflict, true},
		{"unknown user", connector.ActionDeactivateUser, `{"user_id":"u-0099999"}`, connector.ErrorTypeNotFound, true},
		{"unknown group", connector.ActionGrantGroup, `{"user_id":"u-0000001","group_id":"g-77777"}`, connector.ErrorTypeNotFound, true},
		{"path injection", connector.ActionRevokeGroup, `{"user_id":"../../users","group_id":"g-00001"}`, connector.ErrorTypeNotFound, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := sdktest.New(sdktest.Config{Token: sandbox.DefaultAPIKey})
			_, err := d.execute(t, tr, tc.action, tc.params, "corr", false)
			if errType(err) != tc.wantType {
				t.Fatalf("err %v (type %q), want type %q", err, errType(err), tc.wantType)
			}
			if reached := len(tr.Requests()) > 0; reached != tc.remote {
				t.Errorf("requests %+v, want reached=%v", tr.Requests(), tc.remote)
			}
		})
	}
	if n := len(d.s.Changes()); n != 0 {
		t.Errorf("refused actions made %d changes", n)
	}

	// A token without the write scope: the remote's 403 is "unauthorized".
	form := creds("scope", "users:read")
	tok := decode[tokenResponse](t, d.c.with("").postForm("/oauth/token", form).ok(t).body).AccessToken
	_, err := d.execute(t, sdktest.New(sdktest.Config{Token: tok}), connector.ActionDeactivateUser, `{"user_id":"u-0000001"}`, "corr", false)
	if errType(err) != sdk.ErrorTypeUnauthorized {
		t.Errorf("without users:write: %v (type %q)", err, errType(err))
	}

	// A dry run reads, never writes.
	before, err := d.s.User("u-0000001")
	if err != nil {
		t.Fatal(err)
	}
	tr := sdktest.New(sdktest.Config{Token: sandbox.DefaultAPIKey})
	got, err := d.execute(t, tr, connector.ActionDeactivateUser, `{"user_id":"u-0000001"}`, "corr", true)
	if err != nil || got.Outputs["dry_run"] != "true" || len(got.RemoteChangeIDs) != 0 {
		t.Fatalf("dry run: %+v %v", got, err)
	}
	if _, err := d.execute(t, tr, connector.ActionDeactivateUser, `{"user_id":"u-0099999"}`, "corr", true); errType(err) != connector.ErrorTypeNotFound {
		t.Errorf("dry run of an unknown user: %v", err)
	}
	for _, r := range tr.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("dry run sent %s %s", r.Method, r.URL)
		}
	}
	if after, _ := d.s.User("u-0000001"); len(d.s.Changes()) != 0 || after != before {
		t.Error("a dry run changed the sandbox")
	}
}

func (d directory) verify(t *testing.T, check, params string) (protocol.VerifyResponse, *sdktest.Transport, error) {
	t.Helper()
	tr := sdktest.New(sdktest.Config{Token: sandbox.DefaultAPIKey})
	req := protocol.VerifyRequest{Check: check, Params: json.RawMessage(params), Config: d.config()}
	got, err := sdktest.Run[protocol.VerifyResponse](context.Background(), connector.New(), tr, protocol.ExportVerify, req)
	return got, tr, err
}

func TestDirectoryChecksPassAndFail(t *testing.T) {
	pass := newDirectory(t, sandbox.Config{Users: 1000})
	weak := sandbox.PasswordPolicy{MinLength: 8, HistoryCount: 0, LockoutThreshold: 0}
	fail := newDirectory(t, sandbox.Config{Users: 1000, Compliance: sandbox.Compliance{MFANotEnforced: true, StaleAdmins: true, PasswordPolicy: &weak}})
	for _, tc := range []struct {
		check    string
		evidence map[string]string // on failure
	}{
		{connector.CheckMFAEnforced, map[string]string{"enforced": "false"}},
		{connector.CheckNoStaleAdmins, map[string]string{"max_age_days": "90"}},
		{connector.CheckPasswordPolicy, map[string]string{"failed": "min_length,history_count,lockout_threshold", "min_length": "8"}},
	} {
		t.Run(tc.check, func(t *testing.T) {
			got, tr, err := pass.verify(t, tc.check, "")
			if err != nil || got.Status != protocol.VerifyPass || len(got.Evidence) == 0 {
				t.Fatalf("compliant tenant: %+v %v", got, err)
			}
			bad, tr2, err := fail.verify(t, tc.check, "")
			if err != nil || bad.Status != protocol.VerifyFail {
				t.Fatalf("non-compliant tenant: %+v %v", bad, err)
			}
			for k, v := range tc.evidence {
				if bad.Evidence[k] != v {
					t.Errorf("evidence %v, want %s=%s", bad.Evidence, k, v)
				}
			}
			for _, r := range append(tr.Requests(), tr2.Requests()...) {
				if r.Method != http.MethodGet || !strings.Contains(r.URL, "/api/v1/compliance/") {
					t.Errorf("verify sent %s %s", r.Method, r.URL)
				}
			}
		})
	}
	if st := pass.s.Stats(); st.Methods["POST"] != 0 || st.Methods["DELETE"] != 0 || st.Methods["GET"] != 3 {
		t.Errorf("sandbox saw %v during verify", st.Methods)
	}
	// The stale admins are named, and the threshold is a parameter.
	stale, _, _ := fail.verify(t, connector.CheckNoStaleAdmins, "")
	if stale.Evidence["stale_admins"] == "0" || stale.Evidence["stale_ids"] == "" {
		t.Errorf("stale evidence %v", stale.Evidence)
	}
	if lenient, _, err := fail.verify(t, connector.CheckNoStaleAdmins, `{"max_age_days":3650}`); err != nil || lenient.Status != protocol.VerifyPass {
		t.Errorf("ten-year threshold: %+v %v", lenient, err)
	}
	// One admin who stopped signing in fails a compliant tenant.
	if _, err := pass.s.UpdateUser("u-0000003", map[string]any{"is_admin": true, "status": "active", "last_login_at": "2021-01-01T00:00:00Z"}); err != nil {
		t.Fatal(err)
	}
	if one, _, _ := pass.verify(t, connector.CheckNoStaleAdmins, ""); one.Status != protocol.VerifyFail || one.Evidence["stale_ids"] != "u-0000003" {
		t.Errorf("one stale admin: %+v", one)
	}
	for _, tc := range []struct{ check, params, want string }{
		{"firewall_on", "", sdk.ErrorTypeUnsupported},
		{connector.CheckNoStaleAdmins, `{"max_age_days":0}`, sdk.ErrorTypeBadInput},
		{connector.CheckNoStaleAdmins, `{"days":5}`, sdk.ErrorTypeBadInput},
	} {
		if _, _, err := pass.verify(t, tc.check, tc.params); errType(err) != tc.want {
			t.Errorf("%s %s: %v, want type %s", tc.check, tc.params, err, tc.want)
		}
	}
	// Without compliance:read the remote refuses, and the check errors.
	form := creds("scope", "users:read")
	limited := newDirectory(t, sandbox.Config{Users: 100, ClientID: "c1", ClientSecret: "s3cret"})
	tok := decode[tokenResponse](t, limited.c.with("").postForm("/oauth/token", form).ok(t).body).AccessToken
	req := protocol.VerifyRequest{Check: connector.CheckMFAEnforced, Config: limited.config()}
	if _, err := sdktest.Run[protocol.VerifyResponse](context.Background(), connector.New(), sdktest.New(sdktest.Config{Token: tok}), protocol.ExportVerify, req); errType(err) != sdk.ErrorTypeUnauthorized {
		t.Errorf("without compliance:read: %v", err)
	}
}

func TestDirectoryWebhookHandlesEverySandboxEvent(t *testing.T) {
	d := newDirectory(t, sandbox.Config{Users: 100})
	rc := newReceiver(t, nil)
	if err := d.s.Subscribe(rc.url, testSecret, sandbox.Delivery{Sign: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.execute(t, nil, connector.ActionCreateUser, `{"email":"hooked@example.test","name":"Hooked"}`, "c", false); err != nil {
		t.Fatal(err)
	}
	uid := "u-0000101"
	if _, err := d.s.UpdateUser(uid, map[string]any{"title": "Lead"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct{ action, params string }{
		{connector.ActionGrantGroup, `{"user_id":"` + uid + `","group_id":"g-00002"}`},
		{connector.ActionRevokeGroup, `{"user_id":"` + uid + `","group_id":"g-00002"}`},
		{connector.ActionDeactivateUser, `{"user_id":"` + uid + `"}`},
	} {
		if _, err := d.execute(t, nil, a.action, a.params, "c", false); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.s.DeleteUser(uid); err != nil {
		t.Fatal(err)
	}
	wait(t, d.s)

	type want struct {
		typ     string
		objects int
		edges   int
		status  string
	}
	wants := []want{
		{"user.created", 1, 0, "active"}, {"user.updated", 1, 0, "active"}, {"membership.added", 0, 1, ""},
		{"membership.removed", 0, 0, ""}, {"user.updated", 1, 0, "suspended"}, {"user.deleted", 1, 0, "deleted"},
	}
	got := rc.all()
	if len(got) != len(wants) {
		t.Fatalf("%d events delivered, want %d", len(got), len(wants))
	}
	var lastUpdated string
	for i, r := range got {
		var ev wireEvent
		if err := json.Unmarshal(r.body, &ev); err != nil {
			t.Fatal(err)
		}
		tr := sdktest.New(sdktest.Config{})
		headers := map[string]string{}
		for k := range r.header {
			headers[strings.ToLower(k)] = r.header.Get(k)
		}
		resp, err := sdktest.Run[protocol.WebhookResponse](context.Background(), connector.New(), tr, protocol.ExportWebhook,
			protocol.WebhookRequest{Headers: headers, Body: r.body, Config: d.config()})
		w := wants[i]
		if err != nil || !slices.Equal(resp.EventIDs, []string{ev.ID}) || ev.Type != w.typ {
			t.Fatalf("event %d %s: %+v %v", i, ev.Type, resp, err)
		}
		objs, edges := tr.Objects(), tr.Edges()
		if len(objs) != w.objects || len(edges) != w.edges || len(tr.Requests()) != 0 {
			t.Fatalf("event %s emitted %d objects, %d edges, %d requests", ev.Type, len(objs), len(edges), len(tr.Requests()))
		}
		if w.objects == 1 {
			var u sandbox.User
			if err := json.Unmarshal(objs[0].Data, &u); err != nil || objs[0].ID != uid || objs[0].Type != connector.TypeUser || u.Status != w.status {
				t.Errorf("event %s emitted %+v", ev.Type, objs[0])
			}
			// The object's version is the event's updated_at, and grows.
			if objs[0].UpdatedAt != u.UpdatedAt.Format(time.RFC3339) || objs[0].UpdatedAt != ev.OccurredAt || objs[0].UpdatedAt <= lastUpdated {
				t.Errorf("event %s: updated_at %q (occurred_at %q, previous %q)", ev.Type, objs[0].UpdatedAt, ev.OccurredAt, lastUpdated)
			}
			lastUpdated = objs[0].UpdatedAt
		}
		if w.edges == 1 && (edges[0].Type != connector.EdgeMemberOf || edges[0].From.ID != uid || edges[0].To.ID != "g-00002") {
			t.Errorf("edge %+v", edges[0])
		}
	}
}

func TestDirectoryWebhookRefusesForeignEvents(t *testing.T) {
	run := func(body string) error {
		_, err := sdktest.Run[protocol.WebhookResponse](context.Background(), connector.New(), sdktest.New(sdktest.Config{}), protocol.ExportWebhook,
			protocol.WebhookRequest{Body: json.RawMessage(body)})
		return err
	}
	for _, tc := range []struct{ name, body, want string }{
		{"unknown type", `{"id":"evt_1","type":"user.exploded","occurred_at":"2026-01-01T00:00:00Z","data":{}}`, connector.ErrorTypeUnsupportedEvent},
		{"no id", `{"type":"user.updated","occurred_at":"2026-01-01T00:00:00Z","data":{}}`, connector.ErrorTypeBadEvent},
		{"bad time", `{"id":"evt_1","type":"user.updated","occurred_at":"yesterday","data":{}}`, connector.ErrorTypeBadEvent},
		{"user without id", `{"id":"evt_1","type":"user.updated","occurred_at":"2026-01-01T00:00:00Z","data":{"updated_at":"2026-01-01T00:00:00Z"}}`, connector.ErrorTypeBadEvent},
		{"user without updated_at", `{"id":"evt_1","type":"user.updated","occurred_at":"2026-01-01T00:00:00Z","data":{"id":"u-1"}}`, connector.ErrorTypeBadEvent},
		{"membership without group", `{"id":"evt_1","type":"membership.added","occurred_at":"2026-01-01T00:00:00Z","data":{"user_id":"u-1"}}`, connector.ErrorTypeBadEvent},
		{"not an object", `[1]`, connector.ErrorTypeBadEvent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := run(tc.body); errType(err) != tc.want {
				t.Errorf("err %v (type %q), want %q", err, errType(err), tc.want)
			}
		})
	}
}
