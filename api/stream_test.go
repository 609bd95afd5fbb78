package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice/outbound"
	"github.com/sluicehq/sluice/store"
)

// GET …/stream delivers, as NDJSON, what runs of the connection hand the
// outbound sink while the request is open.
func TestStreamDeliversNDJSON(t *testing.T) {
	env := newEnv(t)
	hub := outbound.New(outbound.Config{})
	env.srv.streams = hub
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.url+"/v1/tenants/acme/connections/crm/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+env.keys[pTenantOwn])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for hub.Subscribers("acme", "crm") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	objs := []store.Object{
		{EntityID: store.EntityID("acme", "crm", "user", "u1"), Type: "user", SourceID: "u1", Digest: "d1", Data: json.RawMessage(`{"name":"Ada"}`)},
		{EntityID: store.EntityID("acme", "crm", "user", "u2"), Type: "user", SourceID: "u2", Digest: "d2", Data: json.RawMessage(`{"name":"Alan"}`)},
	}
	if err := hub.Deliver(ctx, "acme", "crm", "run-1", objs); err != nil {
		t.Fatal(err)
	}
	// Another connection's objects never reach this stream.
	if err := hub.Deliver(ctx, "acme", "other", "run-2", objs[:1]); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	var got []outbound.Record
	for len(got) < 2 && sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue // keep-alive
		}
		var rec outbound.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, rec)
	}
	if len(got) != 2 || got[0].SourceID != "u1" || got[1].SourceID != "u2" || got[0].Connection != "crm" || string(got[1].Data) != `{"name":"Alan"}` {
		t.Fatalf("records %+v", got)
	}
}

func TestStreamRefusals(t *testing.T) {
	env := newEnv(t)
	path := "/v1/tenants/acme/connections/crm/stream"
	if resp, _ := env.do(t, pTenantOwn, http.MethodGet, path, "", nil); resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("without a sink: %d, want 501", resp.StatusCode)
	}
	env.srv.streams = outbound.New(outbound.Config{})
	if resp, _ := env.do(t, pTenantOther, http.MethodGet, path, "", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("other tenant: %d, want 403", resp.StatusCode)
	}
	resp, b := env.do(t, pTenantOwn, http.MethodGet, path+"?timeout=forever", "", nil)
	if p := decodeProblem(t, resp, b); resp.StatusCode != http.StatusUnprocessableEntity || len(p.Errors) == 0 || p.Errors[0].Field != "query.timeout" {
		t.Errorf("bad timeout: %d %+v", resp.StatusCode, p)
	}
	if resp, b := env.do(t, pTenantOwn, http.MethodGet, path+"?timeout=10ms", "", nil); resp.StatusCode != http.StatusOK || len(b) != 0 {
		t.Errorf("timeout=10ms: %d %q, want an empty 200", resp.StatusCode, b)
	}
}
