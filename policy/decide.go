package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/store"
)

// IngestType is one type a run would store, with the stream carrying it.
type IngestType struct {
	Stream     string   `json:"stream"`
	ObjectType string   `json:"object_type"`
	Scopes     []string `json:"scopes"` // the stream's scopes
}

// IngestRequest is the input of one run's ingest decision.
type IngestRequest struct {
	Connector  string
	Connection string
	RunKind    string // "sync" or "backfill"
	Granted    []string
	Types      []IngestType
}

// IngestItem is the verdict on one type.
type IngestItem struct {
	IngestType
	Allowed bool
	Reason  string
}

// IngestResult is a run's recorded ingest decision and the verdict on
// each type.
type IngestResult struct {
	Decision Decision
	Policy   Policy
	Items    []IngestItem
}

// Allowed reports whether every type of stream was allowed.
func (r IngestResult) Allowed(stream string) bool {
	found := false
	for _, it := range r.Items {
		if it.Stream == stream {
			found = true
			if !it.Allowed {
				return false
			}
		}
	}
	return found
}

// DecideIngest evaluates t's ingest policy once per type of req and
// records one decision for the run: allow (every type), deny (none) or
// partial. A type whose evaluation fails is refused, with the error as
// its reason.
func (s *Service) DecideIngest(ctx context.Context, t *store.Tenant, req IngestRequest) (IngestResult, error) {
	p, prg, cerr := s.prepare(ctx, t, KindIngest)
	if infra(cerr) {
		return IngestResult{}, cerr
	}
	granted := sortedSet(req.Granted)
	types := make([]IngestType, len(req.Types))
	for i, it := range req.Types {
		types[i] = IngestType{Stream: it.Stream, ObjectType: it.ObjectType, Scopes: sortedSet(it.Scopes)}
	}
	res := IngestResult{Policy: p}
	allowed := 0
	var reasons []string
	for _, it := range types {
		vars := map[string]any{
			"tenant": t.ID(), "connector": req.Connector, "connection": req.Connection, "run_kind": req.RunKind,
			"stream": it.Stream, "object_type": it.ObjectType, "scopes": it.Scopes, "granted": granted,
		}
		o, err := s.evalOne(ctx, prg, cerr, vars)
		if ctx.Err() != nil {
			return IngestResult{}, ctx.Err()
		}
		item := IngestItem{IngestType: it, Allowed: err == nil && o.yes}
		switch {
		case err != nil:
			item.Reason = refusal(err)
		case o.reason != "":
			item.Reason = o.reason
		case !o.yes:
			item.Reason = "refused by the " + p.Source + " ingest policy"
		}
		line := fmt.Sprintf("%s %s/%s", verb(item.Allowed), it.Stream, it.ObjectType)
		if o.rule != "" {
			line += " [" + o.rule + "]"
		}
		if item.Reason != "" {
			line += ": " + item.Reason
		}
		reasons = append(reasons, line)
		if item.Allowed {
			allowed++
		}
		res.Items = append(res.Items, item)
	}
	result := ResultPartial
	switch allowed {
	case len(types):
		result = ResultAllow
	case 0:
		result = ResultDeny
	}
	input := map[string]any{
		"kind": KindIngest, "tenant": t.ID(), "connector": req.Connector, "connection": req.Connection,
		"run_kind": req.RunKind, "granted": granted, "types": types,
	}
	res.Decision = Decision{Kind: KindIngest, PolicyDigest: p.Digest, InputDigest: canonicalDigest(input),
		Result: result, Reasons: orEmpty(reasons)}
	if err := s.record(ctx, t, &res.Decision); err != nil {
		return IngestResult{}, err
	}
	return res, nil
}

func verb(ok bool) string {
	if ok {
		return ResultAllow
	}
	return ResultDeny
}

// ActionInput is the input of an action preflight decision.
type ActionInput struct {
	Connector, Connection, Action, Requester string
	Destructive, Inverse                     bool
	// Params is the action's JSON object (nil: none).
	Params                                   json.RawMessage
	Scopes, Granted                          []string
	Approvers, RequiredApprovals, TTLSeconds int64
}

