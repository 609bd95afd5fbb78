package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/keyring"
	"github.com/sluicehq/sluice/store"
)

// Row groups of the routes that keep their routes beside their handlers
// (api/hooks.go, api/actions.go, api/dlq.go), with the state they need.

// itemPlaceholder stands for a dead-letter item id in a row's path until
// prepare puts a real one in.
const itemPlaceholder = "ITEM"

// dlqRows act on a dead-letter item of acme's crm, made by a real sync
// whose group pages the sandbox fails. A reviewer reads and replays from
// tapes in any tenant; deleting is the tenant's.
func (w *world) dlqRows() []tableRow {
	const item = conn + "/dlq/{item}"
	path := crm + "/dlq/" + itemPlaceholder
	review := keyed(200, 403, 403, 200, 403, 200)
	rows := []tableRow{
		get(conn+"/dlq", crm+"/dlq", review),
		get(item, path, review),
		get(item+"/tape", path+"/tape", review),
		{method: "POST", pattern: item + "/replay", req: request{path: path + "/replay", contentType: js, body: []byte(`{"mode":"tape"}`)}, want: review},
		{method: "DELETE", pattern: item, req: request{path: path}, want: tenantOnly(200)},
	}
	for i := range rows {
		rows[i].backend = "dlq"
		rows[i].prepare = func(t *testing.T, _ string, req request) request {
			if w.has("dlq") {
				req.path = strings.Replace(req.path, itemPlaceholder, w.deadLetter(t), 1)
			}
			return req
		}
	}
	return rows
}

