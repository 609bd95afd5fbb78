package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

// `sluice serve` wires the webhook intake: an endpoint made through the
// API receives the sandbox's signed events, the Wasm connector processes
// them, and the objects are readable through the API; an event it cannot
// handle becomes a dead-letter item that links the connector's runbook.
func TestServeReceivesSignedWebhooks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Wasm connector")
	}
	module, manifest := directoryBuild(t)
	sb := sandbox.New(sandbox.Config{Users: 10})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	data := t.TempDir()
	keyFile := filepath.Join(data, "admin.key")
	s := startServe(t, "--data", data, "--allow-private", "--admin-key-file", keyFile)
	key := adminKey(t, keyFile)
	upload(t, s.base, key, readBundle(t, module, manifest))
	body, _ := json.Marshal(map[string]any{"id": "dir", "connector": "directory", "version": "1.0.0",
		"scopes": []string{"users:read", "groups:read"}, "config": map[string]string{"base_url": base},
		"credentials": map[string]string{"client_id": sandbox.DefaultClientID, "client_secret": sandbox.DefaultClientSecret}})
	if code, b := call(t, "POST", s.base+"/v1/tenants/acme/connections", key, "application/json", body); code != 201 {
		t.Fatalf("create connection: %d %s", code, b)
	}
	code, b := call(t, "POST", s.base+"/v1/tenants/acme/connections/dir/webhook", key, "", nil)
	var ep struct{ URL, Secret string }
	if code != 201 || json.Unmarshal(b, &ep) != nil || !strings.HasPrefix(ep.Secret, "whsec_") {
		t.Fatalf("create webhook endpoint: %d %s", code, b)
	}
	if err := sb.Subscribe(ep.URL, ep.Secret, sandbox.Delivery{Sign: true, Duplicates: 1}); err != nil {
		t.Fatal(err)
	}
	u, _, err := sb.CreateUser(sandbox.NewUser{Email: "ada@example.com", Name: "Ada Lovelace"}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sb.WaitDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		code, b := call(t, "GET", s.base+"/v1/tenants/acme/objects?connection=dir&type=user", key, "", nil)
		if code == 200 && strings.Contains(string(b), `"source_id":"`+u.ID+`"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("user %s never stored: %d %s", u.ID, code, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, b := call(t, "GET", s.base+"/metrics", "", "", nil); code != 200 || !strings.Contains(string(b), "sluice_webhooks_accepted_total 1") ||
		!strings.Contains(string(b), "sluice_webhook_queue_depth") {
		t.Fatalf("webhook metrics not served: %d", code)
	}

	// An event type the connector does not handle is dead-lettered, and
	// the item names the runbook the bundle shipped for it, served as is.
	if err := sb.Emit(sandbox.Event{Type: "group.created"}); err != nil {
		t.Fatal(err)
	}
	var item struct {
		ErrorType string `json:"error_type"`
		Runbook   string `json:"runbook"`
	}
	for deadline := time.Now().Add(time.Minute); item.ErrorType == ""; time.Sleep(50 * time.Millisecond) {
		code, b := call(t, "GET", s.base+"/v1/tenants/acme/connections/dir/dlq", key, "", nil)
		var page struct{ Items []json.RawMessage }
		if code == 200 && json.Unmarshal(b, &page) == nil && len(page.Items) > 0 {
			_ = json.Unmarshal(page.Items[0], &item)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the unsupported event was never dead-lettered: %d %s", code, b)
		}
	}
	if item.ErrorType != "unsupported_event" || item.Runbook != "/v1/connectors/directory/versions/1.0.0/runbooks/unsupported_event" {
		t.Fatalf("dead-letter item %+v, want error type unsupported_event naming the connector's runbook", item)
	}
	want := readFile(t, filepath.Join(filepath.Dir(manifest), "runbooks", "unsupported_event.md"))
	if code, b := call(t, "GET", s.base+item.Runbook, key, "", nil); code != 200 || string(b) != string(want) {
		t.Fatalf("GET %s = %d %q, want the shipped runbook", item.Runbook, code, b)
	}
}
