package engine

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/store"
)

// Outbound is the outbound sink of no-persistent-indexing connections
// (package outbound implements it): Deliver gets each page's objects,
// allow-list applied and digested, before the page's digests, lineage
// and cursor commit, so delivery is at least once.
type Outbound interface {
	Deliver(ctx context.Context, tenant, connection, runID string, objs []store.Object) error
}

// outbound hands a page's objects to the sink and strips the page down to
// what a no-persistent-indexing connection keeps: digests (the payload
// manifest the receipt signs), lineage, checkpoint and run. Edges and
// deletions have no stored objects to refer to and are not kept. The
// run's tapes and dead-letter tapes are not stored either (finish.go,
// deadletter.go): their HTTP exchanges carry the remote's objects.
func (r *runner) outbound(ctx context.Context, pg *store.Page) error {
	if r.e.cfg.Outbound == nil {
		return ErrNoOutbound
	}
	if err := r.e.cfg.Outbound.Deliver(ctx, r.c.Tenant.ID(), r.c.ID, r.run.ID, pg.Objects); err != nil {
		return fmt.Errorf("deliver to the outbound sink: %w", err)
	}
	pg.NoIndex = true
	return nil
}