// deadLetter returns an item of acme's crm that is still queued, making
// one when a delete (or a replay) removed the last.
func (w *world) deadLetter(t *testing.T) string {
	t.Helper()
	ctx, acme := context.Background(), w.tenant(t, "acme")
	if w.dlqItem != "" {
		_, err := w.dlq.Get(ctx, acme, w.dlqItem)
		if err == nil {
			return w.dlqItem
		}
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	w.crm(t)
	r := w.remotes["acme"]
	if err := r.sb.SetFaults(sandbox.Faults{ErrorRate: 1, PathPrefix: "/api/v1/groups"}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.sb.SetFaults(sandbox.Faults{}) }()
	conn, err := w.b.Connections.Connection(ctx, acme, "crm")
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.b.Engine.Sync(ctx, conn, engine.RunOptions{Full: true})
	if err == nil || res == nil || res.DLQItem == "" {
		t.Fatalf("a sync whose groups fail: %v, %+v; want a dead-letter item", err, res)
	}
	w.dlqItem = res.DLQItem
	return w.dlqItem
}

// actionRows: actions and their approvals, the tenant's action policy,
// verify checks, their schedules and the evidence they leave, on acme's
// crm against its sandbox.
func (w *world) actionRows() []tableRow {
	const (
		actions = conn + "/actions"
		check   = conn + "/checks/{check}"
		policy  = "/v1/tenants/{tenant}/action-policy"
	)
	mfa := crm + "/checks/mfa_enforced"
	rows := []tableRow{
		{method: "POST", pattern: actions, req: request{path: crm + "/actions", contentType: js, body: []byte(w.grant())}, want: tenantOnly(201)},
		get(actions, crm+"/actions", tenantOnly(200)),
		withRun(get(actions+"/{run}", crm+"/actions/"+runPlaceholder, tenantOnly(200)), w.actionRun),
		withRun(tableRow{method: "POST", pattern: actions + "/{run}/approve", req: request{path: crm + "/actions/" + runPlaceholder + "/approve"}, want: tenantOnly(200)}, w.pendingRun),
		withRun(tableRow{method: "POST", pattern: actions + "/{run}/reject", req: request{path: crm + "/actions/" + runPlaceholder + "/reject", contentType: js, body: []byte(`{"reason":"change freeze"}`)}, want: tenantOnly(200)}, w.pendingRun),
		get(policy, "/v1/tenants/acme/action-policy", tenantOnly(200)),
		{method: "PUT", pattern: policy, req: request{path: "/v1/tenants/acme/action-policy", contentType: js, body: []byte(`{"required_approvals":1}`)}, want: tenantOnly(200)},
		{method: "POST", pattern: check + "/run", req: request{path: mfa + "/run", contentType: js, body: []byte(`{"params":{}}`)}, want: tenantOnly(201)},
		get(check+"/schedule", mfa+"/schedule", tenantOnly(200)),
		{method: "PUT", pattern: check + "/schedule", req: request{path: mfa + "/schedule", contentType: js, body: []byte(scheduleBody)}, want: tenantOnly(200)},
		{method: "DELETE", pattern: check + "/schedule", req: request{path: mfa + "/schedule"}, want: tenantOnly(204)},
		get(conn+"/evidence", crm+"/evidence?control=IAM-MFA", tenantOnly(200)),
	}
	for i := range rows {
		rows[i].backend = "actions"
		runs := rows[i].prepare
		schedule := rows[i].pattern == check+"/schedule" && rows[i].method != "PUT"
		rows[i].prepare = func(t *testing.T, p string, req request) request {
			if !w.has("actions") {
				return req
			}
			w.crm(t)
			if schedule { // GET and DELETE need one to exist
				if st, b := w.call(t, api.PAdmin, "PUT", mfa+"/schedule", scheduleBody); st != 200 {
					t.Fatalf("schedule mfa_enforced: %d %s", st, b)
				}
			}
			if runs != nil {
				req = runs(t, p, req)
			}
			return req
		}
	}
	return rows
}

const (
	scheduleBody = `{"interval_seconds":3600}`
	// runPlaceholder stands for an action run id until prepare puts a
	// real one in.
	runPlaceholder = "RUN"
)

// withRun has prepare put the run id run(t, principal) names into the
// row's path.
func withRun(r tableRow, run func(t *testing.T, principal string) string) tableRow {
	r.prepare = func(t *testing.T, p string, req request) request {
		req.path = strings.Replace(req.path, runPlaceholder, run(t, p), 1)
		return req
	}
	return r
}

// actionRun is a run of grant_group on acme's crm, made once.
func (w *world) actionRun(t *testing.T, _ string) string {
	t.Helper()
	if w.action == "" {
		w.action = w.submit(t, api.PAdmin, w.grant(), 201, store.ActionSucceeded)
	}
	return w.action
}

// pendingRun submits revoke_group, destructive, so it waits for an
// approval, as a principal other than p: nobody approves their own.
func (w *world) pendingRun(t *testing.T, p string) string {
	t.Helper()
	requester := api.PAdmin
	if p == api.PAdmin {
		requester = api.PTenantOwn
	}
	w.submit(t, requester, w.grant(), 201, store.ActionSucceeded)
	return w.submit(t, requester, `{"action":"revoke_group",`+w.member+`}`, 202, store.ActionPendingApproval)
}

// grant is the body of a grant_group of a real membership.
func (w *world) grant() string { return `{"action":"grant_group",` + w.member + `}` }

// submit posts an action to acme's crm and returns its run id.
func (w *world) submit(t *testing.T, principal, body string, want int, state string) string {
	t.Helper()
	st, b := w.call(t, principal, "POST", crm+"/actions", body)
	var run api.ActionRun
	if err := json.Unmarshal(b, &run); err != nil || st != want || run.ID == "" || run.State != state {
		t.Fatalf("submit %s as %s: %d %s, want %d %s", body, principal, st, b, want, state)
	}
	return run.ID
}

// exportRows: the signing keys a verifier anchors its trust in, and
// compliance export bundles. The rotation comes first, so the bundles
// after it hold receipts signed before it (the setup syncs, the actions
// and replays of the rows above) and must still verify: each bundle is
// checked by package export's offline verifier against the keys GET
// /v1/signing-keys lists.
func (w *world) exportRows() []tableRow {
	var before string // the active key before the rotation
	rotate := tableRow{method: "POST", pattern: "/v1/signing-keys/rotate", req: request{path: "/v1/signing-keys/rotate"},
		want: keyed(200, 403, 403, 403, 403, 403), backend: "signing keys",
		prepare: func(t *testing.T, _ string, req request) request {
			if w.wired {
				keys, _ := w.signingKeys(t)
				before = activeKey(t, keys)
			}
			return req
		},
		check: func(t *testing.T, body []byte) {
			var list api.SigningKeyList
			if err := json.Unmarshal(body, &list); err != nil {
				t.Fatal(err)
			}
			if now := activeKey(t, list.Items); now == before || !slices.ContainsFunc(list.Items, func(k keyring.PublicKey) bool {
				return k.ID == before && k.State == "retired"
			}) {
				t.Errorf("rotation: active key %s, was %s; keys %+v", now, before, list.Items)
			}
		}}
	export := get("/v1/tenants/{tenant}/exports", "/v1/tenants/acme/exports?from=2025-01-01T00:00:00Z&to=2030-01-01T00:00:00Z&role=auditor", tenantOnly(200))
	export.backend = "exports"
	export.check = func(t *testing.T, body []byte) { w.verifyExport(t, body, "auditor") }
	keys := get("/v1/signing-keys", "/v1/signing-keys", public(200))
	keys.backend = "signing keys"
	return []tableRow{rotate, keys, export}
}

// activeKey is the id of the one active key of keys.
func activeKey(t *testing.T, keys []keyring.PublicKey) string {
	t.Helper()
	var active []string
	for _, k := range keys {
		if k.State == "active" {
			active = append(active, k.ID)
		}
	}
	if len(active) != 1 {
		t.Fatalf("%d active signing keys in %+v, want one", len(active), keys)
	}
	return active[0]
}
