package receipt

import (
	"context"
	"fmt"
)

// PredicatePurge is the predicate type of a retention purge receipt (a
// predicate of its own, not an ingest kind: a purge reads nothing from a
// remote and its counts mean something else).
const PredicatePurge = "https://sluice.dev/attestations/retention-purge/v1"

// Purge is the predicate of a purge receipt: which objects of one
// connection and object type the retention sweep removed, under which
// window, as of which instant. Objects are named by their entity ids and
// payload digests only, rolled into a Merkle root (PayloadBuilder, the
// same algorithm as ingest receipts), so an auditor can prove a given
// object was purged without the receipt holding any of its data.
type Purge struct {
	ReceiptID  string `json:"receipt_id"`
	TenantID   string `json:"tenant_id"`
	Connection string `json:"connection"`
	ObjectType string `json:"object_type"`
	// RetentionSeconds is the window applied; Cutoff = PurgedAt minus it:
	// objects last written before Cutoff were purged.
	RetentionSeconds int64  `json:"retention_seconds"`
	Cutoff           string `json:"cutoff"`
	PurgedAt         string `json:"purged_at"`
	// Count objects purged; Root is the Merkle root over (entity id,
	// digest) of each (all zeros for an empty purge, never signed: the
	// sweeper signs only purges that removed something).
	Count int64  `json:"count"`
	Root  string `json:"root"`
	// Edges counts the edges removed with the objects.
	Edges int64 `json:"edges"`
}

// purgeSubject names the subject of a purge receipt.
func purgeSubject(receiptID string) string { return "purge/" + receiptID }

// SignPurge signs a purge receipt whose subject is "purge/{receipt id}"
// with the purged set's Merkle root.
func (s *Signer) SignPurge(ctx context.Context, p Purge) ([]byte, error) {
	if err := p.normalize(); err != nil {
		return nil, err
	}
	return s.Sign(ctx, PredicatePurge, []Subject{{Name: purgeSubject(p.ReceiptID), Digest: map[string]string{"sha256": p.Root}}}, p)
}

// Purge decodes the predicate of a purge receipt from the verified bytes,
// strictly, checks it, and checks that the subject is its root.
func (v *Verified) Purge() (Purge, error) {
	var p Purge
	if err := v.strict(PredicatePurge, "purge predicate", &p); err != nil {
		return Purge{}, err
	}
	if err := p.normalize(); err != nil {
		return Purge{}, &MalformedError{What: "purge predicate", Err: err}
	}
	if !v.subjectIs(purgeSubject(p.ReceiptID), p.Root) {
		return Purge{}, malformed("purge receipt", "subject is not the purged set of %s", clip(p.ReceiptID))
	}
	return p, nil
}

func (p *Purge) normalize() error {
	if err := required(map[string]string{
		"receipt_id": p.ReceiptID, "tenant_id": p.TenantID, "connection": p.Connection, "object_type": p.ObjectType,
	}); err != nil {
		return err
	}
	if err := checkTimes(p.Cutoff, p.PurgedAt); err != nil {
		return err
	}
	if err := checkRoot(p.Root); err != nil {
		return &PredicateError{Field: "root", Reason: "not 64 lower-case hex digits"}
	}
	for _, n := range []namedCount{{"retention_seconds", p.RetentionSeconds}, {"count", p.Count}, {"edges", p.Edges}} {
		if n.value < 0 || n.value > maxSafeInteger {
			return &PredicateError{Field: n.name, Reason: fmt.Sprintf("%d is outside [0, 2^53]", n.value)}
		}
	}
	return nil
}
