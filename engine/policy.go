package engine

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// Policies decides, under the tenant's ingest policy, which types an
// ingest run may store, and records the decision (*policy.Service
// implements it). A nil Config.Policies is policy.Builtin(): the built-in
// defaults decide and decisions are still recorded.
type Policies interface {
	DecideIngest(ctx context.Context, t *store.Tenant, req policy.IngestRequest) (policy.IngestResult, error)
}

var _ Policies = (*policy.Service)(nil)

// policies returns the configured Policies or the built-in defaults.
func (e *Engine) policies() Policies {
	if e.cfg.Policies != nil {
		return e.cfg.Policies
	}
	return policy.Builtin()
}

// decideIngest evaluates the ingest policy for every object and edge
// type of streams and keeps the streams whose every type is allowed: a
// refused type never reaches the emit door, so it never reaches the
// store. A stream mixing allowed and refused types is skipped whole (the
// emit door filters by stream, not by type; the decision's reasons say
// which type refused it). Every stream refused is ErrPolicyRefused.
func (e *Engine) decideIngest(ctx context.Context, c Connection, streams []protocol.Stream, kind string) ([]protocol.Stream, *policy.IngestResult, error) {
	req := policy.IngestRequest{Connector: c.Module.Manifest.ID, Connection: c.ID, RunKind: kind, Granted: c.Scopes}
	for _, s := range streams {
		for _, t := range append(append([]string{}, s.ObjectTypes...), s.EdgeTypes...) {
			req.Types = append(req.Types, policy.IngestType{Stream: s.Name, ObjectType: t, Scopes: s.Scopes})
		}
	}
	res, err := e.policies().DecideIngest(ctx, c.Tenant, req)
	if err != nil {
		return nil, nil, fmt.Errorf("engine: ingest policy: %w", err)
	}
	var kept []protocol.Stream
	for _, s := range streams {
		if len(s.ObjectTypes)+len(s.EdgeTypes) == 0 || res.Allowed(s.Name) {
			kept = append(kept, s)
		}
	}
	if len(kept) == 0 {
		return nil, &res, fmt.Errorf("%w (decision %s)", ErrPolicyRefused, res.Decision.ID)
	}
	return kept, &res, nil
}

// notePolicy notes each refused type in the run's errors (as a note, not
// an error count), once per run.
func (r *runner) notePolicy() {
	if r.policy == nil || r.resumed {
		return
	}
	for _, it := range r.policy.Items {
		if !it.Allowed {
			r.noteError("policy_refused", fmt.Sprintf("type %s of stream %s refused by the ingest policy (decision %s)",
				it.ObjectType, it.Stream, r.policy.Decision.ID))
		}
	}
}

// decisionRef is the receipt's reference to the run's ingest decision.
// Runs that did not decide at start (webhook events, live replays)
// decide here over the streams they could write, so their receipt
// references a recorded decision too; false if that fails, and the
// receipt keeps the interim reference.
func (r *runner) decisionRef(ctx context.Context) (receipt.PolicyRef, bool) {
	if r.policy == nil {
		streams := r.streams
		if len(streams) == 0 {
			var err error
			if streams, err = permittedStreams(r.c.Module.Manifest, r.c.Scopes, nil, KindSync); err != nil {
				return receipt.PolicyRef{}, false
			}
		}
		_, res, err := r.e.decideIngest(ctx, r.c, streams, r.kind)
		if res == nil || (err != nil && res.Decision.ID == "") {
			return receipt.PolicyRef{}, false
		}
		r.policy = res
	}
	d := r.policy.Decision
	allowed := 0
	for _, it := range r.policy.Items {
		if it.Allowed {
			allowed++
		}
	}
	return receipt.PolicyRef{
		ID: d.ID,
		Rule: fmt.Sprintf("%s ingest policy (CEL): %s, %d of %d types allowed",
			r.policy.Policy.Source, d.Result, allowed, len(r.policy.Items)),
		Digest: d.PolicyDigest,
	}, true
}
