package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/actions"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
)

// destructiveName matches action names that undo, remove or lock
// something: such an action must be declared destructive.
var destructiveName = regexp.MustCompile(`(?i)(delete|remove|revoke|deactivate|suspend|disable|destroy|purge|wipe|terminate)`)

func actionChecks() []Check {
	return []Check{{
		ID: "security.action-approval", Gate: GateSecurity, Level: Silver, Needs: []string{"correctness.ingest"}, Live: true,
		Title:  "Actions run, and destructive ones wait for approval",
		Proves: "Every declared action runs against the sample tenant through the actions service; each destructive one stays pending with no remote change until a second person approves it, then runs once; actions whose names say they remove or lock something are declared destructive.",
		Fix:    "Declare destructive: true on every action that removes, revokes or locks; give every action a params schema and return the remote's change ids.",
		Run:    checkActions,
	}, {
		ID: "security.verify-read-only", Gate: GateSecurity, Level: Gold, Needs: []string{"static.imports"}, Live: true,
		Title:  "Verify checks only read",
		Proves: "Every declared check runs with a read-only network door and tries no method but GET or HEAD: the host refused nothing and the remote saw no write.",
		Fix:    "Make verify() read only (GET/HEAD); a control's evidence never needs a write.",
		Run:    checkVerifyReadOnly,
	}, {
		ID: "correctness.verify-checks", Gate: GateCorrectness, Level: Gold, Needs: []string{"security.verify-read-only"}, Live: true,
		Title:  "Verify checks answer pass or fail with evidence",
		Proves: "The connector declares at least one check, and each answers pass or fail (not error) with evidence against the compliant sample tenant.",
		Fix:    "Export verify() for every declared check; return pass or fail with the evidence you read, error only when the remote cannot answer.",
		Run:    checkVerifyAnswers,
	}}
}

// verifyRun is the outcome of every declared check, run once.
type verifyRun struct {
	results map[string]*engine.VerifyResult
	errs    map[string]error
	posts   int64
	err     error
}

func (e *Env) verifyAll(ctx context.Context) *verifyRun {
	var out *verifyRun
	e.verifyOnce.Do(func() {
		vr := &verifyRun{results: map[string]*engine.VerifyResult{}, errs: map[string]error{}}
		e.mu.Lock()
		e.verify = vr
		e.mu.Unlock()
		remote, err := e.NewSandbox(nil)
		if err != nil {
			vr.err = err
			return
		}
		c, err := e.Conn("certify-verify", remote)
		if err != nil {
			vr.err = err
			return
		}
		for _, ch := range e.Manifest.Checks {
			res, err := e.Engine.Verify(ctx, c, ch.Name, nil, "")
			vr.results[ch.Name], vr.errs[ch.Name] = res, err
			if res != nil {
				e.ObserveCall("verify-"+ch.Name, c.Tenant.ID(), res.Tape, err)
				if res.Refused > 0 {
					// The read-only door's refusals are this check's to report.
					e.Attribute("security.verify-read-only", "verify-"+ch.Name)
				}
				if res.Response.Status == protocol.VerifyPass || res.Response.Status == protocol.VerifyFail {
					e.Exercise(ch.Scopes...)
				}
			}
		}
		st, err := remote.Stats(ctx)
		if err != nil {
			vr.err = err
			return
		}
		for m, n := range st.Methods {
			if m != "GET" && m != "HEAD" {
				vr.posts += n
			}
		}
	})
	e.mu.Lock()
	out = e.verify
	e.mu.Unlock()
	return out
}

func checkVerifyReadOnly(ctx context.Context, env *Env) Verdict {
	if len(env.Manifest.Checks) == 0 {
		return pass("the connector declares no checks: nothing to check", nil)
	}
	vr := env.verifyAll(ctx)
	if vr.err != nil {
		return fail(vr.err.Error(), nil)
	}
	ev := map[string]any{}
	for name, res := range vr.results {
		if res != nil {
			ev[name] = map[string]any{"status": res.Response.Status, "refused": res.Refused, "error_type": res.ErrorType}
		}
		if res != nil && res.Refused > 0 {
			return fail(fmt.Sprintf("check %s tried %d requests the read-only door refused (%s)", name, res.Refused, res.ErrorType), ev)
		}
	}
	if vr.posts > 0 {
		return fail(fmt.Sprintf("the remote saw %d non-GET/HEAD requests during verify", vr.posts), ev)
	}
	return pass(fmt.Sprintf("%d checks ran read-only", len(env.Manifest.Checks)), ev)
}

func checkVerifyAnswers(ctx context.Context, env *Env) Verdict {
	if len(env.Manifest.Checks) == 0 {
		return fail("the connector declares no checks; Gold certifies verify checks", nil)
	}
	vr := env.verifyAll(ctx)
	ev := map[string]any{}
	var bad []string
	for _, ch := range env.Manifest.Checks {
		res, err := vr.results[ch.Name], vr.errs[ch.Name]
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", ch.Name, err))
		case res.Response.Status != protocol.VerifyPass && res.Response.Status != protocol.VerifyFail:
			bad = append(bad, fmt.Sprintf("%s: %s (%s)", ch.Name, res.Response.Status, res.ErrorType))
		case len(res.Response.Evidence) == 0:
			bad = append(bad, ch.Name+": no evidence")
		}
		if res != nil {
			ev[ch.Name] = res.Response
		}
	}
	if len(bad) > 0 {
		return fail("checks that did not answer pass or fail with evidence: "+strings.Join(bad, "; "), ev)
	}
	return pass(fmt.Sprintf("%d checks answered with evidence", len(env.Manifest.Checks)), ev)
}

