package export_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/store"
)

// countingPolicies is the real policy service, counting its redaction
// evaluations: decision ids are content addressed (the store keeps the
// first write of an id), so the store alone cannot tell one evaluation
// per input from one per object.
type countingPolicies struct {
	*policy.Service
	evals atomic.Int64
}

func (c *countingPolicies) DecideRedaction(ctx context.Context, t *store.Tenant, in policy.RedactionInput) (policy.Decision, policy.Verdict, error) {
	c.evals.Add(1)
	return c.Service.DecideRedaction(ctx, t, in)
}

// storedDecisions lists the ids of the tenant's recorded decisions, read
// from Badger by the store's documented layout (t/{tenant}/dec/{id}).
func storedDecisions(t testing.TB, db *store.DB, tenant string) []string {
	t.Helper()
	prefix := []byte("t/" + tenant + "/dec/")
	var ids []string
	err := db.Badger().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			ids = append(ids, string(bytes.TrimPrefix(it.Item().Key(), prefix)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestPolicyDecisionsOncePerInput: a bundle of many objects of one type
// evaluates the tenant's redaction policy once per distinct input
// (tenant, role, connector, type, field, class), not once per object;
// the store holds those decisions, the bundle lists exactly them, every
// redaction names one of them, the bundle verifies, and building it again
// gives the same bytes (the memo is per bundle: the second bundle
// evaluates again).
func TestPolicyDecisionsOncePerInput(t *testing.T) {
	const more = 50
	// The seeded users' four manifest fields plus u-2's unclassified
	// "nickname": five distinct inputs per role, whatever the count.
	const distinct = 5
	for _, tc := range []struct {
		role     string
		redacted int // redaction entries in the bundle
	}{
		{export.RoleAuditor, 3*(len(seededUsers)+more) + 1}, // email, id, name; nickname
		{export.RoleAdmin, len(seededUsers) + more},         // email (acme/no-email)
	} {
		t.Run(tc.role, func(t *testing.T) {
			ctx := context.Background()
			pols := &countingPolicies{Service: policy.New(policy.Config{})}
			w := seedMany(t, more, pols.Service)
			x := newExporter(t, w.db, export.PolicyRules{Store: w.db, Policies: pols})
			scope := export.Scope{Tenant: "acme", From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Role: tc.role}
			b, err := x.Export(ctx, scope)
			if err != nil {
				t.Fatal(err)
			}
			if n := pols.evals.Load(); n != distinct {
				t.Fatalf("%d policy evaluations for %d objects, want %d (one per distinct input)", n, len(b.Objects), distinct)
			}
			stored := storedDecisions(t, w.db, "acme")
			if len(stored) != distinct {
				t.Fatalf("store holds %d decisions %v, want %d", len(stored), stored, distinct)
			}
			listed := map[string]export.Decision{}
			for _, d := range b.Decisions {
				if !slices.Contains(stored, d.DecisionID) {
					t.Errorf("bundle lists decision %s the store does not hold", d.DecisionID)
				}
				listed[d.DecisionID] = d
			}
			if len(listed) != distinct {
				t.Fatalf("bundle lists %d decisions, want %d", len(listed), distinct)
			}
			if len(b.Redactions) != tc.redacted {
				t.Fatalf("%d redactions, want %d", len(b.Redactions), tc.redacted)
			}
			for _, r := range b.Redactions {
				if d := listed[r.DecisionID]; d.Kind != policy.KindRedaction || d.Result != policy.ResultRedact {
					t.Fatalf("redaction %+v does not name a listed redact decision", r)
				}
			}
			doc, err := export.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := export.Verify(doc, nil); err != nil {
				t.Fatalf("bundle does not verify: %v", err)
			}

			again, err := x.Export(ctx, scope)
			if err != nil {
				t.Fatal(err)
			}
			doc2, err := export.Marshal(again)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(doc, doc2) {
				t.Fatal("the same export built twice differs")
			}
			if n := pols.evals.Load(); n != 2*distinct {
				t.Fatalf("%d evaluations after two bundles, want %d (the memo is per bundle)", n, 2*distinct)
			}
			if n := len(storedDecisions(t, w.db, "acme")); n != distinct {
				t.Fatalf("store holds %d decisions after two bundles, want %d", n, distinct)
			}
		})
	}
}

// TestExportCancelled: an export whose context ends fails with
// context.Canceled, before it starts or while it decides fields; the
// policy rules decide under the export's context, so a cancelled export
// records no decision.
func TestExportCancelled(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy bool
		during bool // cancel when the first object's field classes are read, just before its fields are decided
	}{
		{"default rules, cancelled before", false, false},
		{"default rules, cancelled during", false, true},
		{"policy rules, cancelled before", true, false},
		{"policy rules, cancelled during", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := seed(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var rules export.Rules = export.DefaultRules{}
			if tc.policy {
				rules = export.PolicyRules{Store: w.db, Policies: policy.New(policy.Config{})}
			}
			classes := export.ManifestClasses(dirManifest)
			if tc.during {
				lookup := classes
				classes = func(ctx context.Context, connector, version, objectType string) (map[string]string, error) {
					cancel()
					return lookup(ctx, connector, version, objectType)
				}
			} else {
				cancel()
			}
			x, err := export.New(export.Config{Store: w.db, Rules: rules, Classes: classes})
			if err != nil {
				t.Fatal(err)
			}
			_, err = x.Export(ctx, export.Scope{Tenant: "acme", From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Role: export.RoleAuditor})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Export = %v, want context.Canceled", err)
			}
			if ids := storedDecisions(t, w.db, "acme"); len(ids) != 0 {
				t.Fatalf("a cancelled export recorded decisions %v", ids)
			}
		})
	}
}
