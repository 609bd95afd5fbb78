package export

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/receipt"
)

// Report sums up a bundle that verified.
type Report struct {
	Tenant         string
	Role           string
	Keys           int
	Receipts       int
	Objects        int
	RevealedFields int
	RedactedFields int
	Omitted        int
}

// Verify parses and checks a bundle offline and returns the first
// failure as a *VerifyError (ErrVerification), or ErrMalformed for a
// document that is not a bundle. With trusted keys, receipts must be
// signed by one of them (the bundle's own keys are then only checked to
// be consistent); with nil, the bundle's keys are trusted, which proves
// the bundle is intact but not who made it: pass keys obtained out of
// band (GET /v1/signing-keys, `sluice keys list --pem`) to prove that.
//
// In order: keys (id = KeyID of the public key); receipts (signature,
// ids, tenant, signed finish time within [from, to)); objects (every
// revealed value against its field digest, the object digest from the
// field digests, the inclusion proof against the receipt's signed root);
// redaction metadata (exactly one entry, with rule id, reason and the
// bundle's role, per redacted field, and none for anything else);
// policies (equal to what each receipt signs); decisions (complete;
// those the receipts reference present with the signed policy digest;
// the one a redaction names by decision_id present, of kind redaction,
// result redact, with the input digest of that redaction's field);
// lineage (each event names an ingest run of the bundle, with its signed
// time and status).
func Verify(data []byte, trusted receipt.KeySet) (*Report, error) {
	b, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return VerifyBundle(b, trusted)
}

// VerifyBundle is Verify over a parsed bundle.
func VerifyBundle(b *Bundle, trusted receipt.KeySet) (*Report, error) {
	rep := &Report{Tenant: b.Tenant, Role: b.Role, Keys: len(b.Keys), Receipts: len(b.Receipts), Objects: len(b.Objects), Omitted: len(b.Omitted)}
	from, err1 := time.Parse(time.RFC3339Nano, b.From)
	to, err2 := time.Parse(time.RFC3339Nano, b.To)
	if err := errors.Join(err1, err2); err != nil || !to.After(from) {
		return nil, &VerifyError{Part: PartBundle, Reason: "from and to are not an RFC 3339 range", Err: err}
	}
	if b.Tenant == "" || b.Role == "" {
		return nil, &VerifyError{Part: PartBundle, Reason: "tenant and role are required"}
	}
	keys, err := checkKeys(b.Keys)
	if err != nil {
		return nil, err
	}
	if trusted != nil {
		keys = trusted
	}
	ingests, err := checkReceipts(b, keys, from, to)
	if err != nil {
		return nil, err
	}
	redacted, err := checkObjects(b, ingests, rep)
	if err != nil {
		return nil, err
	}
	if err := checkRedactions(b, redacted); err != nil {
		return nil, err
	}
	if err := checkPolicies(b, ingests); err != nil {
		return nil, err
	}
	if err := checkDecisions(b, ingests); err != nil {
		return nil, err
	}
	if err := checkLineage(b, ingests); err != nil {
		return nil, err
	}
	return rep, nil
}

func checkKeys(keys []Key) (receipt.KeySet, error) {
	ks := receipt.KeySet{}
	for _, k := range keys {
		fail := func(reason string, err error) error {
			return &VerifyError{Part: PartKey, ID: strconv.Quote(clip(k.ID)), Reason: reason, Err: err}
		}
		if k.Algorithm != "ed25519" || len(k.Public) != ed25519.PublicKeySize {
			return nil, fail("not a 32-byte ed25519 public key", nil)
		}
		if id := receipt.KeyID(k.Public); id != k.ID {
			return nil, fail("id does not match its public key ("+id+")", nil)
		}
		if _, dup := ks[k.ID]; dup {
			return nil, fail("listed twice", nil)
		}
		if _, err := ks.Add(k.Public); err != nil {
			return nil, fail("unusable", err)
		}
	}
	return ks, nil
}

