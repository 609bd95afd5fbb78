package api

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

func getJSON[T any](t *testing.T, env *testEnv, principal, path string) T {
	t.Helper()
	resp, b := env.do(t, principal, "GET", path, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, b)
	}
	return v
}

// Each tenant's routes read that tenant's data only, whoever asks: the
// handler gets the store handle of the path's tenant and nothing else.
func TestReadsStayInTheirTenant(t *testing.T) {
	env := newEnv(t)
	for _, tc := range []struct{ principal, tenant, other string }{
		{pAdmin, "acme", "globex"},
		{pAdmin, "globex", "acme"},
		{pTenantOwn, "acme", "globex"},
		{pTenantOther, "globex", "acme"},
	} {
		base := "/v1/tenants/" + tc.tenant
		objs := getJSON[page[store.Object]](t, env, tc.principal, base+"/objects")
		if len(objs.Items) != 2 {
			t.Fatalf("%s objects: %d, want 2", tc.tenant, len(objs.Items))
		}
		for _, o := range objs.Items {
			if o.EntityID != store.EntityID(tc.tenant, o.Connector, o.Type, o.SourceID) || !strings.Contains(string(o.Data), tc.tenant) {
				t.Errorf("%s lists an object that is not its own: %+v", tc.tenant, o)
			}
		}
		edges := getJSON[page[store.Edge]](t, env, tc.principal, base+"/edges")
		if len(edges.Items) != 1 || edges.Items[0].From != env.seed.entity[tc.tenant] {
			t.Errorf("%s edges: %+v", tc.tenant, edges.Items)
		}
		// The other tenant's entity id does not resolve under this tenant.
		resp, b := env.do(t, tc.principal, "GET", base+"/objects/"+env.seed.entity[tc.other], "", nil)
		if resp.StatusCode != 404 {
			t.Errorf("%s reads %s's entity: %d %s", tc.tenant, tc.other, resp.StatusCode, b)
		}
		lin := getJSON[LineageResponse](t, env, tc.principal, base+"/lineage?entity_id="+env.seed.entity[tc.other])
		if len(lin.Items) != 0 {
			t.Errorf("%s sees %s's lineage: %+v", tc.tenant, tc.other, lin.Items)
		}
		// Same receipt id in both tenants: each gets its own envelope,
		// signed over its own tenant's run.
		_, env1 := env.do(t, tc.principal, "GET", base+"/receipts/rcpt-1", "", nil)
		if p, err := verifyIngest(env1, env.seed.keys); err != nil || p.TenantID != tc.tenant {
			t.Errorf("%s receipt is not its own (%v): %s", tc.tenant, err, env1)
		}
	}
}

// verifyIngest verifies a receipt envelope with keys and returns its
// ingest predicate.
func verifyIngest(env []byte, keys receipt.KeySet) (receipt.Ingest, error) {
	v, err := receipt.Verify(env, keys)
	if err != nil {
		return receipt.Ingest{}, err
	}
	return v.Ingest()
}

func TestObjectPagination(t *testing.T) {
	env := newEnv(t)
	base := "/v1/tenants/acme/objects?connection=crm&limit=1"
	first := getJSON[page[store.Object]](t, env, pAdmin, base)
	if len(first.Items) != 1 || first.Next == "" {
		t.Fatalf("first page %+v", first)
	}
	second := getJSON[page[store.Object]](t, env, pAdmin, base+"&after="+url.QueryEscape(first.Next))
	if len(second.Items) != 1 || second.Next != "" || second.Items[0].EntityID == first.Items[0].EntityID {
		t.Fatalf("second page %+v after %+v", second, first)
	}
	users := getJSON[page[store.Object]](t, env, pAdmin, "/v1/tenants/acme/objects?connection=crm&type=user")
	if len(users.Items) != 1 || users.Items[0].Type != "user" || users.Items[0].RunID != "run-1" {
		t.Fatalf("type filter: %+v", users)
	}
	one := getJSON[store.Object](t, env, pAdmin, "/v1/tenants/acme/objects/"+users.Items[0].EntityID)
	if string(one.Data) != `{"name":"user of acme"}` {
		t.Errorf("object data %s", one.Data)
	}
	none := getJSON[page[store.Object]](t, env, pAdmin, "/v1/tenants/nobody/objects")
	if none.Items == nil || len(none.Items) != 0 {
		t.Errorf("a tenant without data lists %+v, want an empty array", none)
	}
}

