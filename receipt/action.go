package receipt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/gowebpki/jcs"
)

// Predicate types of action and check receipts.
const (
	PredicateActionRun = "https://sluice.dev/attestations/action-run/v1"
	PredicateCheck     = "https://sluice.dev/attestations/check-run/v1"
)

// Action run outcomes.
const (
	ActionExecuted = "executed"
	ActionRejected = "rejected"
	ActionFailed   = "failed"
)

// Check outcomes.
const (
	CheckPass  = "pass"
	CheckFail  = "fail"
	CheckError = "error"
)

// ActionRun is the predicate of an action run receipt: who asked for
// which change, who approved it, what the policy preflight decided, and
// what the remote reported, with outputs and parameters attested by
// digest only (never by value). An inverse run (the revoke of a grant
// whose TTL expired) names the grant's receipt in InverseOf.
type ActionRun struct {
	ReceiptID        string `json:"receipt_id"`
	RunID            string `json:"run_id"`
	TenantID         string `json:"tenant_id"`
	ConnectorID      string `json:"connector_id"`
	ConnectorVersion string `json:"connector_version"`
	ModuleDigest     string `json:"module_digest"`
	Connection       string `json:"connection"`

	ActionID    string     `json:"action_id"` // the action's name in the manifest
	Destructive bool       `json:"destructive"`
	Requester   string     `json:"requester"` // API key id, or "system:ttl" for an inverse
	Approvers   []Approver `json:"approvers"`
	Preflight   Preflight  `json:"preflight"`
	// TTLSeconds is the grant's time to live (0: none); ExpiresAt is
	// when its inverse is due, for an executed grant with a TTL.
	TTLSeconds int64  `json:"ttl_seconds"`
	ExpiresAt  string `json:"expires_at,omitempty"`

	ParamsDigest    string            `json:"params_digest"` // "sha256:" + hex of the canonical params
	RemoteChangeIDs []string          `json:"remote_change_ids"`
	Outputs         map[string]string `json:"outputs"` // name → "sha256:" + hex of the value
	Redactions      []Redaction       `json:"redactions"`

	CorrelationID string        `json:"correlation_id"`
	Status        string        `json:"status"` // ActionExecuted, ActionRejected or ActionFailed
	Error         *ErrorSummary `json:"error,omitempty"`
	// InverseOf is the receipt id of the run this one undoes.
	InverseOf string `json:"inverse_of,omitempty"`

	RequestedAt string `json:"requested_at"`
	FinishedAt  string `json:"finished_at"`
}

// Approver is one approval of a destructive action.
type Approver struct {
	ID string `json:"id"` // API key id
	At string `json:"at"`
}

// Preflight is the policy decision taken before an action runs.
type Preflight struct {
	Allowed           bool     `json:"allowed"`
	Rule              string   `json:"rule"`
	RequiredScopes    []string `json:"required_scopes"`
	GrantedScopes     []string `json:"granted_scopes"`
	RequiredApprovals int64    `json:"required_approvals"`
	// Reasons say why a refused preflight refused; empty when allowed.
	Reasons []string `json:"reasons"`
	// Digest is "sha256:" + hex of the canonical policy inputs.
	Digest string `json:"digest"`
	// DecisionID names the recorded decision of the tenant's CEL action
	// policy; absent in receipts made before policies were recorded.
	DecisionID string `json:"decision_id,omitempty"`
}

