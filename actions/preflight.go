package actions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gowebpki/jcs"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// preflightRule is the rule the preflight applies, as receipts cite it.
const preflightRule = "action allowed: declared by the manifest of this module digest, every scope of the action " +
	"(and of its inverse, for a TTL grant) granted to the connection, not denied by the tenant's policy; " +
	"destructive actions need the policy's number of approvals by principals other than the requester"

// preflight decides whether an action may run on a connection under the
// tenant's policy. An inverse run at a grant's expiry needs no approval:
// the grant's approvers approved it together with its TTL.
func preflight(conn engine.Connection, act protocol.Action, pol store.ActionPolicy, ttl time.Duration, inverse bool) store.Preflight {
	m := conn.Module.Manifest
	granted := slices.Clone(conn.Scopes)
	sort.Strings(granted)
	required := slices.Clone(act.Scopes)
	sort.Strings(required)
	pf := store.Preflight{RequiredScopes: required, GrantedScopes: granted}
	if pf.RequiredScopes == nil {
		pf.RequiredScopes = []string{}
	}
	if pf.GrantedScopes == nil {
		pf.GrantedScopes = []string{}
	}
	for _, s := range required {
		if !slices.Contains(granted, s) {
			pf.Reasons = append(pf.Reasons, fmt.Sprintf("scope %q is not granted to the connection", s))
		}
	}
	if slices.Contains(pol.Denied, act.Name) {
		pf.Reasons = append(pf.Reasons, fmt.Sprintf("action %q is denied by the tenant's action policy", act.Name))
	}
	if ttl > 0 {
		if i := slices.IndexFunc(m.Actions, func(a protocol.Action) bool { return a.Name == act.Inverse }); i >= 0 {
			for _, s := range m.Actions[i].Scopes {
				if !slices.Contains(granted, s) {
					pf.Reasons = append(pf.Reasons, fmt.Sprintf("scope %q of the inverse %q is not granted: the grant could not be revoked at expiry", s, act.Inverse))
				}
			}
		}
	}
	if act.Destructive && !inverse {
		pf.RequiredApprovals = max(1, pol.RequiredApprovals)
	}
	pf.Allowed = len(pf.Reasons) == 0
	pf.Digest = digestJSON(map[string]any{
		"action": act.Name, "destructive": act.Destructive, "inverse_run": inverse,
		"required_scopes": pf.RequiredScopes, "granted_scopes": pf.GrantedScopes,
		"policy":        map[string]any{"required_approvals": pol.RequiredApprovals, "denied": pol.Denied},
		"module_digest": conn.Module.Digest, "manifest": m.ID + "@" + m.Version,
		"ttl_seconds": int64(ttl / time.Second),
	})
	return pf
}

// digestJSON is "sha256:" + hex of the RFC 8785 form of v.
func digestJSON(v any) string {
	b, _ := json.Marshal(v)
	if c, err := jcs.Transform(b); err == nil {
		b = c
	}
	return receipt.ValueDigest(b)
}

// requestDigest identifies a submission for its idempotency key.
func requestDigest(r Request) string {
	return digestJSON(map[string]any{"action": r.Action, "params": json.RawMessage(orNull(r.Params)), "ttl_seconds": int64(r.TTL / time.Second)})
}

// paramsDigest is the receipt's digest of a run's parameters.
func paramsDigest(p json.RawMessage) string {
	b := orNull(p)
	if c, err := jcs.Transform(b); err == nil {
		b = c
	}
	return receipt.ValueDigest(b)
}

func orNull(p json.RawMessage) []byte {
	if len(p) == 0 {
		return []byte("null")
	}
	return p
}

// normParams accepts a JSON object, or nothing (null or absent).
func normParams(p json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(p)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	if len(t) > 64<<10 {
		return nil, &FieldError{Field: "params", Message: "is larger than 64 KiB"}
	}
	if t[0] != '{' || !json.Valid(t) {
		return nil, &FieldError{Field: "params", Message: "must be a JSON object"}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, t); err != nil {
		return nil, &FieldError{Field: "params", Message: "must be a JSON object"}
	}
	return buf.Bytes(), nil
}

// paramSchemas compiles each action's params schema once per module.
type paramSchemas struct {
	m sync.Map // module digest + "\x00" + action → *jsonschema.Schema or error
}

func (ps *paramSchemas) check(mod *engine.Module, act protocol.Action, params json.RawMessage) error {
	raw := bytes.TrimSpace(act.Params)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	key := mod.Digest + "\x00" + act.Name
	v, ok := ps.m.Load(key)
	if !ok {
		v = compileParams(act.Name, raw)
		ps.m.Store(key, v)
	}
	sch, ok := v.(*jsonschema.Schema)
	if !ok {
		return fmt.Errorf("actions: params schema of %q: %w", act.Name, v.(error))
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(orNull(params)))
	if err != nil {
		return &FieldError{Field: "params", Message: "must be a JSON object"}
	}
	if err := sch.Validate(doc); err != nil {
		return &FieldError{Field: "params", Message: schemaMessage(err)}
	}
	return nil
}

func compileParams(name string, raw []byte) any {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	loc := "mem://sluice/actions/" + name + ".json"
	if err := c.AddResource(loc, doc); err != nil {
		return err
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return err
	}
	return sch
}

// noLoader refuses external references: a partner's schema must not
// make the host read files or the network.
type noLoader struct{}

func (noLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("external schema references are not allowed (%s)", u)
}

// schemaMessage names the first failing location and keyword.
func schemaMessage(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	msg := ve.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return strings.TrimSpace(msg)
}
