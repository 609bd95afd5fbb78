package receipt_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/receipt"
)

// counts.dropped is signed when set, and receipts without it keep their
// exact bytes (ingest-receipt.golden.json is unchanged).
func TestIngestDroppedCount(t *testing.T) {
	k := seededKey(t, "golden")
	p := sampleIngest(t)
	p.Counts.Dropped = 7
	env, err := receipt.NewSigner(k).SignIngest(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "ingest-receipt-dropped.golden.json", env)
	v, err := receipt.Verify(env, keySet(t, k))
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Ingest()
	if err != nil {
		t.Fatal(err)
	}
	if got.Counts.Dropped != 7 || !strings.Contains(string(v.Predicate), `"dropped":7`) {
		t.Errorf("dropped = %d in %s", got.Counts.Dropped, v.Predicate)
	}
	pv, err := receipt.Verify(signSample(t, k), keySet(t, k))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(pv.Predicate), "dropped") {
		t.Error("a receipt with nothing dropped names dropped: old receipts would change bytes")
	}

	p.Counts.Dropped = -1
	_, err = receipt.NewSigner(k).SignIngest(context.Background(), p)
	var pe *receipt.PredicateError
	if !errors.As(err, &pe) || pe.Field != "counts.dropped" {
		t.Errorf("negative dropped: %v, want a PredicateError on counts.dropped", err)
	}
}
