package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/webhooks"
)

// A connection deleted and created again under the same id inherits
// neither its endpoint nor its signing secret, schedules or pending
// events: the old secret stops verifying at once, although this process
// still caches its key, and the new endpoint answers only its own secret.
func TestRecreatedConnectionInheritsNoEndpoint(t *testing.T) {
	// No workers: accepted events wait in the inbox, as pending ones do.
	r := newRig(t, rigOptions{cfg: webhooks.Config{Workers: -1}})
	ctx := context.Background()
	old := r.endpoint()
	body := userEvent("evt_1", "u1", "Ada", "2025-01-02T10:00:00Z")
	if a := deliver(t, old.URL, signed(t, old.Secret, "m1", time.Now(), body), body); a.status != http.StatusAccepted {
		t.Fatalf("delivery before the delete: %d %s", a.status, a.body)
	}
	must(t, r.tenant.PutCheckSchedule(ctx, store.CheckSchedule{Connection: "dir", Check: "mfa_enforced", Every: time.Hour,
		NextAt: time.Now().Add(time.Hour), SetBy: "k-admin", UpdatedAt: time.Now()}))
	if len(r.inbox()) != 1 {
		t.Fatalf("inbox before the delete = %d events, want 1", len(r.inbox()))
	}

	prev, err := r.tenant.Connection(ctx, "dir")
	must(t, err)
	must(t, r.tenant.DeleteConnection(ctx, "dir"))
	prev.CreatedAt, prev.UpdatedAt = time.Now(), time.Now()
	must(t, r.tenant.CreateConnection(ctx, prev))

	if _, err := r.svc.Endpoint(ctx, r.tenant, "dir"); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("endpoint of the recreated connection: %v, want ErrNotFound", err)
	}
	if _, err := r.tenant.CheckSchedule(ctx, "dir", "mfa_enforced"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("check schedule of the recreated connection: %v, want ErrNotFound", err)
	}
	if n := len(r.inbox()); n != 0 {
		t.Errorf("inbox after the delete = %d events, want none", n)
	}

	cases := []struct {
		name   string
		url    func(api string) string
		secret func(fresh string) string
		status int
	}{
		{"old secret to the old hook", func(string) string { return old.URL }, func(string) string { return old.Secret }, http.StatusNotFound},
		{"old secret to the new hook", func(u string) string { return u }, func(string) string { return old.Secret }, http.StatusUnauthorized},
		{"new secret to the old hook", func(string) string { return old.URL }, func(s string) string { return s }, http.StatusNotFound},
		{"new secret to the new hook", func(u string) string { return u }, func(s string) string { return s }, http.StatusAccepted},
	}
	// The first case runs before the new endpoint exists, while the old
	// hook's keys are still in the intake's cache.
	if a := deliver(t, old.URL, signed(t, old.Secret, "m2", time.Now(), body), body); a.status != http.StatusNotFound {
		t.Fatalf("old secret to the old hook, keys cached: %d %s", a.status, a.body)
	}
	fresh := r.endpoint()
	if fresh.Hook == old.Hook {
		t.Fatalf("the recreated connection got the old hook %s", old.Hook)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := "m-" + string(rune('a'+i))
			a := deliver(t, c.url(fresh.URL), signed(t, c.secret(fresh.Secret), id, time.Now(), body), body)
			if a.status != c.status {
				t.Fatalf("status %d (%s), want %d", a.status, a.body, c.status)
			}
		})
	}
	if n := len(r.inbox()); n != 1 {
		t.Errorf("inbox = %d events, want only the new secret's delivery", n)
	}
	if got := r.counter("sluice_webhooks_rejected_total", "reason", "unknown_hook"); got < 1 {
		t.Errorf("unknown_hook rejections = %v", got)
	}
}
