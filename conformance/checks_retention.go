package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/outbound"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/retention"
	"github.com/sluicehq/sluice/store"
)

// Tenants of privacy.retention's own runs.
const (
	TenantRetention = "certify-retention"
	TenantNoIndex   = "certify-noindex"
)

// checkDefaultWindow is the window privacy.retention applies when the
// manifest declares none: the check proves the host's mechanism.
const checkDefaultWindow = 24 * time.Hour

// checkRetention proves both halves of privacy.retention on the host:
// a synced connection whose objects are past their window is left with
// none after a sweep (with a purge receipt that verifies), and a run
// with persistent indexing off stores no object while its stream
// delivers every object the receipt counts.
func checkRetention(ctx context.Context, env *Env) Verdict {
	if v := retentionHonoured(ctx, env); v.Status != Pass {
		return v
	}
	v := noIndexHonoured(ctx, env)
	if v.Status != Pass {
		return v
	}
	return pass("objects past their window are purged with a signed purge receipt; with persistent indexing off no object is stored and the stream delivers every object", v.Evidence)
}

func retentionHonoured(ctx context.Context, env *Env) Verdict {
	m := env.Module.Manifest
	window := time.Duration(m.RetentionDays) * 24 * time.Hour
	if window == 0 {
		window = checkDefaultWindow
	}
	days := int(window / (24 * time.Hour))
	c, err := env.Conn(TenantRetention, nil)
	if err != nil {
		return fail(err.Error(), nil)
	}
	c.Retention = map[string]time.Duration{}
	overrides := map[string]int{}
	for _, ot := range m.ObjectTypes {
		c.Retention[ot.Name], overrides[ot.Name] = window, days
	}
	if err := c.Tenant.CreateConnection(ctx, store.Connection{ID: ConnID, Connector: m.ID, Version: m.Version, State: "active",
		RetentionDays: overrides, CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		return fail("record the connection: "+err.Error(), nil)
	}
	// Incremental, not full: a full snapshot would itself sweep what it
	// did not see, hiding an object the retention sweep failed to purge.
	if _, err := env.Sync(ctx, "retention", c, engine.RunOptions{}); err != nil {
		return fail("sync: "+err.Error(), nil)
	}
	stored, err := allObjects(ctx, c.Tenant)
	if err != nil || len(stored) == 0 {
		return failf("the sync stored %d objects (%v): nothing to expire", len(stored), err)
	}
	sw, err := retention.New(retention.Config{Store: env.Store, Signer: env.signer,
		Now:       func() time.Time { return time.Now().Add(window + time.Hour) },
		Manifests: func(context.Context, string, string) (*protocol.Manifest, error) { return m, nil }})
	if err != nil {
		return fail(err.Error(), nil)
	}
	rep, err := sw.Sweep(ctx)
	if err != nil {
		return fail("sweep: "+err.Error(), nil)
	}
	left, err := allObjects(ctx, c.Tenant)
	if err != nil {
		return fail(err.Error(), nil)
	}
	if len(left) > 0 {
		return failf("%d of %d objects are still stored past their %v retention window (first: %s)", len(left), len(stored), window, sourceKey(left[0]))
	}
	purged := 0
	for _, p := range rep.Purges {
		if p.Tenant != TenantRetention {
			continue
		}
		r, err := c.Tenant.Receipt(ctx, p.ReceiptID)
		if err != nil {
			return failf("purge receipt %s: %v", p.ReceiptID, err)
		}
		v, err := receipt.Verify(r.Envelope, env.Keys)
		if err != nil {
			return failf("purge receipt %s does not verify: %v", p.ReceiptID, err)
		}
		pred, err := v.Purge()
		if err != nil || pred.Count != int64(p.Count) {
			return failf("purge receipt %s: %v (count %d)", p.ReceiptID, err, pred.Count)
		}
		purged += p.Count
	}
	if purged != len(stored) {
		return failf("purge receipts account for %d of the %d purged objects", purged, len(stored))
	}
	return pass(fmt.Sprintf("%d objects purged after %v with %d purge receipts", purged, window, len(rep.Purges)), nil)
}

func noIndexHonoured(ctx context.Context, env *Env) Verdict {
	if env.Outbound == nil {
		return fail("the host has no outbound sink for no-persistent-indexing connections", nil)
	}
	c, err := env.Conn(TenantNoIndex, nil)
	if err != nil {
		return fail(err.Error(), nil)
	}
	c.NoIndex = true
	sub, err := env.Outbound.Subscribe(TenantNoIndex, ConnID)
	if err != nil {
		return fail(err.Error(), nil)
	}
	defer sub.Cancel()
	got := map[string]string{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case l := <-sub.C:
				var rec outbound.Record
				if json.Unmarshal(l, &rec) == nil {
					got[rec.EntityID] = rec.Digest
				}
			case <-sub.Done:
				return
			}
		}
	}()
	res, err := env.Sync(ctx, "no-persistent-indexing", c, engine.RunOptions{})
	sub.Cancel()
	<-done
	if err != nil {
		return fail("sync with persistent indexing off: "+err.Error(), nil)
	}
	stored, err := allObjects(ctx, c.Tenant)
	if err != nil {
		return fail(err.Error(), nil)
	}
	if len(stored) > 0 {
		return failf("persistent indexing is off, yet %d objects are stored (first: %s)", len(stored), sourceKey(stored[0]))
	}
	if _, err := c.Tenant.Tape(ctx, res.Run.ID); err == nil {
		return fail("persistent indexing is off, yet the run's tape (which holds the remote's answers) is stored", nil)
	}
	want := 0
	if err := c.Tenant.PayloadManifest(ctx, res.Run.ID, func(entity, digest string) error {
		want++
		if got[entity] != digest {
			return fmt.Errorf("object %s (digest %s) was not delivered to the stream", entity, digest)
		}
		return nil
	}); err != nil {
		return fail(err.Error(), nil)
	}
	if want == 0 {
		return fail("the run's payload manifest is empty: nothing was ingested", nil)
	}
	return pass(fmt.Sprintf("%d objects streamed, none stored", want), map[string]int{"streamed": len(got), "receipted": want})
}
