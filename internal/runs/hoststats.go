package runs

import (
	"context"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/store"
)

var _ api.HostStats = (*Service)(nil)

// ConnectionStats gives the API the engine's view of a connection's
// remote (latency percentiles, rate-limit state); the connector argument
// is implied by the connection.
func (s *Service) ConnectionStats(ctx context.Context, t *store.Tenant, _ string, connection string) (api.ConnectionStats, error) {
	// A connection that is not active (disabled, in error) still has
	// latencies; only an active one has a module, hence a rate limiter.
	var st engine.ConnectionStats
	if conn, err := s.conns.Connection(ctx, t, connection); err == nil {
		st = s.eng.ConnectionStats(t.ID(), connection, conn.Module.Manifest)
	} else if ctx.Err() != nil {
		return api.ConnectionStats{}, ctx.Err()
	} else {
		st = s.eng.ConnectionStats(t.ID(), connection, nil)
	}
	// Dead letters waiting: the store's count, keys only.
	dlq, err := t.DLQDepth(ctx, connection)
	if err != nil {
		return api.ConnectionStats{}, err
	}
	return api.ConnectionStats{
		LatencyP50: st.LatencyP50, LatencyP95: st.LatencyP95,
		TokensLeft: st.TokensLeft, Last429: st.Last429, BlockedUntil: st.BlockedUntil,
		DLQItems: dlq,
	}, nil
}
