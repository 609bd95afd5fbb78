package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/dlq"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

// The dead-letter routes over the wired world: the real dlq.Service,
// acme's crm resolved by the connections manager, an item made by a real
// sync of the directory connector whose group pages the sandbox fails.

const dlqBase = crm + "/dlq"

// putDLQItem writes a dead-letter item (without a tape) straight into
// acme's store, for the routes that need one to exist: connection crm, id.
func putDLQItem(t *testing.T, w *world, id string) {
	t.Helper()
	it := store.DLQItem{ID: id, Connection: "crm", Kind: store.DLQSync, Input: json.RawMessage(`{"stream":"users"}`),
		ErrorType: "remote_error", Error: "GET /api/v1/users: status 500", Attempts: 1, FirstFailure: api.SeedTime, LastFailure: api.SeedTime}
	if err := w.tenant(t, "acme").PutDLQItem(context.Background(), it, nil); err != nil {
		t.Fatal(err)
	}
}

func TestDLQRoutes(t *testing.T) {
	w := newWorld(t, true)
	id := w.deadLetter(t)
	item := dlqBase + "/" + id
	do := func(who, method, path, body string) (int, []byte) {
		t.Helper()
		var b []byte
		ct := ""
		if body != "" || method == "POST" {
			b, ct = []byte(body), js
		}
		resp, out := w.do(t, w.url, who, method, path, ct, b)
		return resp.StatusCode, out
	}

	status, body := do(api.PTenantOwn, "GET", dlqBase, "")
	var list struct{ Items []api.DLQItem }
	if status != 200 || json.Unmarshal(body, &list) != nil || len(list.Items) != 1 || list.Items[0].ID != id ||
		list.Items[0].Href != item || list.Items[0].Kind != "sync" {
		t.Fatalf("list = %d %s", status, body)
	}
	// A remote that stays unavailable is the host's error type: the item
	// names its platform runbook.
	if list.Items[0].Runbook != "docs/runbooks/remote-unreachable.md" {
		t.Errorf("runbook = %q", list.Items[0].Runbook)
	}
	if strings.Contains(string(body), w.remotes["acme"].clientSecret) {
		t.Fatal("the list leaks the client secret")
	}
	for _, c := range []struct {
		who, method, path string
		status            int
	}{
		{api.PReviewer, "GET", dlqBase, 200},
		{api.PTenantOther, "GET", dlqBase, 403},
		{api.PPartnerOwn, "GET", dlqBase, 403},
		{api.PNone, "GET", item, 401},
		{api.PTenantOwn, "GET", item, 200},
		{api.PTenantOwn, "GET", "/v1/tenants/acme/connections/other/dlq/" + id, 404},
		{api.PTenantOwn, "GET", dlqBase + "/not%2Fan-id", 404},
		{api.PTenantOwn, "GET", dlqBase + "/nope", 404},
		{api.PReviewer, "DELETE", item, 403},
		{api.PTenantOwn, "GET", dlqBase + "?limit=0", 422},
	} {
		if status, body := do(c.who, c.method, c.path, ""); status != c.status {
			t.Errorf("%s %s %s = %d %s, want %d", c.who, c.method, c.path, status, body, c.status)
		}
	}

	// A reviewer downloads the tape; the read is logged.
	resp, body := w.do(t, w.url, api.PReviewer, "GET", item+"/tape", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), "dlq-"+id+".tape.json") {
		t.Fatalf("tape = %d %v", resp.StatusCode, resp.Header)
	}
	if tp, err := tape.Parse(body); err != nil || len(tp.Calls) != 1 {
		t.Fatalf("downloaded tape: %v", err)
	}
	if !strings.Contains(w.logs.String(), "dead-letter tape read") {
		t.Error("a reviewer's tape read was not logged")
	}

	// Replay: bad bodies, the reviewer's limit, then a tape replay that
	// reproduces the failure.
	for _, c := range []struct {
		who, body, field string
		status           int
	}{
		{api.PTenantOwn, `{"mode":"dry"}`, "body.mode", 422},
		{api.PTenantOwn, `{"mode":"tape","x":1}`, "body.x", 400},
		{api.PTenantOwn, ``, "body", 400},
		{api.PReviewer, `{"mode":"live"}`, "body.mode", 403},
	} {
		resp, b := w.do(t, w.url, c.who, "POST", item+"/replay", js, []byte(c.body))
		if p := api.DecodeProblem(t, resp, b); resp.StatusCode != c.status || len(p.Errors) == 0 || p.Errors[0].Field != c.field {
			t.Errorf("replay %s as %s = %d %s, want %d naming %s", c.body, c.who, resp.StatusCode, b, c.status, c.field)
		}
	}
	status, body = do(api.PReviewer, "POST", item+"/replay", `{"mode":"tape"}`)
	var res dlq.Result
	if status != 200 || json.Unmarshal(body, &res) != nil || res.Status != "failed" || res.Removed || res.ReceiptID == "" ||
		res.Report == nil || len(res.Report.Differences) != 0 {
		t.Fatalf("reviewer's tape replay = %d %s", status, body)
	}

	// Live against the failing remote, the replay fails and keeps the
	// item; the fault cleared, it succeeds, removes the item and leaves a
	// receipt that names it, signed by a key the API lists.
	sb := w.remotes["acme"].sb
	for _, c := range []struct {
		faults  sandbox.Faults
		status  string
		removed bool
	}{
		{sandbox.Faults{ErrorRate: 1, PathPrefix: "/api/v1/groups"}, "failed", false},
		{sandbox.Faults{}, "succeeded", true},
	} {
		if err := sb.SetFaults(c.faults); err != nil {
			t.Fatal(err)
		}
		status, body = do(api.PTenantOwn, "POST", item+"/replay", `{"mode":"live"}`)
		res = dlq.Result{}
		if status != 200 || json.Unmarshal(body, &res) != nil || res.Status != c.status || res.Removed != c.removed {
			t.Fatalf("live replay = %d %s, want %s", status, body, c.status)
		}
	}
	resp, env := w.do(t, w.url, api.PTenantOwn, "GET", "/v1/tenants/acme/receipts/"+res.ReceiptID, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("receipt %s: %d %s", res.ReceiptID, resp.StatusCode, env)
	}
	_, trusted := w.signingKeys(t)
	v, err := receipt.Verify(env, trusted)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Replay(); err != nil || p.DLQItemID != id || p.Mode != "live" {
		t.Fatalf("receipt = %+v, %v", p, err)
	}
	if status, _ := do(api.PTenantOwn, "GET", item, ""); status != 404 {
		t.Errorf("item after a successful replay = %d, want 404", status)
	}
}