// Redaction says which part of a run is attested by digest rather than
// by value, by which rule, and why.
type Redaction struct {
	Field  string `json:"field"`
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

// Check is the predicate of a verify check receipt: the control a check
// evidences, its outcome, and the evidence by digest.
type Check struct {
	ReceiptID        string `json:"receipt_id"`
	EvidenceID       string `json:"evidence_id"`
	TenantID         string `json:"tenant_id"`
	ConnectorID      string `json:"connector_id"`
	ConnectorVersion string `json:"connector_version"`
	ModuleDigest     string `json:"module_digest"`
	Connection       string `json:"connection"`

	Control   string `json:"control"`
	CheckName string `json:"check"`
	Status    string `json:"status"` // CheckPass, CheckFail or CheckError
	ErrorType string `json:"error_type,omitempty"`
	// EvidenceDigests maps each evidence name to "sha256:" + hex of its
	// value.
	EvidenceDigests map[string]string `json:"evidence_digests"`
	// RefusedRequests counts requests the host refused during the check
	// (a read-only check that tried to write is an error, not a pass).
	RefusedRequests int64  `json:"refused_requests"`
	ParamsDigest    string `json:"params_digest"`
	Requester       string `json:"requester"` // API key id, or "system:schedule"
	CorrelationID   string `json:"correlation_id"`
	StartedAt       string `json:"started_at"`
	FinishedAt      string `json:"finished_at"`
}

// ValueDigest is how action and check receipts attest a value they do
// not carry: "sha256:" + lower-case hex of its bytes.
func ValueDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ResultDigest is the subject digest of an action run receipt: SHA-256
// over the RFC 8785 form of {action_id, params_digest, remote_change_ids,
// outputs, status}, so the subject names exactly what the run did.
func (p *ActionRun) ResultDigest() (string, error) {
	return canonicalDigest(map[string]any{
		"action_id": p.ActionID, "params_digest": p.ParamsDigest,
		"remote_change_ids": p.RemoteChangeIDs, "outputs": p.Outputs, "status": p.Status,
	})
}

// ResultDigest is the subject digest of a check receipt: SHA-256 over
// the RFC 8785 form of {control, check, status, evidence_digests}.
func (p *Check) ResultDigest() (string, error) {
	return canonicalDigest(map[string]any{
		"control": p.Control, "check": p.CheckName, "status": p.Status, "evidence_digests": p.EvidenceDigests,
	})
}

func canonicalDigest(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", &PredicateError{Reason: err.Error()}
	}
	if b, err = jcs.Transform(b); err != nil {
		return "", &PredicateError{Reason: err.Error()}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// SignAction signs an action run receipt whose subject is
// "action-run/{run id}" with the run's ResultDigest.
func (s *Signer) SignAction(ctx context.Context, p ActionRun) ([]byte, error) {
	if err := p.normalize(); err != nil {
		return nil, err
	}
	d, err := p.ResultDigest()
	if err != nil {
		return nil, err
	}
	return s.Sign(ctx, PredicateActionRun, []Subject{{Name: "action-run/" + p.RunID, Digest: map[string]string{"sha256": d}}}, p)
}

// SignCheck signs a check receipt whose subject is "evidence/{id}" with
// the check's ResultDigest.
func (s *Signer) SignCheck(ctx context.Context, p Check) ([]byte, error) {
	if err := p.normalize(); err != nil {
		return nil, err
	}
	d, err := p.ResultDigest()
	if err != nil {
		return nil, err
	}
	return s.Sign(ctx, PredicateCheck, []Subject{{Name: "evidence/" + p.EvidenceID, Digest: map[string]string{"sha256": d}}}, p)
}

// Action decodes the predicate of an action run receipt from the
// verified bytes, strictly (no unknown or missing field), checks it as
// SignAction does, and checks that the subject is the run's result.
func (v *Verified) Action() (ActionRun, error) {
	var p ActionRun
	if err := v.strict(PredicateActionRun, "action predicate", &p); err != nil {
		return ActionRun{}, err
	}
	if err := p.normalize(); err != nil {
		return ActionRun{}, &MalformedError{What: "action predicate", Err: err}
	}
	d, err := p.ResultDigest()
	if err != nil {
		return ActionRun{}, err
	}
	if !v.subjectIs("action-run/"+p.RunID, d) {
		return ActionRun{}, malformed("action receipt", "subject is not the result of run %s", clip(p.RunID))
	}
	return p, nil
}

// Check decodes the predicate of a check receipt, strictly, and checks
// that the subject is the check's result.
func (v *Verified) Check() (Check, error) {
	var p Check
	if err := v.strict(PredicateCheck, "check predicate", &p); err != nil {
		return Check{}, err
	}
	if err := p.normalize(); err != nil {
		return Check{}, &MalformedError{What: "check predicate", Err: err}
	}
	d, err := p.ResultDigest()
	if err != nil {
		return Check{}, err
	}
	if !v.subjectIs("evidence/"+p.EvidenceID, d) {
		return Check{}, malformed("check receipt", "subject is not the result of evidence %s", clip(p.EvidenceID))
	}
	return p, nil
}

// strict decodes the predicate into dst: the right type, no field dst
// does not declare, every top-level field of dst present (the signer
// writes them all, so a missing one means another writer).
func (v *Verified) strict(typ, what string, dst any) error {
	if v.PredicateType != typ {
		return malformed("predicate", "type %s is not %q", clip(v.PredicateType), typ)
	}
	dec := json.NewDecoder(bytes.NewReader(v.Predicate))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return &MalformedError{What: what, Err: err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return malformed(what, "data after the predicate")
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(v.Predicate, &present); err != nil {
		return &MalformedError{What: what, Err: err}
	}
	want, err := json.Marshal(dst)
	if err != nil {
		return &MalformedError{What: what, Err: err}
	}
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(want, &fields)
	for name := range fields {
		if _, ok := present[name]; !ok {
			return malformed(what, "missing field %s", clip(name))
		}
	}
	return nil
}

func (v *Verified) subjectIs(name, digest string) bool {
	return len(v.Subject) == 1 && v.Subject[0].Name == name &&
		len(v.Subject[0].Digest) == 1 && v.Subject[0].Digest["sha256"] == digest
}

// normalize fills empty lists and checks p.
func (p *ActionRun) normalize() error {
	if p.Approvers == nil {
		p.Approvers = []Approver{}
	}
	if p.RemoteChangeIDs == nil {
		p.RemoteChangeIDs = []string{}
	}
	if p.Outputs == nil {
		p.Outputs = map[string]string{}
	}
	if p.Redactions == nil {
		p.Redactions = []Redaction{}
	}
	if p.Preflight.RequiredScopes == nil {
		p.Preflight.RequiredScopes = []string{}
	}
	if p.Preflight.GrantedScopes == nil {
		p.Preflight.GrantedScopes = []string{}
	}
	if p.Preflight.Reasons == nil {
		p.Preflight.Reasons = []string{}
	}
	if err := required(map[string]string{
		"receipt_id": p.ReceiptID, "run_id": p.RunID, "tenant_id": p.TenantID,
		"connector_id": p.ConnectorID, "action_id": p.ActionID, "requester": p.Requester,
		"correlation_id": p.CorrelationID,
	}); err != nil {
		return err
	}
	switch p.Status {
	case ActionExecuted, ActionRejected, ActionFailed:
	default:
		return &PredicateError{Field: "status", Reason: fmt.Sprintf("%q is not executed, rejected or failed", p.Status)}
	}
	if p.Status == ActionExecuted && !p.Preflight.Allowed {
		return &PredicateError{Field: "preflight.allowed", Reason: "an executed action must have passed its preflight"}
	}
	if err := checkTimes(p.RequestedAt, p.FinishedAt); err != nil {
		return renameTimeField(err, "requested_at")
	}
	if p.TTLSeconds < 0 || p.TTLSeconds > maxSafeInteger {
		return &PredicateError{Field: "ttl_seconds", Reason: "outside [0, 2^53]"}
	}
	if p.Preflight.RequiredApprovals < 0 || p.Preflight.RequiredApprovals > 2 {
		return &PredicateError{Field: "preflight.required_approvals", Reason: "not 0, 1 or 2"}
	}
	if err := checkDigestString("params_digest", p.ParamsDigest); err != nil {
		return err
	}
	if p.Preflight.Digest != "" {
		if err := checkDigestString("preflight.digest", p.Preflight.Digest); err != nil {
			return err
		}
	}
	for _, k := range sortedKeys(p.Outputs) {
		if err := checkDigestString("outputs."+k, p.Outputs[k]); err != nil {
			return err
		}
	}
	return nil
}

// normalize fills empty maps and checks p.
func (p *Check) normalize() error {
	if p.EvidenceDigests == nil {
		p.EvidenceDigests = map[string]string{}
	}
	if err := required(map[string]string{
		"receipt_id": p.ReceiptID, "evidence_id": p.EvidenceID, "tenant_id": p.TenantID,
		"connector_id": p.ConnectorID, "control": p.Control, "check": p.CheckName,
		"requester": p.Requester, "correlation_id": p.CorrelationID,
	}); err != nil {
		return err
	}
	switch p.Status {
	case CheckPass, CheckFail, CheckError:
	default:
		return &PredicateError{Field: "status", Reason: fmt.Sprintf("%q is not pass, fail or error", p.Status)}
	}
	if p.Status == CheckPass && p.RefusedRequests > 0 {
		return &PredicateError{Field: "status", Reason: "a check the host refused a request cannot pass"}
	}
	if p.RefusedRequests < 0 || p.RefusedRequests > maxSafeInteger {
		return &PredicateError{Field: "refused_requests", Reason: "outside [0, 2^53]"}
	}
	if err := checkTimes(p.StartedAt, p.FinishedAt); err != nil {
		return err
	}
	if err := checkDigestString("params_digest", p.ParamsDigest); err != nil {
		return err
	}
	for _, k := range sortedKeys(p.EvidenceDigests) {
		if err := checkDigestString("evidence_digests."+k, p.EvidenceDigests[k]); err != nil {
			return err
		}
	}
	return nil
}

func required(fields map[string]string) error {
	for _, name := range sortedKeys(fields) {
		if fields[name] == "" {
			return &PredicateError{Field: name, Reason: "required"}
		}
	}
	return nil
}

// checkDigestString accepts "sha256:" + 64 lower-case hex digits.
func checkDigestString(field, d string) error {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 || strings.ToLower(h) != h {
		return &PredicateError{Field: field, Reason: `not "sha256:" + 64 lower-case hex digits`}
	}
	if _, err := hex.DecodeString(h); err != nil {
		return &PredicateError{Field: field, Reason: `not "sha256:" + 64 lower-case hex digits`}
	}
	return nil
}

// renameTimeField makes checkTimes' "started_at" name the predicate's
// own start field.
func renameTimeField(err error, start string) error {
	if pe, ok := err.(*PredicateError); ok && pe.Field == "started_at" {
		return &PredicateError{Field: start, Reason: pe.Reason}
	}
	return err
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