// connLookup gives the actions service the suite's connection.
type connLookup struct {
	env    *Env
	remote *Remote
}

func (l connLookup) Connection(_ context.Context, t *store.Tenant, _ string) (engine.Connection, error) {
	return l.env.Conn(t.ID(), l.remote)
}

func checkActions(ctx context.Context, env *Env) Verdict {
	m := env.Manifest
	if len(m.Actions) == 0 {
		return fail("the connector declares no actions; Silver certifies actions", nil)
	}
	var misdeclared []string
	for _, a := range m.Actions {
		if !a.Destructive && destructiveName.MatchString(a.Name) {
			misdeclared = append(misdeclared, a.Name)
		}
	}
	if len(misdeclared) > 0 {
		return fail("actions whose names say they remove or lock something are not declared destructive: "+strings.Join(misdeclared, ", "), misdeclared)
	}
	remote, err := env.NewSandbox(nil)
	if err != nil {
		return fail(err.Error(), nil)
	}
	svc, err := actions.New(actions.Config{Store: env.Store, Engine: env.Engine, Connections: connLookup{env, remote}, Signer: env.signer})
	if err != nil {
		return fail(err.Error(), nil)
	}
	t, err := env.Tenant("certify-actions")
	if err != nil {
		return fail(err.Error(), nil)
	}
	ev := map[string]any{}
	// Destructive actions last: they may undo what the others made.
	ordered := slices.Clone(m.Actions)
	slices.SortStableFunc(ordered, func(a, b protocol.Action) int { return boolInt(a.Destructive) - boolInt(b.Destructive) })
	for _, a := range ordered {
		params, err := sampleParams(ctx, env, a.Name)
		if err != nil {
			return fail(fmt.Sprintf("action %s: %v", a.Name, err), ev)
		}
		before := len(remote.Server().Changes())
		run, _, err := svc.Submit(ctx, t, ConnID, actions.Request{Action: a.Name, Params: params, Requester: "certify-requester"})
		if err != nil {
			return fail(fmt.Sprintf("action %s: %v", a.Name, err), ev)
		}
		if a.Destructive {
			if run.State != store.ActionPendingApproval {
				return fail(fmt.Sprintf("destructive action %s did not wait for approval (state %s)", a.Name, run.State), ev)
			}
			if n := len(remote.Server().Changes()); n != before {
				return fail(fmt.Sprintf("destructive action %s changed the remote before approval", a.Name), ev)
			}
			if run, err = svc.Approve(ctx, t, ConnID, run.ID, "certify-approver"); err != nil {
				return fail(fmt.Sprintf("approve %s: %v", a.Name, err), ev)
			}
		}
		ev[a.Name] = map[string]any{"state": run.State, "remote_changes": run.RemoteChanges, "destructive": a.Destructive}
		if run.State != store.ActionSucceeded {
			msg := ""
			if run.Error != nil {
				msg = run.Error.Type + ": " + run.Error.Message
			}
			return fail(fmt.Sprintf("action %s ended %s %s", a.Name, run.State, msg), ev)
		}
		env.Exercise(a.Scopes...)
	}
	return pass(fmt.Sprintf("%d actions ran; destructive ones waited for approval", len(m.Actions)), ev)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// firstSafeAction names a declared non-destructive action, if any.
func firstSafeAction(env *Env) string {
	for _, a := range env.Manifest.Actions {
		if !a.Destructive {
			return a.Name
		}
	}
	return ""
}

// sampleParams builds parameters for an action from its params schema:
// each required property (and optional strings are left out); a
// property named T_id takes the source id of a stored object of type T
// from the baseline, an email a fresh address, other strings a label.
func sampleParams(ctx context.Context, env *Env, action string) (json.RawMessage, error) {
	i := slices.IndexFunc(env.Manifest.Actions, func(a protocol.Action) bool { return a.Name == action })
	if i < 0 {
		return nil, fmt.Errorf("no action %q", action)
	}
	var schema struct {
		Required   []string                  `json:"required"`
		Properties map[string]map[string]any `json:"properties"`
	}
	if raw := env.Manifest.Actions[i].Params; len(raw) > 0 {
		if err := json.Unmarshal(raw, &schema); err != nil {
			return nil, fmt.Errorf("params schema: %w", err)
		}
	}
	out := map[string]any{}
	for _, name := range schema.Required {
		prop := schema.Properties[name]
		switch {
		case strings.HasSuffix(name, "_id"):
			id, err := sampleSourceID(ctx, env, strings.TrimSuffix(name, "_id"))
			if err != nil {
				return nil, fmt.Errorf("param %s: %w", name, err)
			}
			out[name] = id
		case prop["format"] == "email" || strings.Contains(name, "email"):
			out[name] = "certify+" + randomHex(4) + "@example.com"
		case prop["type"] == "integer" || prop["type"] == "number":
			out[name] = 1
		case prop["type"] == "boolean":
			out[name] = true
		default:
			out[name] = "Certify " + randomHex(3)
		}
	}
	return json.Marshal(out)
}

func sampleSourceID(ctx context.Context, env *Env, typ string) (string, error) {
	b := env.Baseline(ctx)
	if b.A.Tenant == nil {
		return "", fmt.Errorf("no baseline data")
	}
	objs, _, err := b.A.Tenant.Objects(ctx, store.ListOptions{Connection: ConnID, Type: typ, Limit: 1})
	if err != nil {
		return "", err
	}
	if len(objs) == 0 {
		return "", fmt.Errorf("no stored object of type %q to take an id from", typ)
	}
	return objs[0].SourceID, nil
}