func checkReceipts(b *Bundle, keys receipt.KeySet, from, to time.Time) (map[string]receipt.Ingest, error) {
	ingests := map[string]receipt.Ingest{}
	seen := map[string]bool{}
	for _, r := range b.Receipts {
		fail := func(reason string, err error) error {
			return &VerifyError{Part: PartReceipt, ID: clip(r.ID), Reason: reason, Err: err}
		}
		if seen[r.ID] {
			return nil, fail("listed twice", nil)
		}
		seen[r.ID] = true
		created, err := time.Parse(time.RFC3339Nano, r.CreatedAt)
		if err != nil || created.Before(from) || !created.Before(to) {
			return nil, fail("created_at is not within the bundle's range", err)
		}
		v, err := receipt.Verify(r.Envelope, keys)
		if err != nil {
			return nil, fail("envelope does not verify", err)
		}
		if v.PredicateType != receipt.PredicateIngest {
			continue
		}
		p, err := v.Ingest()
		if err != nil {
			return nil, fail("bad ingest predicate", err)
		}
		switch {
		case p.ReceiptID != r.ID || p.RunID != r.RunID:
			return nil, fail("receipt or run id differs from the signed one", nil)
		case p.TenantID != b.Tenant:
			return nil, fail("signed for tenant "+strconv.Quote(clip(p.TenantID)), nil)
		}
		finished, err := time.Parse(time.RFC3339Nano, p.FinishedAt)
		if err != nil || finished.Before(from) || !finished.Before(to) {
			return nil, fail("signed finished_at is not within the bundle's range", err)
		}
		ingests[r.ID] = p
	}
	return ingests, nil
}

// checkObjects returns the redacted fields as entity id → pointer → seen.
func checkObjects(b *Bundle, ingests map[string]receipt.Ingest, rep *Report) (map[string]map[string]bool, error) {
	redacted := map[string]map[string]bool{}
	for i, o := range b.Objects {
		d := o.Disclosure
		id := clip(d.EntityID)
		if id == "" {
			id = "#" + strconv.Itoa(i)
		}
		fail := func(part, reason string, err error) error {
			return &VerifyError{Part: part, ID: id, Receipt: clip(o.ReceiptID), Reason: reason, Err: err}
		}
		if redacted[d.EntityID] != nil {
			return nil, fail(PartObject, "listed twice", nil)
		}
		p, ok := ingests[o.ReceiptID]
		if !ok {
			return nil, fail(PartObject, "names no ingest receipt of the bundle", nil)
		}
		fields, err := d.FieldDigests()
		if err != nil {
			var de *receipt.DisclosureError
			if errors.As(err, &de) && de.Field != "" {
				return nil, &VerifyError{Part: PartField, ID: id, Field: clip(de.Field), Receipt: clip(o.ReceiptID), Reason: de.Reason, Err: de.Err}
			}
			return nil, fail(PartObject, "bad disclosure", err)
		}
		digest, err := receipt.ObjectDigestFromFieldDigests(d.EntityID, fields)
		if err != nil {
			return nil, fail(PartObject, "bad disclosure", err)
		}
		if hex.EncodeToString(digest[:]) != o.Digest {
			return nil, fail(PartObject, "field digests do not give the object digest", nil)
		}
		path := make([][32]byte, len(o.Proof))
		for j, h := range o.Proof {
			if path[j], err = receipt.ParseDigest(h); err != nil {
				return nil, fail(PartProof, fmt.Sprintf("node %d", j), err)
			}
		}
		root, err := receipt.ParseRoot(p.Payload.Root)
		if err != nil {
			return nil, fail(PartProof, "receipt's root", err)
		}
		if err := receipt.VerifyInclusion(digest, o.LeafIndex, p.Payload.Count, path, root); err != nil {
			return nil, fail(PartProof, fmt.Sprintf("leaf %d of %d does not lead to the signed root", o.LeafIndex, p.Payload.Count), err)
		}
		set := map[string]bool{}
		for name, f := range d.Fields {
			if f.Revealed() {
				rep.RevealedFields++
			} else {
				rep.RedactedFields++
				set[PointerTo(name)] = false
			}
		}
		redacted[d.EntityID] = set
	}
	return redacted, nil
}

