package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/gowebpki/jcs"

	"github.com/sluicehq/sluice/receipt"
)

// Policy kinds.
const (
	KindIngest    = "ingest"
	KindAction    = "action"
	KindRedaction = "redaction"
)

// Kinds lists the policy kinds in a fixed order.
func Kinds() []string { return []string{KindIngest, KindAction, KindRedaction} }

// Results of a decision.
const (
	ResultAllow  = "allow"
	ResultDeny   = "deny"
	ResultRedact = "redact"
	ResultReveal = "reveal"
	// ResultPartial is an ingest run's decision when some of its types were
	// allowed and some refused.
	ResultPartial = "partial"
)

// MaxExpressionLen caps an expression (bytes), as the store does.
const MaxExpressionLen = 16 << 10

// Defaults: the built-in expression of each kind (see doc.go).
var defaults = map[string]string{
	KindIngest: `scopes.all(s, s in granted)`,
	KindAction: `true`,
	KindRedaction: `role in ["admin", "pii"] ? {"redact": false, "rule": "default/pii-rights"} :
pii_class == "none" ? {"redact": false, "rule": "default/no-pii"} :
{"redact": true, "rule": "default/no-pii-rights",
 "reason": "PII class " + (pii_class == "" ? "(unclassified)" : pii_class) + " is not disclosed to role " + role}`,
}

// Default returns the built-in expression of kind.
func Default(kind string) (string, error) {
	e, ok := defaults[kind]
	if !ok {
		return "", fmt.Errorf("%w: %.64q", ErrUnknownKind, kind)
	}
	return e, nil
}

