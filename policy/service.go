package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluicehq/sluice/store"
)

// DefaultCostLimit is the CEL cost one evaluation may spend when
// Config.CostLimit is zero: ample for any sensible rule over a few
// hundred scopes, and reached in well under a second by a runaway one.
const DefaultCostLimit = 1_000_000

// Decision is a recorded evaluation (the store's record).
type Decision = store.PolicyDecision

// Config configures a Service. The zero value is usable.
type Config struct {
	// CostLimit bounds one evaluation in CEL cost units; 0 means
	// DefaultCostLimit.
	CostLimit uint64
	// Timeout bounds one evaluation's wall time; 0 means one second.
	Timeout time.Duration
	// DefaultsOnly ignores the tenants' own policies: the built-in
	// defaults decide (what the engine uses when no service is wired).
	// Decisions are still recorded.
	DefaultsOnly bool
	// Now stamps decisions and saved policies; nil is time.Now.
	Now func() time.Time
}

// Service reads and saves tenant policies and makes recorded decisions.
// It is safe for concurrent use; New does no I/O.
type Service struct {
	c            *compiler
	defaultsOnly bool
	now          func() time.Time
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.CostLimit == 0 {
		cfg.CostLimit = DefaultCostLimit
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{c: &compiler{costLimit: cfg.CostLimit, timeout: cfg.Timeout, cache: map[string]*program{}},
		defaultsOnly: cfg.DefaultsOnly, now: cfg.Now}
}

var (
	builtinOnce sync.Once
	builtin     *Service
)

// Builtin is the shared defaults-only Service.
func Builtin() *Service {
	builtinOnce.Do(func() { builtin = New(Config{DefaultsOnly: true}) })
	return builtin
}

// Policy is a kind's effective policy for a tenant.
type Policy struct {
	Kind       string    `json:"kind"`
	Expression string    `json:"expression"`
	Digest     string    `json:"digest"`
	Source     string    `json:"source"` // "default" or "tenant"
	UpdatedBy  string    `json:"updated_by,omitempty"`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`
}

// Policy sources.
const (
	SourceDefault = "default"
	SourceTenant  = "tenant"
)

// Check compiles expression as a policy of kind: nil, ErrUnknownKind or a
// *CompileError with the compiler's message.
func (s *Service) Check(kind, expression string) error {
	_, err := s.c.compile(kind, expression)
	return err
}

// Get returns the effective policy of kind for t: the tenant's, or the
// built-in default.
func (s *Service) Get(ctx context.Context, t *store.Tenant, kind string) (Policy, error) {
	def, err := Default(kind)
	if err != nil {
		return Policy{}, err
	}
	if !s.defaultsOnly {
		tp, err := t.Policy(ctx, kind)
		switch {
		case err == nil:
			return Policy{Kind: kind, Expression: tp.Expression, Digest: tp.Digest, Source: SourceTenant,
				UpdatedBy: tp.UpdatedBy, UpdatedAt: tp.UpdatedAt}, nil
		case !errors.Is(err, store.ErrNotFound):
			return Policy{}, err
		}
	}
	return Policy{Kind: kind, Expression: def, Digest: Digest(kind, def), Source: SourceDefault}, nil
}

// Effective returns every kind's effective policy for t.
func (s *Service) Effective(ctx context.Context, t *store.Tenant) ([]Policy, error) {
	var out []Policy
	for _, k := range Kinds() {
		p, err := s.Get(ctx, t, k)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Put compiles expression and saves it as t's policy of kind. A refused
// expression is a *CompileError and nothing is saved.
func (s *Service) Put(ctx context.Context, t *store.Tenant, kind, expression, by string) (Policy, error) {
	if err := s.Check(kind, expression); err != nil {
		return Policy{}, err
	}
	tp := store.TenantPolicy{Kind: kind, Expression: expression, Digest: Digest(kind, expression),
		UpdatedBy: by, UpdatedAt: s.now().UTC()}
	if err := t.PutPolicy(ctx, tp); err != nil {
		return Policy{}, err
	}
	return Policy{Kind: kind, Expression: expression, Digest: tp.Digest, Source: SourceTenant,
		UpdatedBy: by, UpdatedAt: tp.UpdatedAt}, nil
}

// Decision returns a recorded decision of t; store.ErrNotFound if none.
func (s *Service) Decision(ctx context.Context, t *store.Tenant, id string) (Decision, error) {
	return t.Decision(ctx, id)
}

// decisionID derives a decision's id from everything it says, so the
// same evaluation is one record and a different outcome (an evaluation
// that hit its deadline once) never hides behind an earlier id.
func decisionID(kind, policyDigest, inputDigest, result string, reasons []string) string {
	h := sha256.New()
	for _, s := range append([]string{kind, policyDigest, inputDigest, result}, reasons...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "dec-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// record stores d in t. The store keeps the first write of an id and
// answers a repeat with a read only; no memory of what was stored is kept
// here, since one Service serves many stores (tests, the CLI) whose
// tenants share ids.
func (s *Service) record(ctx context.Context, t *store.Tenant, d *Decision) error {
	d.ID = decisionID(d.Kind, d.PolicyDigest, d.InputDigest, d.Result, d.Reasons)
	d.CreatedAt = s.now().UTC()
	return t.PutDecision(ctx, *d)
}

// prepare returns the effective policy of kind and its program. A tenant
// policy that no longer compiles is returned with its *CompileError: the
// caller refuses, naming it.
func (s *Service) prepare(ctx context.Context, t *store.Tenant, kind string) (Policy, *program, error) {
	p, err := s.Get(ctx, t, kind)
	if err != nil {
		return p, nil, err
	}
	prg, err := s.c.compile(kind, p.Expression)
	return p, prg, err
}

// jsonMarshal is json.Marshal without HTML escaping.
func jsonMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// evalOne evaluates prg (nil: its compile error cerr) and says why.
func (s *Service) evalOne(ctx context.Context, prg *program, cerr error, vars map[string]any) (outcome, error) {
	if cerr != nil {
		return outcome{}, cerr
	}
	return s.c.eval(ctx, prg, vars)
}

// refusal is the reason recorded for a failed evaluation.
func refusal(err error) string {
	return clip(fmt.Sprintf("policy error, refused: %v", err), 512)
}

// infra reports whether err is a failure of the host (store, context)
// rather than of the policy, which the caller must return, not record.
func infra(err error) bool {
	return err != nil && !isEval(err) && !errors.Is(err, ErrCompile)
}