func checkRedactions(b *Bundle, redacted map[string]map[string]bool) error {
	for _, r := range b.Redactions {
		fail := func(reason string) error {
			return &VerifyError{Part: PartRedaction, ID: clip(r.EntityID), Field: clip(r.Path), Reason: reason}
		}
		set := redacted[r.EntityID]
		done, ok := set[r.Path]
		switch {
		case !ok:
			return fail("names no redacted field of an object in the bundle")
		case done:
			return fail("listed twice")
		case r.RuleID == "" || r.Reason == "":
			return fail("no rule id or reason")
		case r.Role != b.Role:
			return fail("role " + strconv.Quote(clip(r.Role)) + " is not the bundle's role")
		case r.PIIClass != "" && r.DecisionID == "":
			return fail("pii_class without decision_id") // nothing would check it
		}
		set[r.Path] = true
	}
	for _, o := range b.Objects {
		for _, name := range o.Disclosure.Redacted() {
			if !redacted[o.Disclosure.EntityID][PointerTo(name)] {
				return &VerifyError{Part: PartRedaction, ID: clip(o.Disclosure.EntityID), Field: clip(PointerTo(name)), Reason: "redacted field has no redaction metadata"}
			}
		}
	}
	return nil
}

func checkPolicies(b *Bundle, ingests map[string]receipt.Ingest) error {
	listed := map[string]bool{}
	for _, p := range b.Policies {
		in, ok := ingests[p.ReceiptID]
		fail := func(reason string) error {
			return &VerifyError{Part: PartPolicy, ID: clip(p.ID), Receipt: clip(p.ReceiptID), Reason: reason}
		}
		switch {
		case !ok:
			return fail("names no ingest receipt of the bundle")
		case listed[p.ReceiptID]:
			return fail("listed twice")
		case p.ID != in.Policy.ID || p.Rule != in.Policy.Rule || p.Digest != in.Policy.Digest:
			return fail("differs from the policy the receipt signs")
		}
		listed[p.ReceiptID] = true
	}
	for id, in := range ingests {
		if !listed[id] {
			return &VerifyError{Part: PartPolicy, ID: clip(in.Policy.ID), Receipt: clip(id), Reason: "the receipt's policy is not listed"}
		}
	}
	return nil
}

// checkDecisions: every decision complete, of a known kind when it says
// one, and listed once; every ingest receipt whose policy reference names
// a decision (id "dec-…") finds it in the bundle with the policy digest
// the receipt signs; and every redaction that names a decision is
// justified by it (checkRedactionDecisions).
func checkDecisions(b *Bundle, ingests map[string]receipt.Ingest) error {
	byID := map[string]Decision{}
	for i, d := range b.Decisions {
		if d.DecisionID == "" || d.PolicyDigest == "" || d.InputDigest == "" || d.Result == "" {
			return &VerifyError{Part: PartDecision, ID: "#" + strconv.Itoa(i), Reason: "decision_id, policy_digest, input_digest and result are required"}
		}
		if d.Kind != "" && !slices.Contains(policy.Kinds(), d.Kind) {
			return &VerifyError{Part: PartDecision, ID: clip(d.DecisionID), Reason: "unknown kind " + strconv.Quote(clip(d.Kind))}
		}
		if _, dup := byID[d.DecisionID]; dup {
			return &VerifyError{Part: PartDecision, ID: clip(d.DecisionID), Reason: "listed twice"}
		}
		byID[d.DecisionID] = d
	}
	for _, r := range b.Receipts { // in bundle order: the first failure is named
		id := r.ID
		in, ok := ingests[id]
		if !ok || !strings.HasPrefix(in.Policy.ID, decisionPrefix) {
			continue
		}
		d, ok := byID[in.Policy.ID]
		switch {
		case !ok:
			return &VerifyError{Part: PartDecision, ID: clip(in.Policy.ID), Receipt: clip(id), Reason: "the decision the receipt references is not in the bundle"}
		case d.PolicyDigest != in.Policy.Digest:
			return &VerifyError{Part: PartDecision, ID: clip(in.Policy.ID), Receipt: clip(id), Reason: "policy_digest differs from the one the receipt signs"}
		}
	}
	return checkRedactionDecisions(b, ingests, byID)
}

