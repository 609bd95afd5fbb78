package receipt_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/receipt"
)

func samplePurge() receipt.Purge {
	return receipt.Purge{
		ReceiptID: "purge-0193a000-0000-7000-8000-000000000001", TenantID: "acme", Connection: "dir", ObjectType: "user",
		RetentionSeconds: 30 * 86400, Cutoff: "2025-01-01T00:00:00Z", PurgedAt: "2025-01-31T00:00:00Z",
		Count: 2, Root: strings.Repeat("ab", 32), Edges: 3,
	}
}

func TestSignPurgeGoldenAndVerify(t *testing.T) {
	k := seededKey(t, "golden")
	env, err := receipt.NewSigner(k).SignPurge(context.Background(), samplePurge())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "purge-receipt.golden.json", env)
	v, err := receipt.Verify(env, keySet(t, k))
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Purge()
	if err != nil {
		t.Fatal(err)
	}
	if got != samplePurge() {
		t.Errorf("Purge() = %+v", got)
	}
	if _, err := v.Ingest(); err == nil {
		t.Error("a purge receipt decoded as an ingest receipt")
	}
}

func TestSignPurgeRefusesBadPredicates(t *testing.T) {
	s := receipt.NewSigner(seededKey(t, "signer"))
	for _, tc := range []struct {
		field string
		edit  func(*receipt.Purge)
	}{
		{"receipt_id", func(p *receipt.Purge) { p.ReceiptID = "" }},
		{"object_type", func(p *receipt.Purge) { p.ObjectType = "" }},
		{"root", func(p *receipt.Purge) { p.Root = "xyz" }},
		{"count", func(p *receipt.Purge) { p.Count = -1 }},
		{"edges", func(p *receipt.Purge) { p.Edges = -2 }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			p := samplePurge()
			tc.edit(&p)
			_, err := s.SignPurge(context.Background(), p)
			var pe *receipt.PredicateError
			if !errors.As(err, &pe) || pe.Field != tc.field {
				t.Errorf("err = %v, want a PredicateError on %s", err, tc.field)
			}
		})
	}
}
