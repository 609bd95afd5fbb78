package conformance_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/conformance"
	"github.com/sluicehq/sluice/outbound"
)

// privacy.retention passes on the directory example and fails on a host
// that keeps an object past its window, stores objects with persistent
// indexing off, or whose stream loses objects.
func TestRetentionCheck(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs syncs")
	}
	tg := target(t, "directory")
	const id = "privacy.retention"
	t.Run("directory passes", func(t *testing.T) {
		t.Parallel()
		if r := verdictOf(t, tg, id); r.Status != conformance.Pass {
			t.Fatalf("%s: %s", r.Status, r.Reason)
		}
	})
	for _, tc := range []struct {
		name   string
		tamper func(ctx context.Context, env *conformance.Env) error
		reason string
	}{
		{"object kept past its window", func(ctx context.Context, env *conformance.Env) error {
			return plant(ctx, env, conformance.TenantRetention, "planted-old", `{"id":"old"}`, true)
		}, "still stored past"},
		{"object stored with indexing off", func(ctx context.Context, env *conformance.Env) error {
			return plant(ctx, env, conformance.TenantNoIndex, "planted-kept", `{"id":"kept"}`, true)
		}, "persistent indexing is off, yet"},
		{"stream loses objects", func(_ context.Context, env *conformance.Env) error {
			env.Outbound = outbound.New(outbound.Config{}) // not the engine's sink
			return nil
		}, "was not delivered to the stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := verdictOf(t, tg, id, withTamper(id, tc.tamper))
			if r.Status != conformance.Fail || !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("%s: %q, want a failure mentioning %q", r.Status, r.Reason, tc.reason)
			}
		})
	}
}
