package conformance

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

func securityChecks() []Check {
	return []Check{{
		ID: "security.egress", Gate: GateSecurity, Level: Bronze, Needs: []string{"static.imports"}, Final: true,
		Title:  "Hosts and methods used are declared",
		Proves: "Every request the module made during the whole suite (or in the tapes) went to a declared host with a declared scheme and method; the host refused none.",
		Fix:    "Declare every host and method the connector needs in connector.json hosts (exact host, scheme, methods), or stop calling the refused URL named in the evidence.",
		Run:    checkEgress,
	}, {
		ID: "security.sandbox-limits", Gate: GateSecurity, Level: Bronze, Needs: []string{"static.imports"}, Final: true,
		Title:  "The module stays within the sandbox limits",
		Proves: "No call of the whole suite was stopped by a limit: call deadline (endless loops), linear memory (memory and stack bombs), output size or records per call. The host stops such modules and other tenants carry on; a module that needs stopping is not certifiable.",
		Fix:    "Bound loops and recursion, stream pages instead of building them whole, return small outputs (cursors, not data), and keep pages under the record cap.",
		Run:    checkLimits,
	}, {
		ID: "security.secrets", Gate: GateSecurity, Level: Bronze, Needs: []string{"correctness.ingest"}, Final: true, Live: true,
		Title:  "Canary secrets never leak",
		Proves: "Canary secrets (the client secret and a value planted in the connection config) appear in no log, emitted object, stored cursor, tape or receipt, and the module never tried to write one (the host's redaction marker appears in nothing the module wrote).",
		Fix:    "Never log, emit or return config or credential values; let the host inject credentials (\"auth\": \"default\" or {{secret:NAME}}).",
		Run:    checkSecrets,
	}, {
		ID: "security.tenant-isolation", Gate: GateSecurity, Level: Bronze, Needs: []string{"correctness.ingest"}, Live: true,
		Title:  "Two tenants see nothing of each other",
		Proves: "Two tenants syncing the same remote with the same module get disjoint entity ids, each derived from its own tenant; neither can read the other's objects or runs.",
		Fix:    "Nothing in the module decides tenancy; a failure here is a host defect: report it with the evidence.",
		Run:    checkIsolation,
	}, {
		ID: "security.scopes-used", Gate: GateSecurity, Level: Gold, Needs: []string{"correctness.ingest"}, Final: true, Live: true,
		Title:  "Every declared scope is used",
		Proves: "Each declared scope is needed by a declared stream, action or check, and the suite exercised it (a stream that stored data, an action executed, a check verified).",
		Fix:    "Remove scopes nothing needs, or declare the stream, action or check that needs them; make sure the sample tenant has data for every stream.",
		Run:    checkScopesUsed,
	}}
}

// deniedExchanges lists the requests the host refused by policy.
func deniedExchanges(res *engine.Result) []tape.Exchange {
	if res == nil || res.Tape == nil {
		return nil
	}
	return denied(res.Tape)
}

func denied(tp *tape.Tape) []tape.Exchange {
	var out []tape.Exchange
	for _, c := range tp.Calls {
		for _, ex := range c.Exchanges {
			if ex.Response.Status == 0 && (hostfns.PolicyDenial(ex.Response.ErrorType) || ex.Response.ErrorType == hostfns.ErrorTypeDeniedAddress) {
				out = append(out, ex)
			}
		}
	}
	return out
}

// unownedTapes are the tapes of every observed run no check owns, and
// the tape set of tape mode.
func (e *Env) unownedTapes() []*tape.Tape {
	var out []*tape.Tape
	for _, o := range e.Runs() {
		if o.Tape != nil && o.Owner == "" {
			out = append(out, o.Tape)
		}
	}
	return append(out, e.Tapes...)
}

