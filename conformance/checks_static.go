package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// minReasonLen is the shortest scope reason accepted: a reason must say
// what the scope is for, in words a tenant admin can judge.
const minReasonLen = 20

func staticChecks() []Check {
	return []Check{{
		ID: "static.manifest", Gate: GateStatic, Level: Bronze,
		Title:  "The manifest is valid",
		Proves: "connector.json parses and passes the published JSON Schema and the semantic rules (package manifest).",
		Fix:    "Validate connector.json against manifest/connector.schema.json; the reason names the first invalid field.",
		Run: func(_ context.Context, env *Env) Verdict {
			if env.ManifestErr != nil {
				return fail(env.ManifestErr.Error(), nil)
			}
			return pass("connector.json is valid", map[string]string{"id": env.Manifest.ID, "version": env.Manifest.Version})
		},
	}, {
		ID: "static.imports", Gate: GateStatic, Level: Bronze, Needs: []string{"static.manifest"},
		Title:  "The module imports only what the sandbox allows, and loads",
		Proves: "Every import is a Sluice host function, an Extism memory/IO helper or WASI without sockets; the module compiles.",
		Fix:    "Remove the named import: make HTTP calls through the SDK (sluice_http), never Extism's http_request, vars or config.",
		Run: func(ctx context.Context, env *Env) Verdict {
			imports, err := engine.CheckImports(ctx, env.Wasm)
			if err != nil {
				var ie *engine.ImportError
				if errors.As(err, &ie) {
					return fail(err.Error(), map[string]string{"module": ie.Module, "name": ie.Name})
				}
				return fail(err.Error(), nil)
			}
			if env.LoadErr != nil {
				return fail("load: "+env.LoadErr.Error(), nil)
			}
			return pass(fmt.Sprintf("%d imports, all allowed", len(imports)), imports)
		},
	}, {
		ID: "static.scope-reasons", Gate: GateStatic, Level: Bronze, Needs: []string{"static.manifest"},
		Title:  "Every scope is declared with a reason",
		Proves: "Each scope the connector asks for has a reason a tenant admin can judge, and every scope a stream, action or check needs is declared.",
		Fix:    fmt.Sprintf("Give every entry of scopes a reason of at least %d characters saying what the scope is used for; declare every scope a stream, action or check lists.", minReasonLen),
		Run: func(_ context.Context, env *Env) Verdict {
			m := env.Manifest
			var problems []string
			declared := map[string]bool{}
			for _, s := range m.Scopes {
				declared[s.Name] = true
				if len(strings.TrimSpace(s.Reason)) < minReasonLen {
					problems = append(problems, fmt.Sprintf("scope %s: reason %q is too short", s.Name, s.Reason))
				}
			}
			for _, need := range neededScopes(m) {
				if !declared[need.scope] {
					problems = append(problems, fmt.Sprintf("%s needs scope %s, which is not declared", need.by, need.scope))
				}
			}
			if len(problems) > 0 {
				return fail(strings.Join(problems, "; "), problems)
			}
			return pass(fmt.Sprintf("%d scopes, each with a reason", len(m.Scopes)), nil)
		},
	}, {
		ID: "static.hosts", Gate: GateStatic, Level: Gold, Needs: []string{"static.manifest"},
		Title:  "Hosts are exact and HTTPS-only",
		Proves: "Every host rule names one exact host (no wildcard) reached over https. Loopback hosts (127.0.0.0/8, ::1, localhost) may use http: they can only be a local sample tenant such as the sandbox, and a production engine refuses loopback addresses at dial time anyway.",
		Fix:    "Declare each API host exactly (no *), with scheme https (or no scheme: https is the default).",
		Run: func(_ context.Context, env *Env) Verdict {
			var problems []string
			for _, h := range env.Manifest.Hosts {
				switch {
				case strings.ContainsAny(h.Host, "*?"):
					problems = append(problems, fmt.Sprintf("host %q is a wildcard", h.Host))
				case h.Scheme != "" && h.Scheme != "https" && !loopbackHost(hostOnly(h.Host)):
					problems = append(problems, fmt.Sprintf("host %q uses scheme %s, not https", h.Host, h.Scheme))
				}
			}
			if len(problems) > 0 {
				return fail(strings.Join(problems, "; "), problems)
			}
			return pass(fmt.Sprintf("%d host rules, exact and https (or loopback)", len(env.Manifest.Hosts)), env.Manifest.Hosts)
		},
	}}
}

type scopeNeed struct{ by, scope string }

func neededScopes(m *protocol.Manifest) []scopeNeed {
	var out []scopeNeed
	for _, s := range m.Streams {
		for _, sc := range s.Scopes {
			out = append(out, scopeNeed{"stream " + s.Name, sc})
		}
	}
	for _, a := range m.Actions {
		for _, sc := range a.Scopes {
			out = append(out, scopeNeed{"action " + a.Name, sc})
		}
	}
	for _, c := range m.Checks {
		for _, sc := range c.Scopes {
			out = append(out, scopeNeed{"check " + c.Name, sc})
		}
	}
	return out
}

// hostOnly strips a port from a host rule's host.
func hostOnly(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.Index(h, "]"); i > 0 {
			return h[1:i]
		}
	}
	if i := strings.LastIndex(h, ":"); i > 0 && !strings.Contains(h[:i], ":") {
		return h[:i]
	}
	return h
}

func declaredScope(m *protocol.Manifest, name string) bool {
	return slices.ContainsFunc(m.Scopes, func(s protocol.Scope) bool { return s.Name == name })
}
