package webhooks_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/store"
)

// TestSandboxEventsThroughTheWasmConnector is the whole path: the
// sandbox remote signs its change events with the reference library and
// delivers each with duplicates and retries; the intake verifies and
// stores them; the directory connector's real Wasm webhook export turns
// them into objects. Every event is processed exactly once.
func TestSandboxEventsThroughTheWasmConnector(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Wasm connector")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	path, err := wasmbuild.Build(ctx, "connectors-wasm", "./directory")
	must(t, err)
	wasm, err := os.ReadFile(path)
	must(t, err)
	r := newRig(t, rigOptions{wasm: wasm})
	ep := r.endpoint()

	sb := sandbox.New(sandbox.Config{Users: 10})
	_, err = sb.Start("127.0.0.1:0")
	must(t, err)
	defer sb.Close()
	must(t, sb.Subscribe(ep.URL, ep.Secret, sandbox.Delivery{Sign: true, Duplicates: 2, Retries: 1}))

	u, _, err := sb.CreateUser(sandbox.NewUser{Email: "grace@example.com", Name: "Grace Hopper"}, "corr-1")
	must(t, err)
	_, _, err = sb.DeactivateUser(u.ID, "corr-2")
	must(t, err)
	// An event the connector does not know becomes a DLQ item.
	must(t, sb.Emit(sandbox.Event{ID: "evt_odd", Type: "planet.discovered", OccurredAt: time.Now().UTC(), Data: json.RawMessage(`{}`)}))
	must(t, sb.WaitDeliveries(ctx))
	r.waitIdle()

	st := sb.Deliveries()
	if st.Delivered != 3 || st.Failed != 0 || st.Duplicates == 0 || st.Retries == 0 {
		t.Fatalf("sandbox deliveries = %+v", st)
	}
	now, err := sb.User(u.ID)
	must(t, err)
	got, ok := r.users()[u.ID]
	if !ok || !strings.Contains(string(got.Data), `"status":"`+now.Status+`"`) || now.Status == u.Status {
		t.Fatalf("stored user = %s, want the remote's current status %q", got.Data, now.Status)
	}
	runs, err := r.tenant.Runs(ctx, "dir", 100)
	must(t, err)
	if len(runs) != 3 {
		t.Fatalf("runs = %d, want one per event (3)", len(runs))
	}
	var failed store.Run
	for _, run := range runs {
		if run.State == "failed" {
			failed = run
		}
	}
	items, _, err := r.tenant.DLQItems(ctx, "dir", "", 10)
	must(t, err)
	if len(items) != 1 || items[0].ErrorType != "unsupported_event" || items[0].ID != failed.ID {
		t.Fatalf("dlq = %+v, failed run %s", items, failed.ID)
	}
	if got := r.counter("sluice_webhooks_accepted_total"); got != 3 {
		t.Fatalf("accepted = %v, want 3 (duplicates and retries counted apart)", got)
	}
	if got := r.counter("sluice_webhooks_duplicates_total", "stage", "delivery"); got != float64(st.Attempts-3) {
		t.Fatalf("duplicates = %v, want %d", got, st.Attempts-3)
	}
	if len(r.inbox()) != 0 {
		t.Fatal("inbox not empty")
	}
}