func checkEgress(_ context.Context, env *Env) Verdict {
	used := map[string]int{}
	var refused []string
	var owned []string
	for _, o := range env.Runs() {
		if o.Owner != "" {
			owned = append(owned, o.Name+" (reported by "+o.Owner+")")
		}
	}
	for _, tp := range env.unownedTapes() {
		for _, c := range tp.Calls {
			for _, ex := range c.Exchanges {
				rq := ex.Request
				key := rq.Method + " " + schemeHost(rq.URL)
				if ex.Response.Status == 0 && (hostfns.PolicyDenial(ex.Response.ErrorType) || ex.Response.ErrorType == hostfns.ErrorTypeDeniedAddress) {
					refused = append(refused, fmt.Sprintf("%s %s (%s)", rq.Method, rq.URL, ex.Response.ErrorType))
					continue
				}
				if !allowedRequest(env.Manifest.Hosts, rq) {
					refused = append(refused, fmt.Sprintf("%s %s (not declared)", rq.Method, rq.URL))
					continue
				}
				used[key]++
			}
		}
	}
	if len(refused) > 0 {
		slices.Sort(refused)
		refused = slices.Compact(refused)
		return fail(fmt.Sprintf("%d requests outside the declared hosts and methods, first: %s", len(refused), refused[0]),
			map[string]any{"refused": refused, "used": used, "attributed": owned})
	}
	if len(used) == 0 {
		return skip("no request observed: nothing to judge", nil)
	}
	return pass(fmt.Sprintf("%d distinct method/host pairs used, all declared", len(used)), used)
}

func schemeHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// allowedRequest applies the manifest's host rules as the host does:
// exact host (case-insensitive), the rule's port if it names one, the
// scheme (default https) and the method.
func allowedRequest(rules []protocol.HostRule, rq protocol.HTTPRequest) bool {
	u, err := url.Parse(rq.URL)
	if err != nil {
		return false
	}
	for _, r := range rules {
		scheme := r.Scheme
		if scheme == "" {
			scheme = "https"
		}
		host := strings.ToLower(r.Host)
		if host != strings.ToLower(u.Host) && host != strings.ToLower(u.Hostname()) {
			continue
		}
		if u.Scheme == scheme && slices.Contains(r.Methods, rq.Method) {
			return true
		}
	}
	return false
}

func checkLimits(_ context.Context, env *Env) Verdict {
	var stopped, attributed []string
	for _, o := range env.Runs() {
		if !limitError(o.Err) {
			continue
		}
		if o.Owner != "" {
			attributed = append(attributed, o.Name+" (reported by "+o.Owner+")")
			continue
		}
		stopped = append(stopped, o.Name+": "+o.Err.Error())
	}
	ev := map[string]any{"attributed": attributed, "call_timeout": env.Limits.CallTimeout.String(), "memory_pages": env.Limits.MemoryPages,
		"max_output_bytes": env.Limits.MaxOutputBytes, "max_records_per_call": env.Limits.MaxRecordsPerCall}
	if len(stopped) > 0 {
		ev["stopped"] = stopped
		return fail("the host had to stop the module: "+stopped[0], ev)
	}
	return pass(fmt.Sprintf("%d runs and calls, none stopped at a limit", len(env.Runs())), ev)
}

// leak is one place a canary or a redaction marker was found.
type leak struct {
	Where string `json:"where"`
	What  string `json:"what"` // "canary" or "redaction marker"
}

func checkSecrets(ctx context.Context, env *Env) Verdict {
	var leaks []leak
	scan := func(where, text string, marker bool) {
		for _, c := range env.Canaries {
			if strings.Contains(text, c) {
				leaks = append(leaks, leak{where, "canary"})
				return
			}
		}
		if marker && strings.Contains(text, tape.Redacted) {
			leaks = append(leaks, leak{where, "redaction marker"})
		}
	}
	for i, l := range env.Logs() {
		// A redaction in a module's own log line means it tried to log a
		// secret; engine lines are only checked for the canaries.
		scan(fmt.Sprintf("log line %d", i+1), l.Raw, l.Guest)
	}
	for _, o := range env.Runs() {
		if o.Tape != nil {
			b, _ := json.Marshal(o.Tape)
			scan("tape of "+o.Name, string(b), false)
		}
		if o.Result != nil {
			scan("receipt of "+o.Name, envelopePayload(o.Result.Envelope), true)
			b, _ := json.Marshal(o.Result.Run)
			scan("run record of "+o.Name, string(b), true)
		}
	}
	for _, id := range env.TenantIDs() {
		t, err := env.Store.Tenant(id)
		if err != nil {
			return fail(err.Error(), nil)
		}
		objs, err := allObjects(ctx, t)
		if err != nil {
			return fail(err.Error(), nil)
		}
		for _, o := range objs {
			scan(fmt.Sprintf("object %s of tenant %s", sourceKey(o), id), string(o.Data)+" "+o.SourceID, true)
		}
		err = t.Receipts(ctx, func(r store.Receipt) error {
			scan("stored receipt "+r.ID, envelopePayload(r.Envelope), true)
			return nil
		})
		if err != nil {
			return fail(err.Error(), nil)
		}
	}
	if len(leaks) > 0 {
		return fail(fmt.Sprintf("%d places hold a canary secret or a redacted attempt to write one, first: %s (%s)", len(leaks), leaks[0].Where, leaks[0].What), leaks)
	}
	return pass(fmt.Sprintf("%d canaries absent from every log, object, cursor, tape and receipt", len(env.Canaries)), nil)
}