// checkRedactionDecisions: a redaction that names a decision is justified
// by it. The decision is listed, of kind redaction, says redact, and its
// input digest is the one policy.DecideRedaction records for this field:
// the bundle's tenant and role, the connector its object's receipt signs,
// the object's type, the field the path names and the redaction's
// pii_class. So a decision about another field, role or class, or one
// that revealed, cannot stand in for it. checkRedactions has already
// tied each redaction to a redacted field of an object in the bundle.
func checkRedactionDecisions(b *Bundle, ingests map[string]receipt.Ingest, byID map[string]Decision) error {
	objects := make(map[string]Object, len(b.Objects))
	for _, o := range b.Objects {
		objects[o.Disclosure.EntityID] = o
	}
	for _, r := range b.Redactions {
		if r.DecisionID == "" {
			continue
		}
		fail := func(reason string) error {
			return &VerifyError{Part: PartRedaction, ID: clip(r.EntityID), Field: clip(r.Path), Reason: "decision " + clip(r.DecisionID) + " " + reason}
		}
		d, ok := byID[r.DecisionID]
		o := objects[r.EntityID]
		in := policy.RedactionInput{Role: r.Role, Connector: ingests[o.ReceiptID].ConnectorID, ObjectType: o.Type,
			Field: fieldName(r.Path), PIIClass: r.PIIClass}
		switch {
		case !ok:
			return fail("is not in the bundle")
		case d.Kind != policy.KindRedaction:
			return fail("is of kind " + strconv.Quote(clip(d.Kind)) + ", not redaction")
		case d.Result != policy.ResultRedact:
			return fail("has result " + strconv.Quote(clip(d.Result)) + ", not redact")
		case d.InputDigest != policy.RedactionInputDigest(b.Tenant, in):
			return fail("input_digest is not that of this field (tenant, role, connector, object type, field, pii_class)")
		}
	}
	return nil
}

// fieldName is the top-level field a PointerTo pointer names.
func fieldName(pointer string) string {
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(strings.TrimPrefix(pointer, "/"))
}

func checkLineage(b *Bundle, ingests map[string]receipt.Ingest) error {
	byRun := map[string]receipt.Ingest{}
	for _, in := range ingests {
		byRun[in.RunID] = in
	}
	for i, ev := range b.Lineage {
		fail := func(reason string) error {
			return &VerifyError{Part: PartLineage, ID: "#" + strconv.Itoa(i) + " run " + clip(ev.Run.RunID), Reason: reason}
		}
		in, ok := byRun[ev.Run.RunID]
		want := EventComplete
		if in.Status != receipt.StatusSucceeded {
			want = EventFail
		}
		switch {
		case !ok:
			return fail("names no ingest run of the bundle")
		case ev.EventType != want:
			return fail("eventType " + strconv.Quote(clip(ev.EventType)) + " does not match the signed status")
		case ev.EventTime != in.FinishedAt:
			return fail("eventTime differs from the signed finished_at")
		case ev.Job.Namespace != jobNamespace(b.Tenant) || ev.Job.Name != in.Connection+"."+in.Kind:
			return fail("job does not match the signed connection and kind")
		case ev.Run.Facets.Lineage.ReceiptID != in.ReceiptID:
			return fail("sluice_lineage facet names another receipt")
		}
	}
	return nil
}

// clip cuts an id from the bundle for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