func TestDLQDeleteIsRecorded(t *testing.T) {
	w := newWorld(t, true)
	putDLQItem(t, w, "item-1")
	status, body := w.call(t, api.PTenantOwn, "DELETE", dlqBase+"/item-1", "")
	var rm store.DLQRemoval
	if status != 200 || json.Unmarshal(body, &rm) != nil || rm.Reason != "deleted" || rm.ItemID != "item-1" {
		t.Fatalf("delete = %d %s", status, body)
	}
	keyID := api.KeyID(w.keys[api.PTenantOwn])
	stored, err := w.tenant(t, "acme").DLQRemoval(context.Background(), "item-1")
	if err != nil || keyID == "" || stored.By != keyID {
		t.Fatalf("removal record = %+v, %v; want by %s", stored, err, keyID)
	}
	if status, _ := w.call(t, api.PTenantOwn, "DELETE", dlqBase+"/item-1", ""); status != 404 {
		t.Errorf("second delete = %d, want 404", status)
	}
	// An item without a tape has none to download or replay from.
	putDLQItem(t, w, "item-2")
	if status, _ := w.call(t, api.PReviewer, "GET", dlqBase+"/item-2/tape", ""); status != 404 {
		t.Errorf("tape of a tapeless item = %d, want 404", status)
	}
	status, body = w.call(t, api.PTenantOwn, "POST", dlqBase+"/item-2/replay", `{"mode":"tape"}`)
	if status != 409 {
		t.Errorf("tape replay of a tapeless item = %d %s, want 409", status, body)
	}
}

func TestDLQNotWired(t *testing.T) {
	w := newWorld(t, false)
	if status, _ := w.call(t, api.PTenantOwn, "GET", dlqBase, ""); status != 501 {
		t.Errorf("list without a backend = %d, want 501", status)
	}
	if status, _ := w.call(t, api.PTenantOther, "GET", dlqBase, ""); status != 403 {
		t.Errorf("another tenant without a backend = %d, want 403 (authorization first)", status)
	}
}