func TestReceipts(t *testing.T) {
	env := newEnv(t)
	tn, _ := env.db.Tenant("acme")
	for _, id := range []string{"rcpt-2", "rcpt-3"} {
		if err := tn.PutReceipt(context.Background(), store.Receipt{ID: id, RunID: "run-9", Kind: "ingest", Envelope: []byte(`{"x":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	p1 := getJSON[page[ReceiptInfo]](t, env, pAdmin, "/v1/tenants/acme/receipts?limit=2")
	if len(p1.Items) != 2 || p1.Items[0].ID != "rcpt-1" || p1.Next != "rcpt-2" {
		t.Fatalf("page 1: %+v", p1)
	}
	p2 := getJSON[page[ReceiptInfo]](t, env, pAdmin, "/v1/tenants/acme/receipts?limit=2&after="+p1.Next)
	if len(p2.Items) != 1 || p2.Items[0].ID != "rcpt-3" || p2.Next != "" {
		t.Fatalf("page 2: %+v", p2)
	}
	byRun := getJSON[page[ReceiptInfo]](t, env, pAdmin, "/v1/tenants/acme/receipts?run=run-9")
	if len(byRun.Items) != 2 || byRun.Items[0].Href != "/v1/tenants/acme/receipts/rcpt-2" {
		t.Fatalf("run filter: %+v", byRun)
	}
	// The envelope comes back byte for byte.
	resp, b := env.do(t, pAdmin, "GET", "/v1/tenants/acme/receipts/rcpt-1", "", nil)
	stored, _ := tn.Receipt(context.Background(), "rcpt-1")
	if string(b) != string(stored.Envelope) || resp.Header.Get("Sluice-Run-Id") != "run-1" {
		t.Errorf("envelope %s (run %q), stored %s", b, resp.Header.Get("Sluice-Run-Id"), stored.Envelope)
	}
}

func TestUsage(t *testing.T) {
	env := newEnv(t) // the clock is seedTime, 2025-01-02
	tn, _ := env.db.Tenant("acme")
	ctx := context.Background()
	for _, a := range []struct {
		day, conn string
		u         store.Usage
	}{
		{"2025-01-02", "directory", store.Usage{Records: 5, Bytes: 10, RemoteCalls: 1, WasmMillis: 3, Runs: 1}},
		{"2025-01-02", "crm", store.Usage{Runs: 4}},
		{"2024-11-01", "directory", store.Usage{Runs: 100}}, // outside the default 30 days
	} {
		if err := tn.AddUsage(ctx, a.day, a.conn, a.u); err != nil {
			t.Fatal(err)
		}
	}
	def := getJSON[UsageResponse](t, env, pTenantOwn, "/v1/tenants/acme/usage")
	if def.From != "2024-12-04" || def.To != "2025-01-02" || len(def.Items) != 3 {
		t.Fatalf("default range: %+v", def)
	}
	if want := (store.Usage{Records: 7, Bytes: 10, RemoteCalls: 1, WasmMillis: 3, Runs: 6}); def.Total != want {
		t.Errorf("total %+v, want %+v", def.Total, want)
	}
	dir := getJSON[UsageResponse](t, env, pTenantOwn, "/v1/tenants/acme/usage?connector=directory&from=2024-11-01&to=2025-01-01")
	if len(dir.Items) != 2 || dir.Total.Runs != 101 {
		t.Errorf("connector filter: %+v", dir)
	}
}