// envelopePayload decodes a DSSE envelope's payload for scanning.
func envelopePayload(env []byte) string {
	var e struct {
		Payload string `json:"payload"`
	}
	if json.Unmarshal(env, &e) != nil {
		return string(env)
	}
	b, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return string(env)
	}
	return string(b)
}

func checkIsolation(ctx context.Context, env *Env) Verdict {
	b := env.Baseline(ctx)
	objsA, err := allObjects(ctx, b.A.Tenant)
	if err != nil {
		return fail(err.Error(), nil)
	}
	objsB, err := allObjects(ctx, b.B.Tenant)
	if err != nil {
		return fail(err.Error(), nil)
	}
	idsB := map[string]bool{}
	for _, o := range objsB {
		idsB[o.EntityID] = true
		if want := store.EntityID(TenantB, o.Connector, o.Type, o.SourceID); o.EntityID != want {
			return failf("tenant %s holds %s under entity id %s, not its own %s", TenantB, sourceKey(o), o.EntityID, want)
		}
	}
	for _, o := range objsA {
		if idsB[o.EntityID] {
			return failf("entity %s is in both tenants", o.EntityID)
		}
		if _, err := b.B.Tenant.Object(ctx, o.EntityID); !errors.Is(err, store.ErrNotFound) {
			return failf("tenant %s can read tenant %s's entity %s (err %v)", TenantB, TenantA, o.EntityID, err)
		}
	}
	if _, err := b.B.Tenant.Run(ctx, b.A.Result.Run.ID); !errors.Is(err, store.ErrNotFound) {
		return failf("tenant %s can read tenant %s's run %s", TenantB, TenantA, b.A.Result.Run.ID)
	}
	return pass(fmt.Sprintf("%d and %d objects, disjoint; no cross-tenant read", len(objsA), len(objsB)), nil)
}

func checkScopesUsed(ctx context.Context, env *Env) Verdict {
	m := env.Manifest
	b := env.Baseline(ctx)
	for _, s := range m.Streams {
		n := 0
		for _, ot := range s.ObjectTypes {
			c, err := b.A.Tenant.CountObjects(ctx, ConnID, ot)
			if err == nil {
				n += c
			}
		}
		if len(s.EdgeTypes) > 0 {
			edges, _, err := b.A.Tenant.Edges(ctx, store.ListOptions{Connection: ConnID, Limit: 1})
			if err == nil {
				n += len(edges)
			}
		}
		if n > 0 {
			env.Exercise(s.Scopes...)
		}
	}
	needed := map[string][]string{}
	for _, n := range neededScopes(m) {
		needed[n.scope] = append(needed[n.scope], n.by)
	}
	exercised := env.Exercised()
	var unneeded, unused []string
	for _, s := range m.Scopes {
		switch {
		case len(needed[s.Name]) == 0:
			unneeded = append(unneeded, s.Name)
		case !slices.Contains(exercised, s.Name):
			unused = append(unused, s.Name)
		}
	}
	ev := map[string]any{"needed_by": needed, "exercised": exercised}
	if len(unneeded) > 0 {
		ev["unneeded"] = unneeded
		return fail("declared scopes nothing needs: "+strings.Join(unneeded, ", "), ev)
	}
	if len(unused) > 0 {
		ev["unused"] = unused
		return fail("declared scopes the suite never saw used: "+strings.Join(unused, ", "), ev)
	}
	return pass(fmt.Sprintf("all %d scopes needed and exercised", len(m.Scopes)), ev)
}
