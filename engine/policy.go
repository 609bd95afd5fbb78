package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
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
// type of streams and keeps the streams with at least one allowed type.
// The emit door of each call refuses the stream's refused types (see
// refusedTypes), so a refused type never reaches the store while the
// allowed types of the same stream still do. Every type refused is
// ErrPolicyRefused.
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
		if len(s.ObjectTypes)+len(s.EdgeTypes) == 0 || anyAllowed(res, s.Name) {
			kept = append(kept, s)
		}
	}
	if len(kept) == 0 {
		return nil, &res, fmt.Errorf("%w (decision %s)", ErrPolicyRefused, res.Decision.ID)
	}
	return kept, &res, nil
}

func anyAllowed(res policy.IngestResult, stream string) bool {
	for _, it := range res.Items {
		if it.Stream == stream && it.Allowed {
			return true
		}
	}
	return false
}

// refusedTypes lists, sorted, the types the run's ingest decision
// refused in stream, and those it allowed in no stream (an edge of
// another stream must not point at them); "" (a webhook's synthetic
// stream) lists those refused in any stream.
func (r *runner) refusedTypes(stream string) []string {
	if r.policy == nil {
		return nil
	}
	allowed := map[string]bool{}
	for _, it := range r.policy.Items {
		allowed[it.ObjectType] = allowed[it.ObjectType] || it.Allowed
	}
	var out []string
	for _, it := range r.policy.Items {
		here := stream == "" || stream == webhookStream || it.Stream == stream
		if !it.Allowed && (here || !allowed[it.ObjectType]) && !slices.Contains(out, it.ObjectType) {
			out = append(out, it.ObjectType)
		}
	}
	slices.Sort(out)
	return out
}

// decideAtStart records the ingest decision of a run that did not come
// from run (a webhook event, a live replay) over the streams it may
// write, so its emit door refuses what the policy refuses. Only a failed
// evaluation is an error; every type refused leaves every record to be
// rejected, and the receipt says so.
func (r *runner) decideAtStart(ctx context.Context, streams []protocol.Stream) error {
	_, res, err := r.e.decideIngest(ctx, r.c, streams, r.kind)
	if res == nil {
		return err
	}
	r.policy = res
	r.notePolicy()
	return nil
}

// noteRejections notes the records the emit door rejected as the run's
// errors. A policy refusal is not an error of the connector: notePolicy
// notes it once per type.
func (r *runner) noteRejections(rejs []protocol.Rejection) {
	for _, rej := range rejs {
		if strings.HasPrefix(rej.Reason, hostfns.ReasonPolicy+":") {
			continue
		}
		r.noteError(rejectionType(rej), rej.Reason)
		r.run.Counts.Errors++
	}
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