// variables declares each kind's input.
var variables = map[string][]cel.EnvOption{
	KindIngest: {
		cel.Variable("tenant", cel.StringType), cel.Variable("connector", cel.StringType),
		cel.Variable("connection", cel.StringType), cel.Variable("run_kind", cel.StringType),
		cel.Variable("stream", cel.StringType), cel.Variable("object_type", cel.StringType),
		cel.Variable("scopes", cel.ListType(cel.StringType)), cel.Variable("granted", cel.ListType(cel.StringType)),
	},
	KindAction: {
		cel.Variable("tenant", cel.StringType), cel.Variable("connector", cel.StringType),
		cel.Variable("connection", cel.StringType), cel.Variable("action", cel.StringType),
		cel.Variable("requester", cel.StringType), cel.Variable("destructive", cel.BoolType),
		cel.Variable("inverse", cel.BoolType), cel.Variable("params", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("scopes", cel.ListType(cel.StringType)), cel.Variable("granted", cel.ListType(cel.StringType)),
		cel.Variable("approvers", cel.IntType), cel.Variable("required_approvals", cel.IntType),
		cel.Variable("ttl_seconds", cel.IntType),
	},
	KindRedaction: {
		cel.Variable("tenant", cel.StringType), cel.Variable("role", cel.StringType),
		cel.Variable("connector", cel.StringType), cel.Variable("object_type", cel.StringType),
		cel.Variable("field", cel.StringType), cel.Variable("pii_class", cel.StringType),
	},
}

// verdictKey is the key of a map result that holds the verdict.
func verdictKey(kind string) string {
	if kind == KindRedaction {
		return "redact"
	}
	return "allow"
}

// Digest is the policy digest of an expression of kind: "sha256:" + hex
// of the RFC 8785 form of {"format","kind","expression"}.
func Digest(kind, expression string) string {
	return canonicalDigest(map[string]any{"format": "sluice-cel-policy/v1", "kind": kind, "expression": expression})
}

// canonicalDigest is "sha256:" + hex of the RFC 8785 form of v.
func canonicalDigest(v any) string {
	b, err := jsonMarshal(v)
	if err == nil {
		if c, err := jcs.Transform(b); err == nil {
			b = c
		}
	}
	return receipt.ValueDigest(b)
}

// program is one compiled expression.
type program struct {
	kind, digest string
	prg          cel.Program
}

// compiler compiles expressions once per digest. It is safe for
// concurrent use.
type compiler struct {
	costLimit uint64
	timeout   time.Duration
	envOnce   sync.Once
	envs      map[string]*cel.Env
	envErr    error
	mu        sync.Mutex
	cache     map[string]*program // by policy digest
}

// maxCached bounds the compiled-program cache; past it the cache starts
// over (policies change rarely, so this only stops a flood of distinct
// expressions from growing memory without bound).
const maxCached = 1024

func (c *compiler) env(kind string) (*cel.Env, error) {
	c.envOnce.Do(func() {
		c.envs = map[string]*cel.Env{}
		for k, vars := range variables {
			opts := append([]cel.EnvOption{
				cel.ParserExpressionSizeLimit(MaxExpressionLen),
				cel.ParserRecursionLimit(64),
			}, vars...)
			env, err := cel.NewEnv(opts...)
			if err != nil {
				c.envErr = err
				return
			}
			c.envs[k] = env
		}
	})
	if c.envErr != nil {
		return nil, c.envErr
	}
	env, ok := c.envs[kind]
	if !ok {
		return nil, fmt.Errorf("%w: %.64q", ErrUnknownKind, kind)
	}
	return env, nil
}

// compile returns the program of expression, from the cache when it was
// compiled before. A refused expression is a *CompileError.
func (c *compiler) compile(kind, expression string) (*program, error) {
	env, err := c.env(kind)
	if err != nil {
		return nil, err
	}
	digest := Digest(kind, expression)
	c.mu.Lock()
	p, ok := c.cache[digest]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	if strings.TrimSpace(expression) == "" {
		return nil, &CompileError{Kind: kind, Message: "the expression is empty"}
	}
	if len(expression) > MaxExpressionLen {
		return nil, &CompileError{Kind: kind, Message: fmt.Sprintf("the expression is longer than %d bytes", MaxExpressionLen)}
	}
	ast, iss := env.Compile(expression)
	if iss != nil && iss.Err() != nil {
		return nil, &CompileError{Kind: kind, Message: iss.Err().Error()}
	}
	switch out := ast.OutputType(); {
	case out.IsExactType(types.BoolType), out.IsExactType(types.DynType),
		out.Kind() == types.MapKind:
	default:
		return nil, &CompileError{Kind: kind, Message: fmt.Sprintf(
			"the expression evaluates to %s; it must be a bool or a map with %q (bool), \"rule\" and \"reason\" (strings)",
			out.String(), verdictKey(kind))}
	}
	prg, err := env.Program(ast, cel.CostLimit(c.costLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, &CompileError{Kind: kind, Message: err.Error()}
	}
	p = &program{kind: kind, digest: digest, prg: prg}
	c.mu.Lock()
	if len(c.cache) >= maxCached {
		c.cache = map[string]*program{}
	}
	c.cache[digest] = p
	c.mu.Unlock()
	return p, nil
}

// outcome is what one evaluation decided.
type outcome struct {
	yes          bool // allow, or redact
	rule, reason string
}

// eval runs p on vars under the cost limit and the deadline. Any failure
// is an *EvalError; the caller refuses on it.
func (c *compiler) eval(ctx context.Context, p *program, vars map[string]any) (o outcome, err error) {
	defer func() {
		// CEL reports its own failures as errors; this is the last line
		// so that no input can take the host down.
		if rec := recover(); rec != nil {
			err = &EvalError{Kind: p.kind, PolicyDigest: p.digest, Err: fmt.Errorf("panic: %v", rec)}
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	val, _, err := p.prg.ContextEval(ctx, vars)
	if err != nil {
		if strings.Contains(err.Error(), "cost limit exceeded") {
			err = fmt.Errorf("%w (%d): %w", ErrCostLimit, c.costLimit, err)
		}
		return o, &EvalError{Kind: p.kind, PolicyDigest: p.digest, Err: err}
	}
	o, err = readOutcome(p.kind, val)
	if err != nil {
		return o, &EvalError{Kind: p.kind, PolicyDigest: p.digest, Err: err}
	}
	return o, nil
}

// readOutcome reads a bool or a {verdict, rule, reason} map.
func readOutcome(kind string, val ref.Val) (outcome, error) {
	if b, ok := val.(types.Bool); ok {
		return outcome{yes: bool(b)}, nil
	}
	m, ok := val.(interface {
		Find(ref.Val) (ref.Val, bool)
	})
	if !ok || val.Type() != types.MapType {
		return outcome{}, fmt.Errorf("the result is %s, not a bool or a map", val.Type().TypeName())
	}
	key := verdictKey(kind)
	v, found := m.Find(types.String(key))
	b, isBool := v.(types.Bool)
	if !found || !isBool {
		return outcome{}, fmt.Errorf("the result map has no bool %q", key)
	}
	o := outcome{yes: bool(b)}
	for _, f := range []struct {
		name string
		into *string
	}{{"rule", &o.rule}, {"reason", &o.reason}} {
		v, found := m.Find(types.String(f.name))
		if !found {
			continue
		}
		s, ok := v.(types.String)
		if !ok {
			return outcome{}, fmt.Errorf("the result's %q is not a string", f.name)
		}
		*f.into = clip(string(s), 512)
	}
	return o, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// isEval reports whether err is an evaluation failure (a refusal), not
// an infrastructure error.
func isEval(err error) bool { return errors.Is(err, ErrEval) }