// DecideAction evaluates t's action policy on in and records the
// decision (allow or deny).
func (s *Service) DecideAction(ctx context.Context, t *store.Tenant, in ActionInput) (Decision, error) {
	p, prg, cerr := s.prepare(ctx, t, KindAction)
	if infra(cerr) {
		return Decision{}, cerr
	}
	params := map[string]any{}
	if len(bytes.TrimSpace(in.Params)) > 0 && !bytes.Equal(bytes.TrimSpace(in.Params), []byte("null")) {
		if err := json.Unmarshal(in.Params, &params); err != nil {
			return Decision{}, fmt.Errorf("policy: action params: %w", err)
		}
	}
	vars := map[string]any{
		"tenant": t.ID(), "connector": in.Connector, "connection": in.Connection, "action": in.Action,
		"requester": in.Requester, "destructive": in.Destructive, "inverse": in.Inverse, "params": params,
		"scopes": sortedSet(in.Scopes), "granted": sortedSet(in.Granted), "approvers": in.Approvers,
		"required_approvals": in.RequiredApprovals, "ttl_seconds": in.TTLSeconds,
	}
	o, err := s.evalOne(ctx, prg, cerr, vars)
	if ctx.Err() != nil {
		return Decision{}, ctx.Err()
	}
	d := Decision{Kind: KindAction, PolicyDigest: p.Digest, InputDigest: canonicalDigest(withKind(KindAction, vars)), Result: ResultAllow}
	switch {
	case err != nil:
		d.Result, d.Reasons = ResultDeny, []string{refusal(err)}
	case !o.yes:
		d.Result = ResultDeny
		reason := o.reason
		if reason == "" {
			reason = fmt.Sprintf("action %q is refused by the %s action policy", in.Action, p.Source)
		}
		d.Reasons = []string{reason}
	case o.reason != "":
		d.Reasons = []string{o.reason}
	}
	if o.rule != "" {
		for i := range d.Reasons {
			d.Reasons[i] = "[" + o.rule + "] " + d.Reasons[i]
		}
	}
	d.Reasons = orEmpty(d.Reasons)
	if err := s.record(ctx, t, &d); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// RedactionInput is one field of an exported object, for a role.
type RedactionInput struct {
	Role, Connector, ObjectType, Field, PIIClass string
}

// Verdict is a redaction decision's meaning for the exporter.
type Verdict struct {
	Redact bool
	Rule   string
	Reason string
}

// DecideRedaction evaluates t's redaction policy on in and records the
// decision (redact or reveal). A failed evaluation redacts.
func (s *Service) DecideRedaction(ctx context.Context, t *store.Tenant, in RedactionInput) (Decision, Verdict, error) {
	p, prg, cerr := s.prepare(ctx, t, KindRedaction)
	if infra(cerr) {
		return Decision{}, Verdict{}, cerr
	}
	vars := redactionVars(t.ID(), in)
	o, err := s.evalOne(ctx, prg, cerr, vars)
	if ctx.Err() != nil {
		return Decision{}, Verdict{}, ctx.Err()
	}
	v := Verdict{Redact: err != nil || o.yes, Rule: o.rule, Reason: o.reason}
	if v.Rule == "" {
		v.Rule = "policy/" + p.Source + "-redaction"
	}
	switch {
	case err != nil:
		v.Reason = refusal(err)
	case v.Redact && v.Reason == "":
		v.Reason = fmt.Sprintf("field %s is not disclosed to role %s by the %s redaction policy", in.Field, in.Role, p.Source)
	}
	d := Decision{Kind: KindRedaction, PolicyDigest: p.Digest, InputDigest: RedactionInputDigest(t.ID(), in),
		Result: ResultReveal, Reasons: []string{}}
	if v.Redact {
		d.Result = ResultRedact
	}
	if v.Reason != "" {
		d.Reasons = []string{"[" + v.Rule + "] " + v.Reason}
	}
	if err := s.record(ctx, t, &d); err != nil {
		return Decision{}, Verdict{}, err
	}
	return d, v, nil
}

// RedactionInputDigest is the input digest of the redaction decision on
// in for tenant. It is exported so an offline verifier (package export)
// can check that a recorded decision is about the field it redacts
// without a second copy of the canonical form.
func RedactionInputDigest(tenant string, in RedactionInput) string {
	return canonicalDigest(withKind(KindRedaction, redactionVars(tenant, in)))
}

// redactionVars are the CEL variables of a redaction policy.
func redactionVars(tenant string, in RedactionInput) map[string]any {
	return map[string]any{
		"tenant": tenant, "role": in.Role, "connector": in.Connector, "object_type": in.ObjectType,
		"field": in.Field, "pii_class": in.PIIClass,
	}
}

func withKind(kind string, vars map[string]any) map[string]any {
	out := make(map[string]any, len(vars)+1)
	for k, v := range vars {
		out[k] = v
	}
	out["kind"] = kind
	return out
}

func sortedSet(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
