package actions

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/store"
)

// Policies evaluates the tenant's CEL action policy and records the
// decision (*policy.Service implements it).
type Policies interface {
	DecideAction(ctx context.Context, t *store.Tenant, in policy.ActionInput) (policy.Decision, error)
}

var _ Policies = (*policy.Service)(nil)

// policyPreflight adds the tenant's CEL action policy to run's preflight: the
// decision is recorded and named in the preflight (and so in the
// receipt), and a deny refuses the run with the policy's reasons. It
// runs after the built-in checks (scopes, the tenant's denied list), so
// a policy can only refuse more, never allow what they refuse.
func (s *Service) policyPreflight(ctx context.Context, t *store.Tenant, conn engine.Connection, act protocol.Action, run *store.ActionRun) error {
	pols := s.cfg.Policies
	if pols == nil {
		pols = policy.Builtin()
	}
	d, err := pols.DecideAction(ctx, t, policy.ActionInput{
		Connector: conn.Module.Manifest.ID, Connection: conn.ID, Action: act.Name, Requester: run.Requester,
		Destructive: act.Destructive, Inverse: run.InverseOf != "", Params: run.Params,
		Scopes: act.Scopes, Granted: conn.Scopes, Approvers: int64(len(run.Approvals)),
		RequiredApprovals: int64(run.Preflight.RequiredApprovals), TTLSeconds: int64(run.TTL / time.Second),
	})
	if err != nil {
		return fmt.Errorf("actions: action policy: %w", err)
	}
	run.Preflight.DecisionID = d.ID
	if d.Result != policy.ResultAllow {
		for _, r := range d.Reasons {
			run.Preflight.Reasons = append(run.Preflight.Reasons, fmt.Sprintf("action policy decision %s: %s", d.ID, r))
		}
		if len(d.Reasons) == 0 {
			run.Preflight.Reasons = append(run.Preflight.Reasons, "refused by the action policy (decision "+d.ID+")")
		}
		run.Preflight.Allowed = false
	}
	return nil
}
