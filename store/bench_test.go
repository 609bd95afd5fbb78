package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

const benchPageSize = 500

// benchPage builds page i of 500 objects of ~400 bytes of data each, with
// its checkpoint and run record, like a sync page of the engine.
func benchPage(tn *Tenant, i int) Page {
	p := Page{
		Connection: "c1", Run: run("bench-run", "c1"),
		Objects:    make([]Object, benchPageSize),
		Checkpoint: Checkpoint{Stream: "contacts", Kind: "sync", Cursor: fmt.Sprint("cursor-", i), UpdatedAt: t0},
	}
	for j := range p.Objects {
		data := fmt.Sprintf(`{"email":"user%d.%d@example.com","name":"User %d","title":"Engineer","company":"Acme Corporation","address":{"street":"1 Infinite Loop","city":"Cupertino","zip":"95014"},"tags":["a","b","c"],"notes":"%0200d"}`, i, j, j, j)
		p.Objects[j] = obj(tn, "contact", fmt.Sprintf("%d-%d", i, j), data)
	}
	return p
}

func BenchmarkCommitPage(b *testing.B) {
	ctx := context.Background()
	b.Run("new", func(b *testing.B) {
		tn := tenant(b, openBenchDB(b), "acme")
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			p := benchPage(tn, i)
			b.StartTimer()
			if _, err := tn.CommitPage(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
		reportObjects(b)
	})
	b.Run("unchanged", func(b *testing.B) {
		tn := tenant(b, openBenchDB(b), "acme")
		p := benchPage(tn, 0)
		if _, err := tn.CommitPage(ctx, p); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			res, err := tn.CommitPage(ctx, p)
			if err != nil || res.Skipped != benchPageSize {
				b.Fatalf("%+v, %v", res, err)
			}
		}
		reportObjects(b)
	})
	// The floor: the same object records, pre-encoded, through a raw
	// Badger WriteBatch (no reads, no indexes, no manifest, no txn).
	b.Run("raw-writebatch", func(b *testing.B) {
		db := openBenchDB(b)
		tn := tenant(b, db, "acme")
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			p := benchPage(tn, i)
			keys, vals := make([][]byte, len(p.Objects)), make([][]byte, len(p.Objects))
			for j := range p.Objects {
				keys[j] = tn.key(kObject, p.Objects[j].EntityID)
				var err error
				if vals[j], err = marshal(&p.Objects[j]); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			wb := db.Badger().NewWriteBatch()
			for j := range keys {
				if err := wb.Set(keys[j], vals[j]); err != nil {
					b.Fatal(err)
				}
			}
			if err := wb.Flush(); err != nil {
				b.Fatal(err)
			}
		}
		reportObjects(b)
	})
}

func openBenchDB(b *testing.B) *DB {
	db, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

func reportObjects(b *testing.B) {
	b.ReportMetric(float64(b.N*benchPageSize)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkObjectsList measures a listing page through the type index.
func BenchmarkObjectsList(b *testing.B) {
	ctx := context.Background()
	tn := tenant(b, openBenchDB(b), "acme")
	for i := range 4 {
		if _, err := tn.CommitPage(ctx, benchPage(tn, i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		objs, _, err := tn.Objects(ctx, ListOptions{Connection: "c1", Type: "contact", Limit: 100})
		if err != nil || len(objs) != 100 {
			b.Fatal(len(objs), err)
		}
	}
}

var _ = badger.ErrTxnTooBig // the raw baseline uses Badger directly
