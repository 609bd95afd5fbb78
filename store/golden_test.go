package store

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current format")

// allKinds is every record kind of doc.go; the golden test fails if one of
// them is not covered, so a new kind cannot skip its golden file.
var allKinds = []string{
	kObject, kTypeIndex, kMember, kEdge, kLineage, kCheckpoint, kRun, kRunTime, kRunConn,
	kRunActive, kManifest, kStaged, kSweep, kReceipt, kTape, kSecret, kKey,
	kDLQItem, kDLQConn, kDLQTape, kDLQRemoval,
	kActionRun, kActionRunConn, kActionIdem, kActionDue, kActionPolicy, kEvidence, kCheckSched, kCheckDue,
	kPolicy, kDecision,
}

// writeGoldenScenario writes a fixed set of records covering every kind.
func writeGoldenScenario(t *testing.T, db *DB) {
	ctx := context.Background()
	tn := tenant(t, db, "acme")
	a := obj(tn, "contact", "1001", `{"email":"ada@example.com","name":"Ada <Admin>"}`)
	b := obj(tn, "contact", "1002", `{"name":"Bob"}`)
	c := obj(tn, "contact", "1003", `{"name":"Cy"}`)
	x := obj(tn, "company", "77", `{"name":"Acme & Co"}`)
	x.CreatedAt = "2020-05-06T07:08:09Z"
	r1 := run("r1", "c1")
	r1.CursorsIn = map[string]string{"contacts": ""}
	r1.Cursors = map[string]string{"contacts": "p1"}
	r1.Counts = Counts{Read: 4}
	commit(t, tn, Page{
		Connection: "c1", Run: r1, Objects: []Object{a, b, c, x},
		Edges: []Edge{edge(a, x, "works_at")},
		Lineage: []Lineage{
			{EntityID: a.EntityID, SourceObjectID: "1001", ObjectType: "contact", Confidence: 1, ObservedAt: t0},
			{EntityID: a.EntityID, SourceObjectID: "77", ObjectType: "company", EdgeType: "works_at", Confidence: 0.5, ObservedAt: t0},
		},
		Checkpoint: Checkpoint{Stream: "contacts", Kind: "sync", Cursor: "p1", UpdatedAt: t0},
	})
	r1.Counts.Created = 4 // as CommitPage counted it
	r1.State, r1.FinishedAt = RunSucceeded, t0.Add(time.Minute)
	r1.ReceiptID = "rcpt-r1"
	mustNil(t, tn.PutRun(ctx, r1))

	r2 := run("r2", "c1")
	r2.Kind, r2.StartedAt = "backfill", t0.Add(time.Hour)
	r2.Range = &protocol.Range{From: "2020-01-01T00:00:00Z", To: "2021-01-01T00:00:00Z"}
	r2.Errors = []RunError{{Type: "rate_limited", Message: "429 from remote", Count: 2}}
	commit(t, tn, Page{
		Connection: "c1", Run: r2,
		Objects:    []Object{a, withData(x, `{"name":"Acme & Co."}`)},
		Deletions:  []string{b.EntityID},
		Checkpoint: Checkpoint{Stream: "contacts", Kind: "backfill", Cursor: "2020-06", UpdatedAt: t0.Add(time.Hour)},
	})
	// A sweep interrupted before its edge pass leaves a journal entry.
	s := sweeper{t: tn, conn: "c1", run: "r2", at: t0.Add(2 * time.Hour)}
	prefix := tn.prefixOf(kTypeIndex, "c1", "contact")
	mustNil(t, s.drop(ctx, [][]byte{tn.key(kTypeIndex, "c1", "contact", c.EntityID)}, len(prefix), "contact"))

	mustNil(t, tn.PutReceipt(ctx, Receipt{ID: "rcpt-r1", RunID: "r1", Kind: "ingest",
		Envelope: []byte(`{"payloadType":"application/vnd.in-toto+json"}`), CreatedAt: t0.Add(time.Minute)}))
	mustNil(t, tn.PutTape(ctx, "r1", []byte(`{"version":1,"run_id":"r1"}`)))
	mustNil(t, tn.PutSecret(ctx, "c1", "default", []byte{0x00, 0x01, 0xfe, 's', 'e', 'a', 'l'}))
	mustNil(t, tn.PutKey(ctx, "salt", []byte("k-32-bytes-of-key-material-here!")))
	writeDLQGolden(t, tn)
	writeActionsGolden(t, tn)
	writePoliciesGolden(t, tn)
}

func TestGolden(t *testing.T) {
	db := openDB(t)
	writeGoldenScenario(t, db)
	byKind := map[string][]string{}
	for _, kv := range dump(t, db) {
		seg := strings.SplitN(kv, "/", 4) // t, acme, kind, rest
		if len(seg) < 4 || seg[0] != "t" || seg[1] != "acme" {
			t.Fatalf("unexpected key %s", kv)
		}
		byKind[seg[2]] = append(byKind[seg[2]], kv)
	}
	for _, k := range allKinds {
		if len(byKind[strings.TrimSuffix(k, "/")]) == 0 {
			t.Errorf("golden scenario writes no %q record", k)
		}
	}
	dir := filepath.Join("testdata", "golden")
	if *update {
		mustNil(t, os.RemoveAll(dir))
		mustNil(t, os.MkdirAll(dir, 0o755))
	}
	for kind, lines := range byKind {
		path := filepath.Join(dir, kind+".txt")
		got := strings.Join(lines, "\n") + "\n"
		if *update {
			mustNil(t, os.WriteFile(path, []byte(got), 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go test ./store -run TestGolden -update)", err)
			continue
		}
		if got != string(want) {
			t.Errorf("%s differs from the stored format:\n--- got\n%s--- want\n%s", path, got, want)
		}
	}
	// A golden file for a kind the store no longer writes is stale.
	files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	for _, f := range files {
		if _, ok := byKind[strings.TrimSuffix(filepath.Base(f), ".txt")]; !ok {
			t.Errorf("stale golden file %s", f)
		}
	}
}
