package cli

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

// A connection's health turns degraded under a 429 storm, failing after
// repeated errors, and back to ok once the remote recovers and its dead
// letters are replayed.
func TestServeHealthFollowsTheRemote(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Wasm connector")
	}
	module, manifest := directoryBuild(t)
	sb := sandbox.New(sandbox.Config{Users: 20})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	data := t.TempDir()
	keyFile := filepath.Join(data, "admin.key")
	const window = 2 * time.Second
	s := startServe(t, "--data", data, "--allow-private", "--admin-key-file", keyFile, "--health-rate-limit-window", window.String())
	key := adminKey(t, keyFile)
	upload(t, s.base, key, readBundle(t, module, manifest))
	conn := s.base + "/v1/tenants/acme/connections/dir"
	body, _ := json.Marshal(map[string]any{"id": "dir", "connector": "directory", "version": "1.0.0",
		"scopes": []string{"users:read", "groups:read"}, "config": map[string]string{"base_url": base},
		"credentials": map[string]string{"client_id": sandbox.DefaultClientID, "client_secret": sandbox.DefaultClientSecret}})
	if code, b := call(t, "POST", s.base+"/v1/tenants/acme/connections", key, "application/json", body); code != 201 {
		t.Fatalf("create connection: %d %s", code, b)
	}
	type reason struct{ Code, Status, Runbook string }
	health := func() (string, []reason) {
		t.Helper()
		code, b := call(t, "GET", conn+"/health", key, "", nil)
		var h struct {
			Status  string
			Reasons []reason
		}
		if code != 200 || json.Unmarshal(b, &h) != nil {
			t.Fatalf("health: %d %s", code, b)
		}
		return h.Status, h.Reasons
	}
	has := func(rs []reason, code string) bool {
		for _, r := range rs {
			if r.Code == code && r.Runbook != "" {
				return true
			}
		}
		return false
	}

	if state := syncAndWait(t, conn, key); state != "succeeded" {
		t.Fatalf("first sync: %s", state)
	}
	if st, rs := health(); st != "ok" {
		t.Fatalf("after a good sync: %s %+v", st, rs)
	}

	// A 429 storm: the sync waits out Retry-After and succeeds, and the
	// connection is degraded while the 429 is recent.
	if err := sb.SetFaults(sandbox.Faults{RateLimitStorm: 3, RetryAfter: time.Second}); err != nil {
		t.Fatal(err)
	}
	if state := syncAndWait(t, conn, key); state != "succeeded" {
		t.Fatalf("sync through a 429 storm: %s", state)
	}
	if st, rs := health(); st != "degraded" || !has(rs, "rate_limited") {
		t.Fatalf("after a 429 storm: %s %+v", st, rs)
	}

	// Repeated errors: three failed runs in a row make it failing.
	if err := sb.SetFaults(sandbox.Faults{ErrorRate: 1, PathPrefix: "/api/v1/users"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if state := syncAndWait(t, conn, key); state != "failed" {
			t.Fatalf("sync %d against a failing remote: %s", i, state)
		}
	}
	if st, rs := health(); st != "failing" || !has(rs, "dead_letters") {
		t.Fatalf("after three failed runs: %s %+v", st, rs)
	}

	// Recovery: a good sync, the dead letters replayed live, the 429
	// window passed.
	if err := sb.SetFaults(sandbox.Faults{}); err != nil {
		t.Fatal(err)
	}
	if state := syncAndWait(t, conn, key); state != "succeeded" {
		t.Fatalf("sync after recovery: %s", state)
	}
	code, b := call(t, "GET", conn+"/dlq", key, "", nil)
	var items struct{ Items []struct{ Href string } }
	if code != 200 || json.Unmarshal(b, &items) != nil || len(items.Items) == 0 {
		t.Fatalf("dlq: %d %s", code, b)
	}
	for _, it := range items.Items {
		if code, b := call(t, "POST", s.base+it.Href+"/replay", key, "application/json", []byte(`{"mode":"live"}`)); code != 200 {
			t.Fatalf("replay %s: %d %s", it.Href, code, b)
		}
	}
	time.Sleep(window)
	if st, rs := health(); st != "ok" {
		t.Fatalf("after recovery: %s %+v", st, rs)
	}
}
