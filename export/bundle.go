package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gowebpki/jcs"

	"github.com/sluicehq/sluice/receipt"
)

// Format is the format name every bundle carries.
const Format = "sluice-export-bundle/v1"

// MaxBundleSize bounds the bundles Parse and Verify read.
const MaxBundleSize = 512 << 20

// Bundle is an export bundle. Times are RFC 3339 in UTC; every list is
// present (empty, never null) in the JSON.
type Bundle struct {
	Format     string      `json:"format"`
	Tenant     string      `json:"tenant"`
	Role       string      `json:"role"`
	From       string      `json:"from"` // inclusive
	To         string      `json:"to"`   // exclusive
	CreatedAt  string      `json:"created_at"`
	Keys       []Key       `json:"keys"`
	Receipts   []Receipt   `json:"receipts"`
	Objects    []Object    `json:"objects"`
	Redactions []Redaction `json:"redactions"`
	Policies   []Policy    `json:"policies"`
	Decisions  []Decision  `json:"decisions"`
	Lineage    []RunEvent  `json:"lineage"`
	Omitted    []Omission  `json:"omitted"`
}

// Key is a public signing key.
type Key struct {
	ID        string `json:"id"`
	Algorithm string `json:"algorithm"` // "ed25519"
	Public    []byte `json:"public"`    // 32 bytes, base64
	State     string `json:"state"`     // "active" or "retired" when exported
	CreatedAt string `json:"created_at,omitempty"`
	RetiredAt string `json:"retired_at,omitempty"`
}

// Receipt is a stored receipt: the DSSE envelope as the store holds it.
type Receipt struct {
	ID        string          `json:"id"`
	RunID     string          `json:"run_id,omitempty"`
	Kind      string          `json:"kind"`
	CreatedAt string          `json:"created_at"`
	Envelope  json.RawMessage `json:"envelope"`
}

// Object is one committed object: its disclosure, its object digest (the
// payload tree leaf) and the inclusion proof of that leaf under the root
// its receipt signs.
type Object struct {
	ReceiptID  string             `json:"receipt_id"`
	Connection string             `json:"connection"`
	Type       string             `json:"type"`
	Digest     string             `json:"digest"`     // hex object digest
	LeafIndex  int64              `json:"leaf_index"` // in the run's payload tree
	Proof      []string           `json:"proof"`      // hex audit path, leaf to root
	Disclosure receipt.Disclosure `json:"disclosure"`
}

// Redaction says why one field of one object is redacted.
type Redaction struct {
	EntityID string `json:"entity_id"`
	Path     string `json:"path"` // RFC 6901 JSON Pointer into the object's data, e.g. "/email"
	RuleID   string `json:"rule_id"`
	Reason   string `json:"reason"`
	Role     string `json:"role"`
	// DecisionID names the recorded redaction decision (listed under
	// Decisions) the field is redacted by; empty under rules that record
	// none (DefaultRules). Both fields are omitted when empty, so such
	// bundles keep the bytes they had before decisions were named here.
	DecisionID string `json:"decision_id,omitempty"`
	// PIIClass is the field's PII class the decision was asked about; it
	// is set only with DecisionID and empty for an unclassified field, so
	// Verify can recompute the decision's input digest.
	PIIClass string `json:"pii_class,omitempty"`
}

// Policy is the policy reference a receipt signs.
type Policy struct {
	ReceiptID string `json:"receipt_id"`
	ID        string `json:"id"`
	Rule      string `json:"rule"`
	Digest    string `json:"digest"`
}

// Decision is a stored policy decision (CEL policy engine): the ones the
// bundle's ingest receipts reference and the ones its redactions name.
type Decision struct {
	DecisionID string `json:"decision_id"`
	// Kind is the policy kind (policy.Kind*). Bundles made before it was
	// listed lack it; a decision a redaction names must have kind
	// "redaction".
	Kind         string   `json:"kind,omitempty"`
	PolicyDigest string   `json:"policy_digest"`
	InputDigest  string   `json:"input_digest"`
	Result       string   `json:"result"`
	Reasons      []string `json:"reasons"`
}

// Omission is an object a receipt in scope committed that the bundle does
// not disclose: it changed or was deleted since, and the store keeps only
// the latest value. Its digest is still a leaf of the signed tree.
type Omission struct {
	ReceiptID string `json:"receipt_id"`
	EntityID  string `json:"entity_id"`
	Reason    string `json:"reason"` // "changed" or "deleted"
}

// PointerTo returns the RFC 6901 JSON Pointer of a top-level field.
func PointerTo(field string) string {
	return "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(field)
}

// Marshal encodes b as the bundle document (indented JSON, no HTML
// escaping).
func Marshal(b *Bundle) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(b); err != nil {
		return nil, fmt.Errorf("export: encode bundle: %w", err)
	}
	return buf.Bytes(), nil
}

// Parse decodes a bundle document strictly: unknown fields, trailing
// data, a missing list and another format are refused (ErrMalformed).
func Parse(data []byte) (*Bundle, error) {
	if len(data) > MaxBundleSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(data), MaxBundleSize)
	}
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the bundle", ErrMalformed)
	}
	if b.Format != Format {
		return nil, fmt.Errorf("%w: format %.64q, want %q", ErrMalformed, b.Format, Format)
	}
	if err := exactForm(data, &b); err != nil {
		return nil, err
	}
	if b.Keys == nil || b.Receipts == nil || b.Objects == nil || b.Redactions == nil ||
		b.Policies == nil || b.Decisions == nil || b.Lineage == nil || b.Omitted == nil {
		return nil, fmt.Errorf("%w: a list is missing (keys, receipts, objects, redactions, policies, decisions, lineage, omitted)", ErrMalformed)
	}
	return &b, nil
}

// exactForm refuses a document that decodes to b but is not b's own
// form: duplicate keys (encoding/json keeps the last, another reader may
// keep the first), keys in another case (encoding/json matches them
// case-insensitively), or explicit zero values that Marshal omits. What
// Verify checks is then exactly what any JSON reader of the file sees.
func exactForm(data []byte, b *Bundle) error {
	in, err := jcs.Transform(data)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	re, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	out, err := jcs.Transform(re)
	if err != nil || !bytes.Equal(in, out) {
		return fmt.Errorf("%w: not in the bundle's exact form (a duplicate or differently cased key, or an explicit empty field)", ErrMalformed)
	}
	return nil
}
